"""The HubSpot emulator's rate limits (driven by a test clock, no waiting), its
rate-limit headers, the request counter and injected faults."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest
from hubspot_support import Clock

from nexasync.sandbox._http import ServerThread
from nexasync.sandbox.hubspot import HubSpotEmulator

CONTACTS = "/crm/v3/objects/contacts"
SEARCH = f"{CONTACTS}/search"
T0 = datetime(2025, 6, 30, 23, 59, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def emu(served: tuple[HubSpotEmulator, ServerThread], clock: Clock) -> HubSpotEmulator:
    emu = served[0]
    emu.clock = clock
    emu.limits.rate_limit, emu.limits.rate_window = 190, 10.0
    emu.limits.search_rate, emu.limits.daily_limit = 5, 500_000
    emu.reset()
    return emu


# -- headers and limits -----------------------------------------------------------------
def test_answers_carry_hubspots_rate_limit_headers(emu: HubSpotEmulator,
                                                   raw: httpx.Client) -> None:
    listed = raw.get(CONTACTS)
    assert {k: listed.headers[k] for k in (
        "X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining",
        "X-HubSpot-RateLimit-Interval-Milliseconds", "X-HubSpot-RateLimit-Daily",
        "X-HubSpot-RateLimit-Daily-Remaining")} == {
        "X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "189",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Daily": "500000", "X-HubSpot-RateLimit-Daily-Remaining": "499999"}
    missing = raw.get(f"{CONTACTS}/12345")
    assert missing.status_code == 404
    assert missing.headers["X-HubSpot-RateLimit-Remaining"] == "188"
    # Search answers carry only the daily budget, as HubSpot's do.
    found = raw.post(SEARCH, json={})
    assert found.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "499997"
    assert "X-HubSpot-RateLimit-Max" not in found.headers


def test_the_rolling_window_answers_429_until_it_moves_on(
        emu: HubSpotEmulator, clock: Clock, raw: httpx.Client, api: HubSpot) -> None:
    emu.limits.rate_limit = 3
    remaining = [raw.get(CONTACTS).headers["X-HubSpot-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = raw.get(CONTACTS)
    assert refused.status_code == 429
    body = refused.json()
    assert (body["errorType"], body["policyName"], body["message"]) == (
        "RATE_LIMIT", "TEN_SECONDLY_ROLLING",
        "You have reached your ten_secondly_rolling limit.")
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    clock.tick(seconds=9.9)
    with pytest.raises(ApiException) as exc:
        api.crm.contacts.basic_api.get_page()
    assert exc.value.status == 429
    clock.tick(seconds=0.2)
    assert raw.get(CONTACTS).status_code == 200


def test_search_has_its_own_per_second_limit(emu: HubSpotEmulator, clock: Clock,
                                             raw: httpx.Client, api: HubSpot) -> None:
    emu.limits.search_rate, emu.limits.rate_limit = 2, 1
    assert raw.get(CONTACTS).status_code == 200  # spends the whole rolling window
    search = api.crm.contacts.search_api
    for _ in range(2):
        assert search.do_search(PublicObjectSearchRequest()).total == 0
    refused = raw.post(SEARCH, json={})
    assert refused.status_code == 429
    assert refused.json()["message"] == "You have reached your secondly limit."
    assert refused.json()["category"] == "RATE_LIMITS"
    assert "Retry-After" not in refused.headers
    clock.tick(seconds=1)
    assert raw.post(SEARCH, json={}).status_code == 200
    assert raw.get(CONTACTS).status_code == 429  # the window is still spent


def test_the_daily_budget_resets_at_midnight(emu: HubSpotEmulator, clock: Clock,
                                             raw: httpx.Client) -> None:
    emu.limits.daily_limit = 2
    assert raw.get(CONTACTS).status_code == 200
    assert raw.post(SEARCH, json={}).status_code == 200
    refused = raw.get(CONTACTS)
    assert refused.status_code == 429
    assert refused.json()["policyName"] == "DAILY"
    assert refused.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    clock.tick(minutes=1)
    fresh = raw.get(CONTACTS)
    assert fresh.status_code == 200 and fresh.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "1"


# -- faults and counters ----------------------------------------------------------------
def test_injected_faults_answer_with_hubspot_bodies(emu: HubSpotEmulator,
                                                    raw: httpx.Client) -> None:
    emu.faults.add("429", retry_after=0, match="list")
    emu.faults.add("429", match="search", retry_after=None)
    emu.faults.add("503", match="batch_create")
    limited = raw.get(CONTACTS)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "0"
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    searched = raw.post(SEARCH, json={})
    assert searched.status_code == 429 and "Retry-After" not in searched.headers
    assert searched.json()["message"] == "You have reached your secondly limit."
    down = raw.post(f"{CONTACTS}/batch/create", json={"inputs": []})
    assert down.status_code == 503 and down.json()["status"] == "error"
    assert raw.get(CONTACTS).status_code == 200


def test_an_ambiguous_create_is_written_though_it_answers_500(
        emu: HubSpotEmulator, api: HubSpot, raw: httpx.Client) -> None:
    emu.faults.add("ambiguous", match="create")
    body = {"properties": {"email": "once@example.com"}}
    failed = raw.post(CONTACTS, json=body)
    assert failed.status_code == 500
    assert [c["properties"]["email"] for c in emu.contacts()] == ["once@example.com"]
    retried = raw.post(CONTACTS, json=body)
    assert retried.status_code == 409
    assert retried.json()["message"].endswith(emu.contacts()[0]["id"])


def test_requests_are_counted_by_kind_and_direct_methods_are_not(
        emu: HubSpotEmulator, raw: httpx.Client) -> None:
    a = emu.add_contact(firstname="A")
    b = emu.add_contact(firstname="B")
    emu.add_owner("o@example.com")
    assert emu.total == 0
    raw.get(CONTACTS)
    raw.get(CONTACTS, params={"archived": "true"})
    raw.get(f"{CONTACTS}/{a}")
    raw.patch(f"{CONTACTS}/{a}", json={"properties": {"firstname": "Z"}})
    raw.post(CONTACTS, json={"properties": {"firstname": "C"}})
    for kind in ("create", "update", "read", "archive"):
        raw.post(f"{CONTACTS}/batch/{kind}", json={"inputs": [], "properties": []})
    raw.post(SEARCH, json={})
    raw.post(f"{CONTACTS}/merge", json={"primaryObjectId": a, "objectIdToMerge": b})
    raw.delete(f"{CONTACTS}/{a}")
    raw.get("/crm/v3/owners/")
    raw.get("/crm/v3/properties/contacts")
    raw.get("/crm/v3/deals")
    assert emu.counts == Counter({
        "list": 1, "list_archived": 1, "read": 1, "update": 1, "create": 1,
        "batch_create": 1, "batch_update": 1, "batch_read": 1, "batch_archive": 1,
        "search": 1, "merge": 1, "archive": 1, "owners": 1, "properties": 1, "other": 1})
    emu.reset_counts()
    assert emu.total == 0
