"""SOQL queries against the Salesforce emulator through simple-salesforce: filters,
ordering, COUNT(), errors, batches with nextRecordsUrl, queryAll and the recycle bin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from nexasync.sandbox._http import ServerThread
from nexasync.sandbox._http import TestCA as SandboxCA
from nexasync.sandbox.salesforce import SalesforceEmulator

START = datetime(2026, 3, 15, 10, 0, tzinfo=timezone.utc)
BATCH_200 = {"Sforce-Query-Options": "batchSize=200"}
PEOPLE = [
    {"FirstName": "Ada", "LastName": "Lovelace", "Company": "Engines", "Email": "ada@example.com",
     "Status": "Working - Contacted", "Expected_Amount__c": 5000, "LeadSource": "Web"},
    {"FirstName": "Grace", "LastName": "Hopper", "Company": "Navy", "Email": "grace@navy.mil",
     "Expected_Amount__c": 12000.5, "LeadSource": "Phone Inquiry"},
    {"LastName": "O'Brien", "Company": "Pub_Co 100%"},
    {"FirstName": "Alan", "LastName": "Turing", "Company": "Bletchley",
     "Email": "alan@example.com", "Status": "Closed - Not Converted", "NumberOfEmployees": 12},
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[SalesforceEmulator, ServerThread, SandboxCA]]:
    ca = SandboxCA(tmp_path_factory.mktemp("sf-ca"))
    emu = SalesforceEmulator()
    with ServerThread(emu, ca=ca) as server:
        yield emu, server, ca


@pytest.fixture
def emu(served: tuple[SalesforceEmulator, ServerThread, SandboxCA]) -> SalesforceEmulator:
    emu = served[0]
    emu.clock = lambda: datetime.now(timezone.utc)
    emu.reset()
    return emu


@pytest.fixture
def sf(served: tuple[SalesforceEmulator, ServerThread, SandboxCA],
       emu: SalesforceEmulator) -> Salesforce:
    _, server, ca = served
    session = requests.Session()
    session.verify = str(ca.ca_bundle)
    session.trust_env = False  # a CA bundle from the environment would override verify
    return Salesforce(instance_url=server.url, session_id=emu.issue_session(), session=session)


@pytest.fixture
def people(emu: SalesforceEmulator) -> dict[str, str]:
    """LastName -> id; the n-th person was last modified at 10:0n."""
    ids = {}
    for i, fields in enumerate(PEOPLE):
        emu.clock = lambda i=i: START + timedelta(minutes=i)
        ids[fields["LastName"]] = emu.add_lead(**fields)
    emu.clock = lambda: START + timedelta(hours=1)
    return ids


def names(sf: Salesforce, soql: str) -> list[str]:
    return [r["LastName"] for r in sf.query(soql)["records"]]


@pytest.mark.parametrize(("where", "expected"), [
    ("LastName = 'lovelace'", {"Lovelace"}),
    ("Email = null", {"O'Brien"}),
    ("Email != null", {"Lovelace", "Hopper", "Turing"}),
    ("Email != 'ADA@example.com'", {"Hopper", "O'Brien", "Turing"}),
    ("LastName IN ('Hopper', 'turing')", {"Hopper", "Turing"}),
    ("LastName NOT IN ('Hopper')", {"Lovelace", "O'Brien", "Turing"}),
    ("Email LIKE '%@EXAMPLE.com'", {"Lovelace", "Turing"}),
    ("Company LIKE 'Pub\\_Co 100\\%'", {"O'Brien"}),
    ("Company LIKE 'P_b%'", {"O'Brien"}),
    ("Company LIKE 'Pub\\_Co 1'", set()),
    ("LastName = 'O\\'Brien'", {"O'Brien"}),
    ("Expected_Amount__c > 5000", {"Hopper"}),
    ("Expected_Amount__c >= 5000.0", {"Lovelace", "Hopper"}),
    ("Expected_Amount__c < 6000", {"Lovelace"}),
    ("NumberOfEmployees = 12", {"Turing"}),
    ("LastModifiedDate >= 2026-03-15T10:02:00Z", {"O'Brien", "Turing"}),
    ("LastModifiedDate < 2026-03-15T10:01:00.000+0000", {"Lovelace"}),
    ("SystemModstamp > 2026-03-15T11:01:30+01:00", {"O'Brien", "Turing"}),
    ("(Status = 'Working - Contacted' OR Status = 'Closed - Not Converted') "
     "AND Email LIKE '%example%'", {"Lovelace", "Turing"}),
    ("Status = 'Open - Not Contacted' AND (Email = null OR LeadSource = 'Phone Inquiry')",
     {"Hopper", "O'Brien"}),
    ("NOT (LeadSource = 'Web')", {"Hopper", "O'Brien", "Turing"}),
    ("NOT LastName LIKE '%o%'", {"Turing"}),
    ("IsConverted = false AND IsDeleted = FALSE", {"Lovelace", "Hopper", "O'Brien", "Turing"}),
    ("IsConverted = true", set()),
])
def test_where_clauses(sf: Salesforce, people: dict[str, str], where: str,
                       expected: set[str]) -> None:
    assert set(names(sf, f"SELECT LastName FROM Lead WHERE {where}")) == expected


def test_ids_compare_in_either_form(sf: Salesforce, people: dict[str, str]) -> None:
    hopper = people["Hopper"]
    assert names(sf, f"SELECT LastName FROM Lead WHERE Id = '{hopper[:15]}'") == ["Hopper"]
    soql = f"SELECT LastName FROM Lead WHERE Id IN ('{hopper}', '{people['Turing']}')"
    assert set(names(sf, soql)) == {"Hopper", "Turing"}
    owner = sf.query("SELECT OwnerId FROM Lead LIMIT 1")["records"][0]["OwnerId"]
    assert len(names(sf, f"select lastname from lead where ownerid = '{owner}'")) == 4


@pytest.mark.parametrize(("order", "expected"), [
    ("FirstName", ["O'Brien", "Lovelace", "Turing", "Hopper"]),
    ("FirstName DESC", ["Hopper", "Turing", "Lovelace", "O'Brien"]),
    ("FirstName ASC NULLS LAST", ["Lovelace", "Turing", "Hopper", "O'Brien"]),
    ("FirstName DESC NULLS FIRST", ["O'Brien", "Hopper", "Turing", "Lovelace"]),
    ("Status, LastName DESC", ["Turing", "O'Brien", "Hopper", "Lovelace"]),
    ("LastModifiedDate DESC LIMIT 2", ["Turing", "O'Brien"]),
    ("LastName LIMIT 2 OFFSET 1", ["Lovelace", "O'Brien"]),
])
def test_order_by_limit_offset(sf: Salesforce, people: dict[str, str], order: str,
                               expected: list[str]) -> None:
    assert names(sf, f"SELECT LastName FROM Lead ORDER BY {order}") == expected


def test_records_carry_attributes_and_the_selected_fields(
        sf: Salesforce, people: dict[str, str]) -> None:
    result = sf.query("SELECT id, LastName, expected_amount__c, LastModifiedDate FROM Lead "
                      "WHERE LastName = 'Hopper'")
    assert result["totalSize"] == 1 and result["done"] is True and "nextRecordsUrl" not in result
    record = result["records"][0]
    assert record == {
        "attributes": {"type": "Lead",
                       "url": f"/services/data/v59.0/sobjects/Lead/{people['Hopper']}"},
        "Id": people["Hopper"], "LastName": "Hopper", "Expected_Amount__c": 12000.5,
        "LastModifiedDate": "2026-03-15T10:01:00.000+0000",
    }


def test_count(sf: Salesforce, people: dict[str, str]) -> None:
    result = sf.query("SELECT COUNT() FROM Lead WHERE Email != null")
    assert (result["totalSize"], result["done"], result["records"]) == (3, True, [])


def test_aggregates_answer_one_row_named_by_alias_or_expr_n(
        sf: Salesforce, people: dict[str, str]) -> None:
    result = sf.query("SELECT COUNT(Id), MAX(SystemModstamp) newest, MIN(LastName), "
                      "COUNT(Email), COUNT_DISTINCT(LeadSource), SUM(Expected_Amount__c), "
                      "AVG(Expected_Amount__c) FROM Lead WHERE SystemModstamp >= "
                      "2026-03-15T10:01:00Z")
    assert (result["totalSize"], result["done"]) == (1, True)
    assert result["records"] == [{
        "attributes": {"type": "AggregateResult"}, "expr0": 3,
        "newest": "2026-03-15T10:03:00.000+0000", "expr1": "Hopper", "expr2": 2, "expr3": 1,
        "expr4": 12000.5, "expr5": 12000.5,
    }]  # COUNT(Email) and the others skip nulls; COUNT(Id) counts every row


def test_aggregates_over_no_rows_and_over_the_recycle_bin(
        emu: SalesforceEmulator, sf: Salesforce, people: dict[str, str]) -> None:
    none = sf.query("SELECT COUNT(Id) n, MAX(SystemModstamp) m FROM Lead WHERE LastName = 'x'")
    assert none["records"][0] == {"attributes": {"type": "AggregateResult"}, "n": 0, "m": None}
    emu.delete_lead(people["Hopper"])
    soql = "SELECT COUNT(Id), MAX(SystemModstamp) FROM Lead"
    live = sf.query(soql)["records"][0]
    every = sf.query(soql, include_deleted=True)["records"][0]
    assert (live["expr0"], every["expr0"]) == (3, 4)
    # The delete stamped the row: queryAll's newest change is the delete.
    assert every["expr1"] == "2026-03-15T11:00:00.000+0000" > live["expr1"]


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT LastName, COUNT(Id) FROM Lead", "MALFORMED_QUERY"),
    ("SELECT COUNT(Id) FROM Lead ORDER BY LastName", "MALFORMED_QUERY"),
    ("SELECT SUM(LastName) FROM Lead", "INVALID_FIELD"),
    ("SELECT MAX(Foo__c) FROM Lead", "INVALID_FIELD"),
    ("SELECT COUNT(Id) n, MAX(SystemModstamp) n FROM Lead", "MALFORMED_QUERY"),
    ("SELECT COUNT(), LastName FROM Lead", "MALFORMED_QUERY"),
])
def test_aggregate_errors(sf: Salesforce, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query(soql)
    assert exc.value.content[0]["errorCode"] == code


def test_users_are_queryable(emu: SalesforceEmulator, sf: Salesforce) -> None:
    rep = emu.add_user("rep@example.com", "Rita Rep")
    emu.add_user("gone@example.com", "Gone Rep", is_active=False)
    rows = sf.query("SELECT Id, Email, Name FROM User WHERE IsActive = true ORDER BY Email")
    assert [(r["Email"], r["Name"]) for r in rows["records"]] == [
        ("rep@example.com", "Rita Rep"), ("sandbox@example.com", "Sandbox Integration")]
    assert rows["records"][0]["Id"] == rep and rep.startswith("005")


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT Foo FROM Lead", "INVALID_FIELD"),
    ("SELECT Owner.Email FROM Lead", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE Foo__c = 1", "INVALID_FIELD"),
    ("SELECT Id FRM Lead", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE LastName = 'a' AND Company = 'b' OR Email = null",
     "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE LastModifiedDate > '2026-01-01T00:00:00Z'", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE LastModifiedDate > 2026-01-01", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE Expected_Amount__c > '5'", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE LastName = 5", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE IsDeleted = 'false'", "INVALID_FIELD"),
    ("SELECT Id FROM Widget", "INVALID_TYPE"),
    ("SELECT Id FROM Lead WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Lead WHERE LastName = 'unterminated", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE LastName = 'bad \\q escape'", "MALFORMED_QUERY"),
    ("SELECT Id, id FROM Lead", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead LIMIT", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE (LastName = 'a'", "MALFORMED_QUERY"),
    ("SELECT FROM Lead", "MALFORMED_QUERY"),
])
def test_query_errors(sf: Salesforce, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query(soql)
    error = exc.value.content[0]
    assert exc.value.status == 400 and error["errorCode"] == code


def test_syntax_errors_point_at_the_token(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FRM Lead")
    assert exc.value.content[0]["message"] == (
        "\nSELECT Id FRM Lead\n          ^\nERROR at Row:1:Column:11\nunexpected token: FRM")


def test_batches_follow_next_records_url(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.seed(450)
    soql = "SELECT Id, Email FROM Lead ORDER BY Email"
    first = sf.query(soql, headers=BATCH_200)
    assert (first["totalSize"], first["done"], len(first["records"])) == (450, False, 200)
    assert re.fullmatch(r"/services/data/v59\.0/query/01g[0-9A-Za-z]{15}-200",
                        first["nextRecordsUrl"])
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert (second["done"], len(second["records"])) == (False, 200)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert (third["done"], len(third["records"]), "nextRecordsUrl" in third) == (True, 50, False)
    emails = [r["Email"] for page in (first, second, third) for r in page["records"]]
    assert emails == sorted(emails, key=str.casefold) and len(set(emails)) == 450
    everything = sf.query_all(soql, headers={"Sforce-Query-Options": "batchSize=10"})
    assert [r["Email"] for r in everything["records"]] == emails  # 10 is raised to 200
    assert emu.counts["query"] == 2 and emu.counts["query_more"] == 4


def test_default_batch_is_2000(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.seed(2001)
    first = sf.query("SELECT Id FROM Lead")
    assert (len(first["records"]), first["done"]) == (2000, False)
    assert first["nextRecordsUrl"].endswith("-2000")
    assert len(sf.query_all("SELECT Id FROM Lead")["records"]) == 2001


def test_a_stale_query_locator_is_refused(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.seed(201)
    oldest = sf.query("SELECT Id FROM Lead", headers=BATCH_200)["nextRecordsUrl"]
    for _ in range(10):  # ten more open cursors push the oldest out
        sf.query("SELECT Id FROM Lead", headers=BATCH_200)
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query_more(oldest, identifier_is_url=True)
    assert exc.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_all_sees_the_recycle_bin_but_not_purged_rows(
        emu: SalesforceEmulator, sf: Salesforce, people: dict[str, str]) -> None:
    emu.delete_lead(people["Hopper"])
    emu.delete_lead(people["Turing"])
    emu.purge(people["Turing"])
    soql = "SELECT LastName, IsDeleted FROM Lead ORDER BY LastName"
    assert names(sf, soql) == ["Lovelace", "O'Brien"]
    rows = sf.query_all(soql, include_deleted=True)["records"]
    assert [(r["LastName"], r["IsDeleted"]) for r in rows] == [
        ("Hopper", True), ("Lovelace", False), ("O'Brien", False)]
    assert emu.get(people["Turing"]) is None and emu.get(people["Hopper"])["IsDeleted"] is True
    assert emu.counts["queryAll"] == 1


def test_query_all_pages_stay_on_query_all(emu: SalesforceEmulator, sf: Salesforce) -> None:
    ids = emu.seed(300)
    for lead_id in ids[:150]:
        emu.delete_lead(lead_id)
    first = sf.query("SELECT Id FROM Lead", include_deleted=True, headers=BATCH_200)
    assert first["totalSize"] == 300 and "/queryAll/" in first["nextRecordsUrl"]
    assert len(sf.query_all("SELECT Id FROM Lead", include_deleted=True)["records"]) == 300
