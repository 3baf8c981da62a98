"""The HubSpot emulator's search endpoint through hubspot-api-client and httpx:
filter operators and groups, the sort, offset paging, returned properties, the
documented limits and the 10,000-result cap."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest
from hubspot_support import Clock

from nexasync.sandbox._http import ServerThread
from nexasync.sandbox.hubspot import HubSpotEmulator

SEARCH = "/crm/v3/objects/contacts/search"
T0 = datetime(2025, 5, 1, 9, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def emu(served: tuple[HubSpotEmulator, ServerThread], clock: Clock) -> HubSpotEmulator:
    emu = served[0]
    # The clock stands still here, so the per-second search budget is lifted;
    # test_hubspot_limits covers it.
    emu.clock = clock
    emu.limits.search_rate = 10_000
    emu.reset()
    return emu


@pytest.fixture
def people(emu: HubSpotEmulator, clock: Clock) -> dict[str, str]:
    """Five contacts, one second apart, by first name."""
    rows = [
        {"firstname": "Ada", "email": "ada@analytical.example", "company": "Analytical Engines",
         "nexadesk_amount": 500, "lifecyclestage": "lead"},
        {"firstname": "Grace", "email": "GRACE@navy.example", "company": "US Navy",
         "nexadesk_amount": 1500, "lifecyclestage": "customer"},
        {"firstname": "Alan", "email": "alan@bletchley.example", "nexadesk_amount": 2500.5,
         "lifecyclestage": "lead"},
        {"firstname": "Katherine", "company": "NASA", "lifecyclestage": "opportunity"},
        {"firstname": "Edsger", "email": "edsger@tue.example", "company": "TU Eindhoven",
         "lifecyclestage": "subscriber"},
    ]
    ids = {}
    for row in rows:
        ids[str(row["firstname"])] = emu.add_contact(**row)
        clock.tick(seconds=1)
    return ids


def find(api: HubSpot, *filters: dict[str, Any], **kw: Any) -> list[str]:
    body = PublicObjectSearchRequest(filter_groups=[{"filters": list(filters)}] if filters else [],
                                     limit=kw.pop("limit", 100), **kw)
    return [r.properties["firstname"] for r in api.crm.contacts.search_api.do_search(body).results]


def f(prop: str, op: str, value: Any = None, **kw: Any) -> dict[str, Any]:
    out = {"propertyName": prop, "operator": op, **kw}
    if value is not None:
        out["value"] = value
    return out


# -- filters ----------------------------------------------------------------------------
def test_text_equality_ignores_case_and_neq_includes_unset_values(
        api: HubSpot, people: dict[str, str]) -> None:
    assert find(api, f("email", "EQ", "grace@NAVY.example")) == ["Grace"]
    assert find(api, f("company", "NEQ", "nasa")) == ["Ada", "Grace", "Alan", "Edsger"]
    assert find(api, f("email", "NEQ", "ada@analytical.example")) == [
        "Grace", "Alan", "Katherine", "Edsger"]


def test_enumerations_compare_case_sensitively(api: HubSpot, people: dict[str, str]) -> None:
    assert find(api, f("lifecyclestage", "EQ", "lead")) == ["Ada", "Alan"]
    assert find(api, f("lifecyclestage", "EQ", "LEAD")) == []


def test_in_and_not_in_expect_lowercase_values(api: HubSpot, people: dict[str, str]) -> None:
    assert find(api, f("email", "IN", values=["grace@navy.example", "alan@bletchley.example"])
                ) == ["Grace", "Alan"]
    assert find(api, f("email", "IN", values=["GRACE@navy.example"])) == []
    assert find(api, f("lifecyclestage", "NOT_IN", values=["lead", "customer"])) == [
        "Katherine", "Edsger"]


def test_presence_and_token_filters(api: HubSpot, people: dict[str, str]) -> None:
    assert find(api, f("email", "NOT_HAS_PROPERTY")) == ["Katherine"]
    assert find(api, f("nexadesk_amount", "HAS_PROPERTY")) == ["Ada", "Grace", "Alan"]
    assert find(api, f("company", "CONTAINS_TOKEN", "navy")) == ["Grace"]
    assert find(api, f("company", "CONTAINS_TOKEN", "eindh*")) == ["Edsger"]
    assert find(api, f("company", "CONTAINS_TOKEN", "eindh")) == []


def test_ranges_compare_numbers_and_instants(api: HubSpot, people: dict[str, str]) -> None:
    assert find(api, f("nexadesk_amount", "GT", "1000")) == ["Grace", "Alan"]
    assert find(api, f("nexadesk_amount", "LTE", 1500)) == ["Ada", "Grace"]
    start = T0 + timedelta(seconds=1)
    millis = str(int(start.timestamp() * 1000))
    assert find(api, f("lastmodifieddate", "GTE", millis)) == [
        "Grace", "Alan", "Katherine", "Edsger"]
    iso_high = (T0 + timedelta(seconds=2)).isoformat()
    assert find(api, f("createdate", "BETWEEN", millis, highValue=iso_high)) == [
        "Grace", "Alan"]
    assert find(api, f("hs_object_id", "EQ", people["Alan"])) == ["Alan"]


def test_groups_are_or_and_filters_in_a_group_are_and(api: HubSpot,
                                                      people: dict[str, str]) -> None:
    body = PublicObjectSearchRequest(filter_groups=[
        {"filters": [f("lifecyclestage", "EQ", "lead"), f("nexadesk_amount", "GT", 1000)]},
        {"filters": [f("company", "EQ", "NASA")]},
    ])
    found = api.crm.contacts.search_api.do_search(body).results
    assert [r.properties["firstname"] for r in found] == ["Alan", "Katherine"]


def test_free_text_query(api: HubSpot, people: dict[str, str]) -> None:
    assert find(api, query="bletchley") == ["Alan"]


# -- sort, paging, properties -----------------------------------------------------------
def test_one_sort_applies_with_ties_in_id_order_and_unset_values_last(
        emu: HubSpotEmulator, api: HubSpot, people: dict[str, str]) -> None:
    assert find(api, sorts=[{"propertyName": "nexadesk_amount", "direction": "DESCENDING"}]
                ) == ["Alan", "Grace", "Ada", "Katherine", "Edsger"]
    assert find(api, sorts=["-createdate"]) == ["Edsger", "Katherine", "Alan", "Grace", "Ada"]
    emu.set_lastmodified([people["Edsger"], people["Ada"]], T0 + timedelta(minutes=5))
    assert find(api, sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}]
                )[:2] == ["Ada", "Edsger"]


def test_offset_paging_total_and_returned_properties(emu: HubSpotEmulator,
                                                     api: HubSpot) -> None:
    ids = emu.seed(23, seed=5)
    search = api.crm.contacts.search_api
    seen, after = [], None
    while True:
        page = search.do_search(PublicObjectSearchRequest(
            limit=10, after=after, properties=["phone"],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}]))
        assert page.total == 23
        assert all(set(r.properties) == {"phone", "createdate", "hs_object_id",
                                         "lastmodifieddate"} for r in page.results)
        seen += [r.id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == ids and after == "20"
    default = search.do_search(PublicObjectSearchRequest(limit=1)).results[0].properties
    assert set(default) == {"createdate", "email", "firstname", "hs_object_id",
                            "lastmodifieddate", "lastname"}


def test_search_leaves_out_archived_and_merged_away_contacts(emu: HubSpotEmulator,
                                                            api: HubSpot) -> None:
    keep = emu.add_contact(firstname="Keep")
    gone = emu.add_contact(firstname="Gone")
    merged = emu.add_contact(firstname="Merged")
    emu.archive_contact(gone)
    emu.merge(keep, merged)
    assert find(api) == ["Keep"]


def test_a_write_between_two_pages_shows_on_the_second(
        raw: httpx.Client, emu: HubSpotEmulator, people: dict[str, str]) -> None:
    """Pages of one query are served from its matches kept since the last write: each
    kind of write, over HTTP or direct, must show on the very next page."""
    oldest = {"sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
              "properties": ["firstname"], "limit": 2}

    def page(after: int) -> tuple[int, list[str]]:
        answer = raw.post(SEARCH, json={**oldest, "after": after}).json()
        return answer["total"], [r["properties"]["firstname"] for r in answer["results"]]

    assert page(0) == (5, ["Ada", "Grace"])
    assert page(2) == (5, ["Alan", "Katherine"])
    patched = raw.patch(f"/crm/v3/objects/contacts/{people['Alan']}",
                        json={"properties": {"phone": "+1 555"}})
    assert patched.status_code == 200
    assert page(2) == (5, ["Katherine", "Edsger"])  # Alan is the newest now
    emu.archive_contact(people["Katherine"])
    assert page(2) == (4, ["Edsger", "Alan"])
    emu.set_lastmodified([people["Alan"]], T0 - timedelta(days=1))
    assert page(0) == (4, ["Alan", "Ada"])
    created = raw.post(f"{SEARCH.rsplit('/', 1)[0]}/batch/create",
                       json={"inputs": [{"properties": {"firstname": "Newest"}}]})
    assert created.status_code == 201
    assert page(4) == (5, ["Newest"])
    emu.merge(people["Ada"], people["Grace"])  # Ada modified now: ties go in id order
    assert page(2) == (4, ["Ada", "Newest"])


# -- limits -----------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    {"limit": 201},
    {"filterGroups": [{"filters": [f("firstname", "EQ", "x")]}] * 6},
    {"filterGroups": [{"filters": [f("firstname", "EQ", "x")] * 7}]},
    {"filterGroups": [{"filters": [f("firstname", "EQ", "x")] * 6}] * 4},
    {"filterGroups": [{"filters": [f("no_such_property", "EQ", "x")]}]},
    {"filterGroups": [{"filters": [f("firstname", "LIKE", "x")]}]},
    {"filterGroups": [{"filters": [f("lastmodifieddate", "GT", "yesterday")]}]},
])
def test_requests_beyond_the_documented_limits_are_400(raw: httpx.Client,
                                                       body: dict[str, Any]) -> None:
    answer = raw.post(SEARCH, json=body)
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"


def test_paging_stops_at_10000_results(emu: HubSpotEmulator, api: HubSpot,
                                       raw: httpx.Client) -> None:
    emu.seed(10_050, seed=1)
    search = api.crm.contacts.search_api
    page = search.do_search(PublicObjectSearchRequest(limit=200, after="9900"))
    assert page.total == 10_050 and len(page.results) == 100
    assert page.paging.next.after == "10000"
    with pytest.raises(ApiException) as exc:
        search.do_search(PublicObjectSearchRequest(limit=200, after="10000"))
    assert exc.value.status == 400
    assert raw.post(SEARCH, json={"after": 9999, "limit": 5}).json()["results"] != []


# -- the index's lag, totals, the server's time --------------------------------------
def test_search_shows_writes_once_indexed_and_totals_count_what_it_shows(
        raw: httpx.Client, emu: HubSpotEmulator, people: dict[str, str], clock: Clock) -> None:
    newest = {"sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
              "properties": ["firstname", "phone"], "limit": 2}
    emu.store.hold_search_index()
    emu.update_contact(people["Ada"], phone="+1 555")
    clock.tick(seconds=1)
    emu.archive_contact(people["Grace"])
    late = emu.add_contact(firstname="Late")
    # Search still shows the index as it was; reads by id see every write at once.
    page = raw.post(SEARCH, json=newest).json()
    assert page["total"] == 5 and [r["id"] for r in page["results"]] == [
        people["Edsger"], people["Katherine"]]
    assert raw.get(f"/crm/v3/objects/contacts/{late}").status_code == 200
    ada = raw.post(SEARCH, json={"filterGroups": [{"filters": [
        f("hs_object_id", "EQ", people["Ada"])]}], "properties": ["phone"]}).json()
    assert ada["results"][0]["properties"]["phone"] is None

    emu.store.release_search_index([late])  # indexed one object at a time
    assert raw.post(SEARCH, json=newest).json()["total"] == 6
    emu.store.release_search_index()
    page = raw.post(SEARCH, json=newest).json()
    assert page["total"] == 5  # Grace archived, Late created
    assert [r["id"] for r in page["results"]] == [late, people["Ada"]]


def test_every_answer_is_dated_on_the_emulators_clock(
        raw: httpx.Client, emu: HubSpotEmulator, clock: Clock) -> None:
    assert raw.post(SEARCH, json={"limit": 1}).headers["Date"] == "Thu, 01 May 2025 09:00:00 GMT"
    clock.tick(seconds=90)
    answer = raw.get("/crm/v3/objects/contacts")
    assert answer.headers.get_list("Date") == ["Thu, 01 May 2025 09:01:30 GMT"]
