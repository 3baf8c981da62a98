"""sObject Collections and the replication resources (updated / deleted) of the
Salesforce emulator, through simple-salesforce."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from nexasync.sandbox._http import ServerThread
from nexasync.sandbox._http import TestCA as SandboxCA
from nexasync.sandbox._sf_schema import parse_time
from nexasync.sandbox.salesforce import SalesforceEmulator

UTC = timezone.utc
UNKNOWN = "00QDn0000000000AAA"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[SalesforceEmulator, ServerThread, SandboxCA]]:
    ca = SandboxCA(tmp_path_factory.mktemp("sf-ca"))
    emu = SalesforceEmulator()
    with ServerThread(emu, ca=ca) as server:
        yield emu, server, ca


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 15, 10, 0, 10, tzinfo=UTC))


@pytest.fixture
def emu(served: tuple[SalesforceEmulator, ServerThread, SandboxCA],
        clock: Clock) -> SalesforceEmulator:
    emu = served[0]
    emu.clock = clock
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


def lead(**fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, **fields}


def codes(results: list[dict[str, Any]]) -> list[str]:
    return ["ok" if r["success"] else r["errors"][0]["statusCode"] for r in results]


def post(sf: Salesforce, records: list[dict[str, Any]], all_or_none: bool = False) -> Any:
    return sf.restful("composite/sobjects", method="POST",
                      json={"allOrNone": all_or_none, "records": records})


def patch(sf: Salesforce, records: list[dict[str, Any]], all_or_none: bool = False,
          path: str = "composite/sobjects") -> Any:
    return sf.restful(path, method="PATCH", json={"allOrNone": all_or_none, "records": records})


# -- collections ----------------------------------------------------------------------
def test_create_reports_each_record_and_keeps_the_good_ones(
        emu: SalesforceEmulator, sf: Salesforce) -> None:
    results = post(sf, [lead(LastName="A", Company="C"), lead(LastName="B"),
                        lead(LastName="C", Company="C", Email="nope"),
                        lead(LastName="D", Company="C", NexaDesk_Id__c="nd-1"),
                        lead(LastName="E", Company="C", NexaDesk_Id__c="ND-1")])
    assert codes(results) == ["ok", "REQUIRED_FIELD_MISSING", "INVALID_EMAIL_ADDRESS", "ok",
                              "DUPLICATE_VALUE"]
    assert results[1] == {"success": False, "errors": [{
        "statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Company]",
        "fields": ["Company"]}]}
    assert sorted(r["LastName"] for r in emu.leads()) == ["A", "D"]
    assert {r["id"] for r in results if r["success"]} == {r["Id"] for r in emu.leads()}


def test_all_or_none_rolls_every_record_back(emu: SalesforceEmulator, sf: Salesforce) -> None:
    results = post(sf, [lead(LastName="A", Company="C"), lead(LastName="B")], all_or_none=True)
    assert codes(results) == ["ALL_OR_NONE_OPERATION_ROLLED_BACK", "REQUIRED_FIELD_MISSING"]
    assert "id" not in results[0] and emu.leads() == []
    assert codes(post(sf, [lead(LastName="A", Company="C")], all_or_none=True)) == ["ok"]


@pytest.mark.parametrize(("records", "code"), [
    ([lead(LastName=f"L{i}", Company="C") for i in range(201)], "EXCEEDED_ID_LIMIT"),
    ([lead(LastName="A", Company="C"), lead(LastName="B", Company="C", Colour__c="red")],
     "INVALID_FIELD"),
    ([lead(LastName="A", Company="C"), {"LastName": "B", "Company": "C"}], "INVALID_TYPE"),
    ([lead(LastName="A", Company="C", IsUnreadByOwner={"x": 1})], "JSON_PARSER_ERROR"),
])
def test_a_bad_body_fails_the_whole_call(emu: SalesforceEmulator, sf: Salesforce,
                                         records: list[dict[str, Any]], code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        post(sf, records)
    assert exc.value.content[0]["errorCode"] == code
    assert emu.leads() == []


def test_update_by_id_with_partial_failure(emu: SalesforceEmulator, sf: Salesforce) -> None:
    ok = emu.add_lead(LastName="Ok", Company="C")
    converted = emu.add_lead(LastName="Conv", Company="C")
    emu.convert_lead(converted)
    deleted = emu.add_lead(LastName="Gone", Company="C")
    emu.delete_lead(deleted)
    results = patch(sf, [
        lead(Id=ok, Title="CTO"), lead(Id=converted, Title="x"), lead(Id=deleted, Title="x"),
        lead(Id=UNKNOWN, Title="x"), lead(Title="no id"), lead(id=ok[:15], Phone="+1 555"),
        lead(Id=ok, LastName=None), lead(Id=ok, Status="Working - Contacted", Name="X"),
    ])
    assert codes(results) == ["ok", "CANNOT_UPDATE_CONVERTED_LEAD", "ENTITY_IS_DELETED",
                              "INVALID_CROSS_REFERENCE_KEY", "MISSING_ARGUMENT", "ok",
                              "REQUIRED_FIELD_MISSING", "INVALID_FIELD_FOR_INSERT_UPDATE"]
    assert [r.get("id") for r in results[:4]] == [ok, converted, deleted, UNKNOWN]
    assert results[5]["id"] == ok and "id" not in results[4]
    got = emu.get(ok)
    assert (got["Title"], got["Phone"], got["LastName"], got["Status"]) == (
        "CTO", "+1 555", "Ok", "Open - Not Contacted")


def test_update_all_or_none_leaves_records_untouched(
        emu: SalesforceEmulator, sf: Salesforce, clock: Clock) -> None:
    ok = emu.add_lead(LastName="Ok", Company="C")
    before = emu.get(ok)
    clock.tick(seconds=3)
    results = patch(sf, [lead(Id=ok, Title="CTO"), lead(Id=UNKNOWN, Title="x")],
                    all_or_none=True)
    assert codes(results) == ["ALL_OR_NONE_OPERATION_ROLLED_BACK", "INVALID_CROSS_REFERENCE_KEY"]
    assert results[0]["id"] == ok and emu.get(ok) == before


def test_delete_with_partial_failure(emu: SalesforceEmulator, sf: Salesforce) -> None:
    a, b = emu.add_lead(LastName="A", Company="C"), emu.add_lead(LastName="B", Company="C")
    emu.delete_lead(b)
    results = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": f"{a},{b},{UNKNOWN},junk", "allOrNone": "false"})
    assert codes(results) == ["ok", "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY",
                              "MALFORMED_ID"]
    assert [r["id"] for r in results] == [a, b, UNKNOWN, "junk"]
    assert emu.get(a)["IsDeleted"] is True and emu.leads() == []


def test_delete_all_or_none(emu: SalesforceEmulator, sf: Salesforce) -> None:
    a = emu.add_lead(LastName="A", Company="C")
    results = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": f"{a},{UNKNOWN}", "allOrNone": "true"})
    assert codes(results) == ["ALL_OR_NONE_OPERATION_ROLLED_BACK", "INVALID_CROSS_REFERENCE_KEY"]
    assert emu.get(a)["IsDeleted"] is False
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="DELETE",
                   params={"ids": ",".join([a] * 201)})
    assert exc.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_upsert_by_external_id(emu: SalesforceEmulator, sf: Salesforce) -> None:
    existing = emu.add_lead(LastName="Old", Company="C", NexaDesk_Id__c="nd-1")
    converted = emu.add_lead(LastName="Conv", Company="C", NexaDesk_Id__c="nd-conv")
    emu.convert_lead(converted)
    results = patch(sf, [
        lead(NexaDesk_Id__c="ND-1", LastName="New"),
        lead(NexaDesk_Id__c="nd-2", LastName="X", Company="C"),
        lead(NexaDesk_Id__c="nd-3", LastName="Y", Company="C"),
        lead(NexaDesk_Id__c="nd-3", LastName="Z", Company="C"),
        lead(LastName="no key", Company="C"),
        lead(NexaDesk_Id__c="nd-conv", Title="x"),
        lead(NexaDesk_Id__c="nd-4", LastName="W"),
    ], path="composite/sobjects/Lead/NexaDesk_Id__c")
    assert codes(results) == ["ok", "ok", "DUPLICATE_EXTERNAL_ID", "DUPLICATE_EXTERNAL_ID",
                              "MISSING_ARGUMENT", "CANNOT_UPDATE_CONVERTED_LEAD",
                              "REQUIRED_FIELD_MISSING"]
    assert (results[0]["id"], results[0]["created"]) == (existing, False)
    assert results[1]["created"] is True
    assert emu.get(existing)["LastName"] == "New"
    assert emu.get(results[1]["id"])["NexaDesk_Id__c"] == "nd-2"
    assert len(emu.leads()) == 3
    with pytest.raises(SalesforceMalformedRequest) as exc:
        patch(sf, [lead(Email="a@b.co", LastName="A")], path="composite/sobjects/Lead/Email")
    assert exc.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_all_or_none_rollback_restores_keys_and_the_delete_log(
        emu: SalesforceEmulator, sf: Salesforce, clock: Clock) -> None:
    """A rolled-back call leaves no trace: values, external-id lookups, the delete log."""
    old = emu.add_lead(LastName="Old", Company="C", NexaDesk_Id__c="nd-1")
    kept = emu.add_lead(LastName="Kept", Company="C", NexaDesk_Id__c="nd-9")
    before = emu.get(old)
    clock.tick(seconds=3)
    upsert = "composite/sobjects/Lead/NexaDesk_Id__c"
    results = patch(sf, [lead(NexaDesk_Id__c="nd-1", LastName="New"),
                         lead(NexaDesk_Id__c="nd-2", LastName="X", Company="C"),
                         lead(NexaDesk_Id__c="nd-3", LastName="No company")],
                    all_or_none=True, path=upsert)
    assert codes(results) == ["ALL_OR_NONE_OPERATION_ROLLED_BACK"] * 2 + [
        "REQUIRED_FIELD_MISSING"]
    assert emu.get(old) == before and len(emu.leads()) == 2
    results = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": f"{kept},{UNKNOWN}", "allOrNone": "true"})
    assert codes(results) == ["ALL_OR_NONE_OPERATION_ROLLED_BACK", "INVALID_CROSS_REFERENCE_KEY"]
    assert emu.get(kept)["IsDeleted"] is False and kept not in emu.store.deleted_log
    results = patch(sf, [lead(NexaDesk_Id__c="nd-2", LastName="X", Company="C"),
                         lead(NexaDesk_Id__c="nd-1", Title="T"),
                         lead(NexaDesk_Id__c="nd-9", Title="T")], path=upsert)
    assert [(r["success"], r["created"]) for r in results] == [(True, True), (True, False),
                                                               (True, False)]
    assert [r["id"] for r in results[1:]] == [old, kept]


def test_direct_methods_apply_the_same_rules(emu: SalesforceEmulator) -> None:
    with pytest.raises(ValueError, match="REQUIRED_FIELD_MISSING"):
        emu.add_lead(LastName="No company")
    with pytest.raises(ValueError, match="INVALID_FIELD"):
        emu.add_lead(LastName="L", Company="C", Shoe_Size__c=9)
    assert emu.counts.total() == 0 and emu.leads() == []


# -- replication ----------------------------------------------------------------------
def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 3, 15, hh, mm, ss, tzinfo=UTC)


def test_updated_ignores_seconds_and_covers_up_to_the_current_minute(
        emu: SalesforceEmulator, sf: Salesforce, clock: Clock) -> None:
    a = emu.add_lead(LastName="A", Company="C")  # 10:00:10
    clock.tick(minutes=5, seconds=20)
    b = emu.add_lead(LastName="B", Company="C")  # 10:05:30
    gone = emu.add_lead(LastName="Gone", Company="C")
    emu.delete_lead(gone)
    clock.tick(seconds=10)  # now 10:05:40
    first = sf.Lead.updated(at(10, 0, 45), at(10, 30))
    assert first == {"ids": [a], "latestDateCovered": "2026-03-15T10:05:00.000+0000"}
    clock.tick(minutes=1)  # 10:06:40
    emu.update_lead(a, Title="CTO")
    clock.tick(minutes=1)
    second = sf.Lead.updated(parse_time(first["latestDateCovered"]), clock.now)
    assert second == {"ids": [b, a], "latestDateCovered": "2026-03-15T10:07:00.000+0000"}


@pytest.mark.parametrize(("start", "end", "message"), [
    (at(10, 0, 5), at(10, 0, 50), "startDate must be at least one minute greater than endDate"),
    (at(10, 0), at(9, 0), "startDate must be at least one minute greater than endDate"),
    (at(10, 0) - timedelta(days=31), at(10, 0), "startDate cannot be more than 30 days ago"),
])
@pytest.mark.parametrize("resource", ["updated", "deleted"])
def test_replication_windows_are_checked(sf: Salesforce, resource: str, start: datetime,
                                         end: datetime, message: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        getattr(sf.Lead, resource)(start, end)
    assert exc.value.content == [{"message": message, "errorCode": "INVALID_REPLICATION_DATE"}]


def test_deleted_lists_recycle_bin_and_purged_leads(
        emu: SalesforceEmulator, sf: Salesforce, clock: Clock) -> None:
    a, b, c = (emu.add_lead(LastName=n, Company="C") for n in "ABC")
    clock.tick(minutes=2)
    sf.Lead.delete(a)  # 10:02:10
    clock.tick(minutes=2)
    sf.restful("composite/sobjects", method="DELETE", params={"ids": b})  # 10:04:10
    emu.purge(b)
    clock.tick(minutes=6)
    got = sf.Lead.deleted(at(10, 0), at(10, 30))
    assert got == {
        "deletedRecords": [{"id": a, "deletedDate": "2026-03-15T10:02:10.000+0000"},
                           {"id": b, "deletedDate": "2026-03-15T10:04:10.000+0000"}],
        "earliestDateAvailable": "2026-03-15T10:00:00.000+0000",
        "latestDateCovered": "2026-03-15T10:10:00.000+0000",
    }
    assert sf.Lead.deleted(at(10, 3), at(10, 30))["deletedRecords"] == got["deletedRecords"][1:]
    emu.earliest_deleted_available = at(10, 3)
    retained = sf.Lead.deleted(at(10, 0), at(10, 30))
    assert [r["id"] for r in retained["deletedRecords"]] == [b]
    assert retained["earliestDateAvailable"] == "2026-03-15T10:03:00.000+0000"
    assert emu.get(c)["IsDeleted"] is False
