"""``Connector.check()`` of each connector against its emulator over real HTTP: a
healthy account passes every check, and each problem an operator can have (refused
credentials, a missing or read-only field, a missing permission or scope, an
unreachable system) is one failed check that says what to fix, never a secret."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _hubspot_env import Sandbox as HubSpotBox
from _salesforce_env import Sandbox as SalesforceBox

from nexasync.config import NexaDeskConfig, SalesforceAuth
from nexasync.connectors.base import Check
from nexasync.connectors.nexadesk import NexaDeskConnector
from nexasync.sandbox._http import ServerThread, TestCA
from nexasync.sandbox.nexadesk import NexaDeskEmulator

ND_KEY = "nd_check_key_s3cr3t"
WRITES = {"create", "update", "archive", "merge", "delete", "batch_create", "batch_update",
          "batch_archive", "collections_create", "collections_update", "collections_delete",
          "collections_upsert", "upsert"}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def failures(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.detail for c in checks if not c.ok}


def no_writes(counts: Any) -> None:
    assert not {k: n for k, n in counts.items() if k in WRITES}, dict(counts)


# -- NexaDesk ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nexadesk() -> Iterator[tuple[NexaDeskEmulator, str]]:
    emu = NexaDeskEmulator(ND_KEY)
    with ServerThread(emu) as server:
        yield emu, server.url


@pytest.fixture
def nd(nexadesk: tuple[NexaDeskEmulator, str]) -> NexaDeskEmulator:
    nexadesk[0].reset()
    return nexadesk[0]


def nd_check(url: str, key: str = ND_KEY) -> list[Check]:
    connector = NexaDeskConnector(NexaDeskConfig(base_url=url, api_key=key, timeout=5))
    try:
        return connector.check()
    finally:
        connector.close()


def test_nexadesk_healthy_passes_and_reads_the_fields_of_a_lead(
    nexadesk: tuple[NexaDeskEmulator, str], nd: NexaDeskEmulator
) -> None:
    nd.add_lead(visitor_name="Ada Lovelace", visitor_email="ada@acme.example")
    checks = nd_check(nexadesk[1])
    assert failures(checks) == {}
    assert {c.system for c in checks} == {"nexadesk"}
    assert "1 leads" in by_name(checks)["read leads"].detail
    assert "every synced field is present" in by_name(checks)["lead fields"].detail
    assert nd.counts == {"list": 1}  # one read, nothing written


def test_nexadesk_with_no_leads_says_the_fields_wait_for_one(
    nexadesk: tuple[NexaDeskEmulator, str], nd: NexaDeskEmulator
) -> None:
    checks = nd_check(nexadesk[1])
    assert failures(checks) == {}
    assert "no leads yet" in by_name(checks)["lead fields"].detail


def test_nexadesk_wrong_key_names_the_key_not_its_value(
    nexadesk: tuple[NexaDeskEmulator, str], nd: NexaDeskEmulator
) -> None:
    wrong = "nd_wrong_value_42"
    checks = nd_check(nexadesk[1], wrong)
    assert by_name(checks)["reachable"].ok
    assert "nexadesk.api_key" in failures(checks)["credentials"]
    assert "HTTP 401" in failures(checks)["credentials"]
    assert not any(wrong in c.detail or ND_KEY in c.detail for c in checks)


def test_nexadesk_unreachable_is_one_failed_check() -> None:
    port = closed_port()
    checks = nd_check(f"http://127.0.0.1:{port}")
    assert [c.name for c in checks] == ["reachable"]
    detail = failures(checks)["reachable"]
    assert f"127.0.0.1:{port}" in detail and "ConnectError" in detail
    assert "nexadesk.base_url" in detail


# -- Salesforce --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("check-ca"))


@pytest.fixture
def sf_box(ca: TestCA, request: pytest.FixtureRequest) -> Iterator[SalesforceBox]:
    emulator = getattr(request, "param", {})
    box = SalesforceBox(ca, **emulator)
    yield box
    box.close()


CUSTOM_SF = {
    "NexaDesk_Id__c": {"type": "string", "length": 64, "externalId": True, "unique": True},
    "Plain_Id__c": {"type": "string", "length": 64},
    "NexaDesk_Tags__c": {"type": "string", "length": 255},
    "Expected_Amount__c": {"type": "currency", "precision": 18, "scale": 2},
    "Score__c": {"type": "double", "calculated": True},
    "Locked_Note__c": {"type": "string", "createable": False, "updateable": False},
}


def sf_check(box: SalesforceBox, **overrides: Any) -> list[Check]:
    return box.connector(**overrides).check()


def test_salesforce_healthy_passes_every_check_and_writes_nothing(sf_box: SalesforceBox) -> None:
    checks = sf_check(sf_box, external_id_field="NexaDesk_Id__c")
    assert failures(checks) == {}
    names = by_name(checks)
    for expected in ("reachable", "credentials", "Lead permissions", "field FirstName",
                     "field LastName", "field Expected_Amount__c", "field NexaDesk_Tags__c",
                     "external id NexaDesk_Id__c", "read leads", "deleted leads feed",
                     "users for reps"):
        assert names[expected].ok, expected
    assert "sandbox@example.com" in names["credentials"].detail
    no_writes(sf_box.emulator.counts)


@pytest.mark.parametrize("sf_box", [{"custom_fields": CUSTOM_SF}], indirect=True)
@pytest.mark.parametrize(
    ("overrides", "check", "words"),
    [
        ({"fields": {"tags": "Missing_Field__c"}}, "field Missing_Field__c",
         ["tags maps to it (crm.fields.tags)", "no such field", "field-level security"]),
        ({"fields": {"expected_billing_amount": "Score__c"}}, "field Score__c",
         ["read-only", "formula field", "createable=false", "updateable=false"]),
        ({"fields": {"need_summary": "Locked_Note__c"}}, "field Locked_Note__c",
         ["need_summary", "read-only for this user"]),
        ({"fields": {"need_summary": "IsUnreadByOwner"}}, "field IsUnreadByOwner",
         ["boolean field"]),
        ({"stage_map": {"lost": "Closed - Lost Forever"}}, "field Status",
         ["crm.stage_map", "Closed - Lost Forever"]),
        ({"external_id_field": "Plain_Id__c"}, "external id Plain_Id__c",
         ["not marked External ID", "crm.external_id_field"]),
        ({"external_id_field": "Nope__c"}, "external id Nope__c",
         ["crm.external_id_field names a field Lead does not have"]),
    ],
    ids=["missing custom field", "formula field", "read-only by FLS", "wrong type",
         "unknown status", "not an external id", "missing external id"],
)
def test_salesforce_field_problems_fail_naming_the_field(
    sf_box: SalesforceBox, overrides: dict[str, Any], check: str, words: list[str]
) -> None:
    checks = sf_check(sf_box, **overrides)
    failed = failures(checks)
    assert list(failed) == [check], failed
    for word in words:
        assert word in failed[check]
    # A missing field is reported once, not again by a query that trips over it.
    assert ("read leads" in by_name(checks)) == ("Missing" not in check)


def test_salesforce_wrong_password_names_the_keys_not_the_value(sf_box: SalesforceBox) -> None:
    wrong = "not-the-password-123"
    auth = SalesforceAuth(username="sandbox@example.com", password=wrong,
                          security_token="sandbox-token")
    checks = sf_check(sf_box, auth=auth)
    assert [c.name for c in checks] == ["reachable", "credentials"]
    detail = failures(checks)["credentials"]
    assert "INVALID_LOGIN" in detail and "crm.auth.password (or password_file)" in detail
    assert wrong not in detail and "sandbox-token" not in detail


def test_salesforce_refused_session_names_the_session_key(sf_box: SalesforceBox) -> None:
    session = "00Dbogus!session-value"
    auth = SalesforceAuth(session_id=session)
    checks = sf_check(sf_box, auth=auth, instance_url=sf_box.url)
    detail = failures(checks)["credentials"]
    assert "crm.auth.session_id" in detail and session not in detail


def test_salesforce_missing_object_permissions_fail(sf_box: SalesforceBox) -> None:
    sf_box.emulator.lead_access = {"deletable": False, "replicateable": False}
    failed = failures(sf_check(sf_box))
    assert set(failed) == {"Lead permissions", "deleted leads feed"}
    assert "may not delete Leads" in failed["Lead permissions"]
    assert "crm.deleted_check_seconds: 0" in failed["deleted leads feed"]
    # Not looking for purged leads, getDeleted is not needed.
    assert set(failures(sf_check(sf_box, deleted_check_seconds=0))) == {"Lead permissions"}


def test_salesforce_rep_map_users_must_exist_and_be_active(sf_box: SalesforceBox) -> None:
    active = sf_box.emulator.add_user("rep1@acme.example", "Rep One")
    gone = sf_box.emulator.add_user("rep2@acme.example", "Rep Two", is_active=False)
    assert failures(sf_check(sf_box, rep_map={"r1": active})) == {}
    unknown = active[:5] + "0" * 10 + active[15:]
    failed = failures(sf_check(sf_box, rep_map={"r1": active, "r2": gone, "r3": unknown}))
    assert list(failed) == ["users for reps"]
    assert f"do not exist: {unknown}" in failed["users for reps"]
    assert f"inactive users (they cannot own leads): {gone}" in failed["users for reps"]


def test_salesforce_unreachable_login_is_one_failed_check(sf_box: SalesforceBox) -> None:
    port = closed_port()
    checks = sf_check(sf_box, login_url=f"https://127.0.0.1:{port}")
    assert [c.name for c in checks] == ["reachable"]
    assert f"127.0.0.1:{port}" in checks[0].detail and "crm.login_url" in checks[0].detail


# -- HubSpot -----------------------------------------------------------------------------
CUSTOM_HS = {
    "nexadesk_source": {"type": "string"},
    "nexadesk_amount": {"type": "number"},
    "nexadesk_tags": {"type": "string"},
    "nexadesk_score": {"type": "number", "calculated": True},
    "nexadesk_size": {"type": "number"},
}


@pytest.fixture
def hs_box(request: pytest.FixtureRequest) -> Iterator[HubSpotBox]:
    box = HubSpotBox(**{"custom_properties": CUSTOM_HS, **getattr(request, "param", {})})
    yield box
    box.close()


def hs_check(box: HubSpotBox, **overrides: Any) -> list[Check]:
    return box.connector(**overrides).check()


def test_hubspot_healthy_passes_every_check_and_writes_nothing(hs_box: HubSpotBox) -> None:
    owner = hs_box.emulator.add_owner("rep@acme.example")
    checks = hs_check(hs_box, rep_map={"r1": owner})
    assert failures(checks) == {}
    names = by_name(checks)
    assert "crm.objects.owners.read" in names["token scopes"].detail
    for prop in ("firstname", "lastname", "email", "hs_lead_status", "nexadesk_tags",
                 "nexadesk_amount", "hubspot_owner_id"):
        assert names[f"property {prop}"].ok, prop
    assert names["owners for reps"].ok
    no_writes(hs_box.emulator.counts)
    assert hs_box.emulator.counts["token_info"] == 1


@pytest.mark.parametrize(
    ("overrides", "check", "words"),
    [
        ({"fields": {"tags": "no_such_tags"}}, "property no_such_tags",
         ["tags maps to it (crm.fields.tags)", "no such property"]),
        ({"fields": {"expected_billing_amount": "nexadesk_score"}}, "property nexadesk_score",
         ["does not accept writes", "calculated"]),
        ({"fields": {"need_summary": "createdate"}}, "property createdate",
         ["read-only", "datetime property"]),
        ({"fields": {"need_summary": "nexadesk_size"}}, "property nexadesk_size",
         ["number property", "need_summary needs"]),
        ({"stage_map": {"lost": "GONE_FOREVER"}}, "property hs_lead_status",
         ["crm.stage_map", "GONE_FOREVER"]),
        ({"rep_map": {"r1": "999"}}, "owners for reps", ["999", "crm.rep_map"]),
    ],
    ids=["missing property", "calculated property", "read-only property", "wrong type",
         "unknown stage value", "unknown owner"],
)
def test_hubspot_property_problems_fail_naming_the_property(
    hs_box: HubSpotBox, overrides: dict[str, Any], check: str, words: list[str]
) -> None:
    failed = failures(hs_check(hs_box, **overrides))
    assert list(failed) == [check], failed
    for word in words:
        assert word in failed[check]


def test_hubspot_wrong_token_names_the_key_not_the_value(hs_box: HubSpotBox) -> None:
    wrong = "pat-na1-wrong-token-value"
    checks = hs_check(hs_box, access_token=wrong)
    assert [c.name for c in checks] == ["reachable", "credentials"]
    detail = failures(checks)["credentials"]
    assert "crm.access_token (or access_token_file)" in detail and "401" in detail
    assert wrong not in detail


@pytest.mark.parametrize(
    "hs_box",
    [{"scopes": ["crm.objects.contacts.read", "crm.schemas.contacts.read"]}],
    indirect=True,
)
def test_hubspot_missing_scopes_fail_naming_them(hs_box: HubSpotBox) -> None:
    failed = failures(hs_check(hs_box))
    assert set(failed) == {"token scopes", "owners for reps"}
    assert "crm.objects.contacts.write" in failed["token scopes"]
    assert "crm.objects.owners.read" in failed["token scopes"]
    # The owners read itself is refused, and says which scope it needs.
    assert "MISSING_SCOPES" in failed["owners for reps"]
    assert "crm.objects.owners.read" in failed["owners for reps"]


@pytest.mark.parametrize("hs_box", [{"scopes": ["crm.objects.owners.read"]}], indirect=True)
def test_hubspot_without_read_scope_stops_at_the_refused_read(hs_box: HubSpotBox) -> None:
    checks = hs_check(hs_box)
    assert [c.name for c in checks] == ["reachable", "credentials", "read contacts"]
    assert "crm.objects.contacts.read" in failures(checks)["read contacts"]


def test_hubspot_unreachable_is_one_failed_check(hs_box: HubSpotBox) -> None:
    port = closed_port()
    checks = hs_check(hs_box, base_url=f"http://127.0.0.1:{port}")
    assert [c.name for c in checks] == ["reachable"]
    assert f"127.0.0.1:{port}" in checks[0].detail and "crm.base_url" in checks[0].detail


@pytest.mark.parametrize("hs_box", [{"scopes": ["crm.objects.contacts.read"]}], indirect=True)
def test_hubspot_emulator_answers_scopes_as_hubspot_does(hs_box: HubSpotBox) -> None:
    url = hs_box.url + "/oauth/v2/private-apps/get/access-token-info"
    info = httpx.post(url, json={"tokenKey": "hs_sandbox_token"})
    assert info.status_code == 200
    assert info.json()["scopes"] == ["crm.objects.contacts.read"]
    assert httpx.post(url, json={"tokenKey": "other"}).status_code == 401
    refused = httpx.get(hs_box.url + "/crm/v3/owners",
                        headers={"Authorization": "Bearer hs_sandbox_token"})
    assert refused.status_code == 403
    body = refused.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.owners.read"]
