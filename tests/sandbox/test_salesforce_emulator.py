"""The Salesforce emulator through the real simple-salesforce client, over HTTPS:
logins, sessions, single-record calls and the Lead save rules, describe, limits,
the request counter and injected faults."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from nexasync.connectors._sf_routing import LoginHostAdapter
from nexasync.sandbox._http import ServerThread
from nexasync.sandbox._http import TestCA as SandboxCA
from nexasync.sandbox._sf_schema import norm_id
from nexasync.sandbox.salesforce import SalesforceEmulator

SF_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
CREDS = {"username": "sandbox@example.com", "password": "sandbox-password"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> SandboxCA:
    return SandboxCA(tmp_path_factory.mktemp("sf-ca"))


@pytest.fixture(scope="module")
def rsa_pem() -> tuple[str, bytes]:
    """(private key PEM, public key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@pytest.fixture(scope="module")
def served(ca: SandboxCA) -> Iterator[tuple[SalesforceEmulator, ServerThread]]:
    # One server per module: stopping a server is the slow part; each test resets the org.
    emu = SalesforceEmulator()
    with ServerThread(emu, ca=ca) as server:
        yield emu, server


@pytest.fixture
def emu(served: tuple[SalesforceEmulator, ServerThread]) -> SalesforceEmulator:
    emu = served[0]
    emu.clock = lambda: datetime.now(timezone.utc)
    emu.daily_api_limit = 100000
    emu.reset()
    return emu


@pytest.fixture
def server(served: tuple[SalesforceEmulator, ServerThread], emu: SalesforceEmulator
           ) -> ServerThread:
    return served[1]


def http(ca: SandboxCA, server: ServerThread) -> requests.Session:
    session = requests.Session()
    session.verify = str(ca.ca_bundle)
    session.trust_env = False  # a CA bundle from the environment would override verify
    session.mount("https://", LoginHostAdapter(server.url))
    return session


@pytest.fixture
def sf(emu: SalesforceEmulator, server: ServerThread, ca: SandboxCA) -> Salesforce:
    return Salesforce(instance_url=server.url, session_id=emu.issue_session(),
                      session=http(ca, server))


def error_of(exc: pytest.ExceptionInfo[Exception]) -> dict:
    content = exc.value.content  # type: ignore[attr-defined]
    assert isinstance(content, list) and len(content) >= 1
    return dict(content[0])


# -- logins ---------------------------------------------------------------------------
def test_soap_login_gives_a_session_on_the_emulator(
        emu: SalesforceEmulator, server: ServerThread, ca: SandboxCA) -> None:
    sf = Salesforce(**CREDS, security_token="sandbox-token", session=http(ca, server))
    assert sf.sf_instance == f"127.0.0.1:{server.port}"
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0
    assert emu.counts["login"] == 1 and emu.counts["query"] == 1


def test_soap_login_with_a_wrong_token_is_invalid_login(
        server: ServerThread, ca: SandboxCA) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(**CREDS, security_token="wrong", session=http(ca, server))
    assert exc.value.code == "INVALID_LOGIN"
    assert "wrong" not in str(exc.value)


def test_oauth_password_flow(emu: SalesforceEmulator, server: ServerThread, ca: SandboxCA) -> None:
    sf = Salesforce(**CREDS, consumer_key="sandbox-consumer-key",
                    consumer_secret="sandbox-consumer-secret", session=http(ca, server))
    sf.Lead.create({"LastName": "Hopper", "Company": "Navy"})
    assert emu.counts["token"] == 1 and len(emu.leads()) == 1
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(username=CREDS["username"], password="nope", consumer_key="sandbox-consumer-key",
                   consumer_secret="sandbox-consumer-secret", session=http(ca, server))
    assert (exc.value.code, exc.value.auth_message) == ("invalid_grant", "authentication failure")


def test_client_credentials_flow_on_a_my_domain(
        emu: SalesforceEmulator, server: ServerThread, ca: SandboxCA) -> None:
    sf = Salesforce(consumer_key="sandbox-consumer-key", consumer_secret="sandbox-consumer-secret",
                    domain="acme.my", session=http(ca, server))
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(consumer_key="sandbox-consumer-key", consumer_secret="bad", domain="acme.my",
                   session=http(ca, server))
    assert exc.value.code == "invalid_client"


def test_jwt_bearer_checks_the_signature(ca: SandboxCA, rsa_pem: tuple[str, bytes]) -> None:
    private, public = rsa_pem
    emu = SalesforceEmulator(jwt_public_key_pem=public)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with ServerThread(emu, ca=ca) as server:
        sf = Salesforce(username=CREDS["username"], consumer_key="sandbox-consumer-key",
                        privatekey=private, session=http(ca, server))
        assert sf.query("SELECT Id FROM User")["totalSize"] == 1
        with pytest.raises(SalesforceAuthenticationFailed) as exc:
            Salesforce(username=CREDS["username"], consumer_key="sandbox-consumer-key",
                       privatekey=other, session=http(ca, server))
        assert exc.value.code == "invalid_grant"
        with pytest.raises(SalesforceAuthenticationFailed) as exc:
            Salesforce(username="someone@else.com", consumer_key="sandbox-consumer-key",
                       privatekey=private, session=http(ca, server))
        assert exc.value.code == "invalid_grant"
    assert emu.counts["token"] == 3


def test_expired_session_answers_401_invalid_session_id(
        emu: SalesforceEmulator, sf: Salesforce) -> None:
    sf.query("SELECT Id FROM Lead")
    emu.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf.query("SELECT Id FROM Lead")
    assert exc.value.status == 401
    assert error_of(exc) == {"message": "Session expired or invalid",
                             "errorCode": "INVALID_SESSION_ID"}


def test_a_password_client_logs_in_again_when_its_session_expires(
        emu: SalesforceEmulator, server: ServerThread, ca: SandboxCA) -> None:
    sf = Salesforce(**CREDS, security_token="sandbox-token", session=http(ca, server))
    emu.expire_sessions()
    assert sf.query("SELECT Id FROM Lead")["done"] is True
    assert emu.counts["login"] == 2 and emu.counts["query"] == 2


def test_a_data_request_without_a_token_is_refused(
        server: ServerThread, ca: SandboxCA) -> None:
    response = http(ca, server).get(f"{server.url}/services/data/v59.0/query", params={"q": "x"})
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_login_host_adapter_rewrites_only_salesforce_hosts() -> None:
    adapter = LoginHostAdapter("https://127.0.0.1:8443")
    assert (adapter.rewrite("https://login.salesforce.com/services/oauth2/token?a=1")
            == "https://127.0.0.1:8443/services/oauth2/token?a=1")
    assert (adapter.rewrite("https://acme.my.salesforce.com/services/Soap/u/59.0")
            == "https://127.0.0.1:8443/services/Soap/u/59.0")
    assert adapter.rewrite("https://example.com/x") == "https://example.com/x"
    assert adapter.rewrite("https://evilsalesforce.com/x") == "https://evilsalesforce.com/x"
    with pytest.raises(ValueError):
        LoginHostAdapter("127.0.0.1:8443")


# -- single records -------------------------------------------------------------------
def test_create_read_update_delete_a_lead(emu: SalesforceEmulator, sf: Salesforce) -> None:
    clock = Clock(datetime(2026, 3, 15, 10, 30, 0, 123456, tzinfo=timezone.utc))
    emu.clock = clock
    created = sf.Lead.create({"FirstName": "Ada", "LastName": "Lovelace",
                              "Company": "Engines", "email": "ada@example.com"})
    lead_id = created["id"]
    assert created["success"] is True and created["errors"] == []
    assert len(lead_id) == 18 and lead_id.startswith("00Q") and norm_id(lead_id) == lead_id
    got = sf.Lead.get(lead_id)
    assert got["attributes"] == {"type": "Lead",
                                 "url": f"/services/data/v59.0/sobjects/Lead/{lead_id}"}
    assert (got["Name"], got["Email"], got["Status"]) == (
        "Ada Lovelace", "ada@example.com", "Open - Not Contacted")
    assert got["OwnerId"].startswith("005") and got["IsDeleted"] is False
    assert got["CreatedDate"] == got["SystemModstamp"] == "2026-03-15T10:30:00.123+0000"

    clock.tick(seconds=5)
    assert sf.Lead.update(lead_id, {"FirstName": "Augusta Ada"}) == 204
    again = sf.Lead.get(lead_id[:15])  # a 15-character id is the same record
    assert again["Name"] == "Augusta Ada Lovelace"
    assert again["LastModifiedDate"] == again["SystemModstamp"] == "2026-03-15T10:30:05.123+0000"
    assert again["CreatedDate"] == got["CreatedDate"]

    assert sf.Lead.delete(lead_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Lead.get(lead_id)
    assert error_of(exc)["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Lead.update(lead_id, {"FirstName": "X"})
    assert error_of(exc)["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Lead.get("00QDn0000000000AAA")
    assert error_of(exc)["errorCode"] == "NOT_FOUND"


def test_get_with_fields_and_timestamps_in_salesforce_form(
        emu: SalesforceEmulator, sf: Salesforce) -> None:
    lead_id = emu.add_lead(LastName="Turing", Company="Bletchley")
    got = sf.Lead.get(lead_id, params={"fields": "Id,lastname,LastModifiedDate"})
    assert list(got) == ["attributes", "Id", "LastName", "LastModifiedDate"]
    assert SF_TIME.match(got["LastModifiedDate"])


TOO_LONG = [("FirstName", 40), ("LastName", 80), ("Email", 80), ("Phone", 40),
            ("Company", 255), ("Title", 128), ("LeadSource", 255), ("Description", 32000)]


@pytest.mark.parametrize(("name", "limit"), TOO_LONG)
def test_too_long_values_are_refused(sf: Salesforce, name: str, limit: int) -> None:
    base = {"LastName": "L", "Company": "C"}
    value = ("a" * (limit - 12) + "@example.com") if name == "Email" else "x" * limit
    assert sf.Lead.create({**base, name: value})["success"] is True
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.create({**base, name: value + "x"})
    error = error_of(exc)
    assert (error["errorCode"], error["fields"]) == ("STRING_TOO_LONG", [name])
    assert f"(max length={limit})" in error["message"]


@pytest.mark.parametrize(("fields", "code", "named"), [
    ({}, "REQUIRED_FIELD_MISSING", ["LastName", "Company"]),
    ({"LastName": "", "Company": "C"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
    ({"LastName": "L", "Company": "C", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS",
     ["Email"]),
    ({"LastName": "L", "Company": "C", "Status": "Nurturing"},
     "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"]),
    ({"LastName": "L", "Company": "C", "Name": "L"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["Name"]),
    ({"LastName": "L", "Company": "C", "IsConverted": True, "CreatedDate": "2026-01-01T00:00:00Z"},
     "INVALID_FIELD_FOR_INSERT_UPDATE", ["IsConverted", "CreatedDate"]),
    ({"LastName": "L", "Company": "C", "OwnerId": "005Dn0000000000AAA"},
     "INVALID_CROSS_REFERENCE_KEY", ["OwnerId"]),
    ({"LastName": "L", "Company": "C", "Expected_Amount__c": 1e20}, "NUMBER_OUTSIDE_VALID_RANGE",
     ["Expected_Amount__c"]),
])
def test_save_rules_on_create(sf: Salesforce, emu: SalesforceEmulator, fields: dict, code: str,
                              named: list[str]) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.create(fields)
    error = error_of(exc)
    assert (error["errorCode"], error["fields"]) == (code, named)
    assert emu.leads() == []


def test_unknown_field_fails_the_request(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.create({"LastName": "L", "Company": "C", "Favourite_Colour__c": "blue"})
    assert error_of(exc) == {"errorCode": "INVALID_FIELD", "message":
                             "No such column 'Favourite_Colour__c' on sobject of type Lead"}


def test_owner_must_be_an_active_user(emu: SalesforceEmulator, sf: Salesforce) -> None:
    active = emu.add_user("rep@example.com", "Rep One")
    gone = emu.add_user("left@example.com", "Rep Two", is_active=False)
    lead = sf.Lead.create({"LastName": "L", "Company": "C", "OwnerId": active[:15]})
    assert emu.get(lead["id"])["OwnerId"] == active
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.update(lead["id"], {"OwnerId": gone})
    assert error_of(exc)["errorCode"] == "INACTIVE_OWNER_OR_USER"
    assert gone in error_of(exc)["message"]
    assert emu.get(lead["id"])["OwnerId"] == active


def test_update_rules_and_converted_leads(emu: SalesforceEmulator, sf: Salesforce) -> None:
    lead_id = emu.add_lead(LastName="Hopper", Company="Navy", LeadSource="Chat widget")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.update(lead_id, {"LastName": None})
    assert error_of(exc)["errorCode"] == "REQUIRED_FIELD_MISSING"
    emu.convert_lead(lead_id)
    converted = emu.get(lead_id)
    assert (converted["IsConverted"], converted["Status"]) == (True, "Closed - Converted")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.update(lead_id, {"Title": "Rear Admiral"})
    assert error_of(exc) == {"errorCode": "CANNOT_UPDATE_CONVERTED_LEAD",
                             "message": "cannot reference converted lead", "fields": []}
    assert emu.get(lead_id) == converted


def test_upsert_by_external_id(emu: SalesforceEmulator, sf: Salesforce) -> None:
    first = sf.Lead.upsert("NexaDesk_Id__c/nd-1", {"LastName": "A", "Company": "C"},
                           raw_response=True)
    assert first.status_code == 201
    body = first.json()
    assert body["created"] is True and body["success"] is True
    second = sf.Lead.upsert("NexaDesk_Id__c/ND-1", {"LastName": "B"}, raw_response=True)
    assert second.status_code == 200
    assert second.json() == {"id": body["id"], "success": True, "errors": [], "created": False}
    assert emu.get(body["id"])["LastName"] == "B"
    assert sf.Lead.get_by_custom_id("NexaDesk_Id__c", "nd-1")["Id"] == body["id"]
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Lead.upsert("Email/a@b.co", {"LastName": "A", "Company": "C"})
    assert error_of(exc)["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.create({"LastName": "A", "Company": "C", "NexaDesk_Id__c": "ND-1"})
    assert error_of(exc)["errorCode"] == "DUPLICATE_VALUE"


def test_describe(sf: Salesforce) -> None:
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    ext = fields["NexaDesk_Id__c"]
    assert (ext["type"], ext["length"], ext["externalId"], ext["unique"]) == (
        "string", 64, True, True)
    assert (fields["LastName"]["length"], fields["LastName"]["nillable"]) == (80, False)
    assert fields["Name"]["createable"] is False and fields["Name"]["updateable"] is False
    assert fields["Expected_Amount__c"]["type"] == "currency"
    assert [v["value"] for v in fields["Status"]["picklistValues"]] == [
        "Open - Not Contacted", "Working - Contacted", "Closed - Converted",
        "Closed - Not Converted"]
    user = sf.User.describe()
    assert user["name"] == "User" and "IsActive" in {f["name"] for f in user["fields"]}


def test_custom_fields_replace_the_defaults(ca: SandboxCA) -> None:
    emu = SalesforceEmulator(custom_fields={"Score__c": {"type": "double", "precision": 5}})
    with ServerThread(emu, ca=ca) as server:
        sf = Salesforce(instance_url=server.url, session_id=emu.issue_session(),
                        session=http(ca, server))
        sf.Lead.create({"LastName": "L", "Company": "C", "Score__c": 12})
        with pytest.raises(SalesforceMalformedRequest) as exc:
            sf.query("SELECT NexaDesk_Id__c FROM Lead")
        assert error_of(exc)["errorCode"] == "INVALID_FIELD"


# -- limits, counters, faults ---------------------------------------------------------
def test_limits_and_the_usage_header(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.daily_api_limit = 3
    sf.query("SELECT Id FROM Lead")
    assert sf.api_usage["api-usage"] == (1, 3)
    assert sf.limits()["DailyApiRequests"] == {"Max": 3, "Remaining": 1}
    sf.query("SELECT Id FROM Lead")
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query("SELECT Id FROM Lead")
    assert error_of(exc) == {"message": "TotalRequests Limit exceeded.",
                             "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    assert emu.api_requests_used == 3 and emu.counts["query"] == 3


def test_every_request_is_counted_by_kind(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.seed(250)
    now = datetime.now(timezone.utc)
    sf.query_all("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=200"})
    sf.query("SELECT Id FROM Lead", include_deleted=True)
    lead_id = sf.Lead.create({"LastName": "L", "Company": "C"})["id"]
    sf.Lead.get(lead_id)
    sf.Lead.upsert("NexaDesk_Id__c/x", {"LastName": "L", "Company": "C"})
    record = {"attributes": {"type": "Lead"}, "LastName": "L", "Company": "C"}
    sf.restful("composite/sobjects", method="POST", json={"records": [record]})
    sf.restful("composite/sobjects", method="PATCH",
               json={"records": [{**record, "Id": lead_id}]})
    sf.restful("composite/sobjects/Lead/NexaDesk_Id__c", method="PATCH",
               json={"records": [{**record, "NexaDesk_Id__c": "y"}]})
    sf.restful("composite/sobjects", method="DELETE", params={"ids": lead_id})
    sf.Lead.deleted(now - timedelta(minutes=5), now + timedelta(minutes=5))
    sf.Lead.updated(now - timedelta(minutes=5), now + timedelta(minutes=5))
    sf.limits()
    assert emu.counts == Counter({
        "query": 1, "query_more": 1, "queryAll": 1, "sobject": 2, "upsert": 1,
        "collections_create": 1, "collections_update": 1, "collections_upsert": 1,
        "collections_delete": 1, "getDeleted": 1, "getUpdated": 1, "limits": 1})
    emu.add_lead(LastName="direct", Company="C")  # direct calls are not requests
    assert emu.total == 13


def test_injected_faults_are_shaped_like_salesforce_errors(
        emu: SalesforceEmulator, sf: Salesforce, server: ServerThread, ca: SandboxCA) -> None:
    emu.faults.add("503", match="query")
    with pytest.raises(SalesforceGeneralError) as exc:
        sf.query("SELECT Id FROM Lead")
    assert exc.value.status == 503 and error_of(exc)["errorCode"] == "SERVER_UNAVAILABLE"
    assert sf.query("SELECT Id FROM Lead")["done"] is True

    emu.faults.add("ambiguous", match="sobject")
    with pytest.raises(SalesforceGeneralError) as exc:
        sf.Lead.create({"LastName": "Maybe", "Company": "C"})
    assert exc.value.status == 500
    assert [lead["LastName"] for lead in emu.leads()] == ["Maybe"]

    emu.faults.add("429", retry_after=2)
    response = http(ca, server).get(f"{server.url}/services/data/v59.0/limits",
                                    headers={"Authorization": f"Bearer {sf.session_id}"})
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"

    emu.faults.add("503", match="login")
    with pytest.raises(SalesforceAuthenticationFailed) as login_exc:
        Salesforce(**CREDS, security_token="sandbox-token", session=http(ca, server))
    assert login_exc.value.code == "SERVER_UNAVAILABLE"


def test_seed_is_reproducible(tmp_path: Path) -> None:
    def fields(emu: SalesforceEmulator) -> list[tuple]:
        return [(r["Name"], r["Email"], r["Status"], r["Expected_Amount__c"])
                for r in emu.leads()]

    a, b = SalesforceEmulator(), SalesforceEmulator()
    assert len(a.seed(20, seed=7)) == 20 and len(b.seed(20, seed=7)) == 20
    assert fields(a) == fields(b)
    c = SalesforceEmulator()
    c.seed(20, seed=8)
    assert fields(c) != fields(a)
    owners = {r["OwnerId"] for r in a.leads()}
    assert len(owners) == 2 and all(a.store.users[o]["IsActive"] for o in owners)
