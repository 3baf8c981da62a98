"""The NexaDesk emulator over real HTTP: the documented API, its limits and errors,
pagination, and the fault hooks the connector tests rely on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from nexasync.sandbox._http import ServerThread
from nexasync.sandbox.nexadesk import LEADS_PATH, NexaDeskEmulator

KEY = "nd_test_key"
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 15, 10, 30, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, ms: int = 1) -> None:
        self.now += timedelta(milliseconds=ms)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[NexaDeskEmulator, str]]:
    # One server for the module: starting and stopping one per test is the slow part.
    emulator = NexaDeskEmulator(KEY)
    with ServerThread(emulator) as server:
        yield emulator, server.url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(served: tuple[NexaDeskEmulator, str], clock: Clock) -> NexaDeskEmulator:
    emulator = served[0]
    emulator.reset()
    emulator.clock = clock
    emulator.rate_limit = None
    return emulator


@pytest.fixture
def client(
    served: tuple[NexaDeskEmulator, str], emulator: NexaDeskEmulator
) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[1], headers={"Authorization": f"Bearer {KEY}"}) as http:
        yield http


def list_leads(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get(LEADS_PATH, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def create(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post(LEADS_PATH, json=body)


# -- auth and rate limits ------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": KEY},
    ],
)
def test_requests_without_the_bearer_key_are_refused(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    client.headers.pop("Authorization")
    response = client.get(LEADS_PATH, headers=headers)
    assert response.status_code == 401
    assert response.json()["success"] is False


def test_rate_limit_answers_429_with_retry_after(
    emulator: NexaDeskEmulator, client: httpx.Client
) -> None:
    emulator.rate_limit, emulator.rate_window = 2, 30
    statuses = [client.get(LEADS_PATH).status_code for _ in range(2)]
    limited = client.get(LEADS_PATH)
    assert statuses == [200, 200]
    assert limited.status_code == 429
    retry_after = limited.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 30


# -- listing -------------------------------------------------------------------------
def test_list_shape_and_lead_fields(emulator: NexaDeskEmulator, client: httpx.Client) -> None:
    rep = emulator.add_rep("Alex", "Rivera", "alex@nexadesk.example")
    emulator.add_lead(visitor_name="Jane Smith", assigned_rep_id=rep, tags=["b2b"])
    emulator.add_lead(visitor_name="John Doe")
    body = list_leads(client)
    assert body["success"] is True
    assert body["pagination"] == {
        "has_more": False,
        "next_cursor": None,
        "total_count": 2,
        "limit": 50,
    }
    by_name = {lead["visitor_name"]: lead for lead in body["data"]}
    jane, john = by_name["Jane Smith"], by_name["John Doe"]
    assert (jane["rep_first_name"], jane["rep_last_name"], jane["rep_email"]) == (
        "Alex",
        "Rivera",
        "alex@nexadesk.example",
    )
    assert john["assigned_rep_id"] is None and john["rep_email"] is None
    for lead in (jane, john):
        assert isinstance(lead["lead_score"], int)
        assert TS.match(lead["created_at"]) and TS.match(lead["updated_at"])


@pytest.mark.parametrize("limit", ["0", "101", "-5", "ten"])
def test_limit_out_of_range_is_400(client: httpx.Client, limit: str) -> None:
    response = client.get(LEADS_PATH, params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["message"]


def test_limit_default_50_and_max_100(emulator: NexaDeskEmulator, client: httpx.Client) -> None:
    emulator.seed(120)
    assert len(list_leads(client)["data"]) == 50
    assert len(list_leads(client, limit=100)["data"]) == 100


def test_cursor_pages_cover_everything_once(
    emulator: NexaDeskEmulator, client: httpx.Client
) -> None:
    emulator.seed(25)
    ids: list[str] = []
    cursors: list[str | None] = []
    params: dict[str, Any] = {"limit": 10, "sort": "updated_at:desc"}
    while True:
        body = list_leads(client, **params)
        assert body["pagination"]["total_count"] == 25
        ids += [lead["id"] for lead in body["data"]]
        cursors.append(body["pagination"]["next_cursor"])
        if not body["pagination"]["has_more"]:
            break
        params["cursor"] = body["pagination"]["next_cursor"]
    assert cursors == ["MTA", "MjA", None]
    assert sorted(ids) == sorted(lead["id"] for lead in emulator.leads())
    page2 = list_leads(client, limit=10, sort="updated_at:desc", page=2)["data"]
    assert [lead["id"] for lead in page2] == ids[10:20]


def test_invalid_cursor_is_400(client: httpx.Client) -> None:
    assert client.get(LEADS_PATH, params={"cursor": "%%%"}).status_code == 400


def test_cursor_is_an_offset_that_shifts_when_data_changes(
    emulator: NexaDeskEmulator, client: httpx.Client
) -> None:
    """Like the real one may: a delete between pages makes the next page skip a lead."""
    emulator.seed(20)
    first = list_leads(client, limit=10, sort="updated_at:desc")
    order = [lead["id"] for lead in first["data"]]
    emulator.delete_lead(order[0])
    second = list_leads(client, limit=10, sort="updated_at:desc", cursor="MTA")
    assert second["pagination"]["total_count"] == 19
    full = [lead["id"] for lead in list_leads(client, limit=20, sort="updated_at:desc")["data"]]
    skipped = full[9]
    assert skipped not in order and skipped not in [lead["id"] for lead in second["data"]]


def test_sort_orders_with_ties_broken_by_id(
    emulator: NexaDeskEmulator, client: httpx.Client
) -> None:
    same = "2026-03-01T00:00:00.000Z"
    for name in ("bob", "Alice", "carol", "Dave"):
        emulator.add_lead(visitor_name=name, updated_at=same)
    emulator.add_lead(visitor_name="Eve", updated_at="2026-03-02T00:00:00.000Z")
    rows = list_leads(client, sort="updated_at:desc")["data"]
    assert rows[0]["visitor_name"] == "Eve"
    tied = [lead["id"] for lead in rows[1:]]
    assert tied == sorted(tied)
    names = [lead["visitor_name"] for lead in list_leads(client, sort="visitor_name:asc")["data"]]
    assert names == ["Alice", "bob", "carol", "Dave", "Eve"]
    scores = [lead["lead_score"] for lead in list_leads(client, sort="lead_score:desc")["data"]]
    assert scores == sorted(scores, reverse=True)


def _expected_order(leads: list[dict[str, Any]], field: str, desc: bool) -> list[str]:
    """The documented order computed from scratch: by the field, ties by id ascending."""

    def key(lead: dict[str, Any]) -> Any:
        return lead[field].casefold() if field == "visitor_name" else lead[field]

    rows = sorted(leads, key=lambda lead: lead["id"])
    return [lead["id"] for lead in sorted(rows, key=key, reverse=desc)]


def test_list_orders_stay_exact_through_writes(
    emulator: NexaDeskEmulator, client: httpx.Client, clock: Clock
) -> None:
    """The orders are kept sorted across writes rather than sorted per request: after
    creates, updates (sort fields moved, backdated, tied) and deletes, through HTTP and
    directly, every page of every order is still the full sort's."""
    orders = [(f, d) for f in ("created_at", "updated_at", "lead_score", "visitor_name")
              for d in ("asc", "desc")]  # fmt: skip
    for i in range(12):  # two leads per millisecond: ties on both timestamps
        clock.tick(i % 2)
        emulator.add_lead(visitor_name=["ann", "Bo", "cy"][i % 3], visitor_email=f"p{i}@x.io")
    for field, direction in orders:  # builds every order before the writes below
        list_leads(client, sort=f"{field}:{direction}")
    ids = [lead["id"] for lead in emulator.leads()]
    for i in range(4):
        assert create(client, visitor_name=f"New {i % 2}", visitor_phone="1").status_code == 201
    patched = client.patch(LEADS_PATH, params={"id": ids[0]}, json={"visitor_name": "Zed"})
    assert patched.status_code == 200
    assert client.delete(LEADS_PATH, params={"id": ids[1]}).status_code == 200
    emulator.update_lead(ids[2], visitor_company="Acme", updated_at="2026-01-01T00:00:00.000Z")
    emulator.update_lead(ids[3], visitor_name="ann")  # ties another lead's name
    emulator.delete_lead(ids[4])
    emulator.add_lead(visitor_name="Old", created_at="2025-12-01T00:00:00.000Z")
    leads = emulator.leads()
    assert len(leads) == 15
    for field, direction in orders:
        got: list[str] = []
        params: dict[str, Any] = {"sort": f"{field}:{direction}", "limit": 4}
        while True:
            body = list_leads(client, **params)
            assert body["pagination"]["total_count"] == 15
            got += [lead["id"] for lead in body["data"]]
            if not body["pagination"]["has_more"]:
                break
            params["cursor"] = body["pagination"]["next_cursor"]
        assert got == _expected_order(leads, field, direction == "desc"), (field, direction)


@pytest.mark.parametrize("sort", ["email:asc", "updated_at:sideways"])
def test_bad_sort_is_400(client: httpx.Client, sort: str) -> None:
    assert client.get(LEADS_PATH, params={"sort": sort}).status_code == 400


def test_stage_and_search_filter_and_count(
    emulator: NexaDeskEmulator, client: httpx.Client
) -> None:
    emulator.add_lead(
        visitor_name="Jane Smith", visitor_email="jane@acme.example", pipeline_stage="new"
    )
    emulator.add_lead(visitor_name="John Doe", visitor_company="ACME Corp", pipeline_stage="lost")
    emulator.add_lead(visitor_name="Zed", visitor_email="zed@other.example", pipeline_stage="new")
    body = list_leads(client, search="acme")
    assert {lead["visitor_name"] for lead in body["data"]} == {"Jane Smith", "John Doe"}
    assert body["pagination"]["total_count"] == 2
    assert [lead["visitor_name"] for lead in list_leads(client, search="SMITH")["data"]] == [
        "Jane Smith"
    ]
    body = list_leads(client, stage="new", search="acme")
    assert [lead["visitor_name"] for lead in body["data"]] == ["Jane Smith"]
    assert client.get(LEADS_PATH, params={"stage": "archived"}).status_code == 400
    assert emulator.counts["search"] == 3 and emulator.counts["list"] == 1


# -- create --------------------------------------------------------------------------
def test_create_answers_201_with_defaults(emulator: NexaDeskEmulator, client: httpx.Client) -> None:
    response = create(client, visitor_name="John Doe", visitor_email="john@techcorp.example")
    assert response.status_code == 201
    lead = response.json()["data"]
    assert response.json()["success"] is True
    assert lead["source"] == "api" and lead["pipeline_stage"] == "new"
    assert lead["created_at"] == lead["updated_at"] == "2026-03-15T10:30:00.000Z"
    assert emulator.get(lead["id"]) == lead
    assert emulator.counts["create"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "visitor_name"),
        ({"visitor_name": "   "}, "visitor_name"),
        ({"visitor_name": "x" * 201}, "visitor_name"),
        ({"visitor_name": "A", "visitor_phone": "1" * 51}, "visitor_phone"),
        ({"visitor_name": "A", "visitor_company": "c" * 201}, "visitor_company"),
        ({"visitor_name": "A", "need_summary": "n" * 2001}, "need_summary"),
        ({"visitor_name": "A", "source": "s" * 101}, "source"),
        ({"visitor_name": "A", "pipeline_stage": "archived"}, "pipeline_stage"),
        ({"visitor_name": "A", "tags": "vip"}, "tags"),
        ({"visitor_name": "A", "tags": [1, 2]}, "tags"),
        ({"visitor_name": "A", "expected_billing_amount": "5000"}, "expected_billing_amount"),
        ({"visitor_name": "A", "assigned_rep_id": None}, "assigned_rep_id"),
        ({"visitor_name": "A", "nickname": "J"}, "nickname"),
    ],
)
def test_create_validation_errors_name_the_field(
    emulator: NexaDeskEmulator, client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = create(client, **body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["message"]
    assert emulator.leads() == []


def test_create_accepts_values_at_the_limits(client: httpx.Client) -> None:
    body = {
        "visitor_name": "x" * 200,
        "visitor_phone": "1" * 50,
        "visitor_company": "c" * 200,
        "need_summary": "n" * 2000,
        "source": "s" * 100,
        "tags": ["a", "b"],
        "expected_billing_amount": 12.5,
    }
    response = create(client, **body)
    assert response.status_code == 201
    assert {k: response.json()["data"][k] for k in body} == body


def test_non_json_body_is_400(client: httpx.Client) -> None:
    response = client.post(
        LEADS_PATH, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


# -- update and delete ---------------------------------------------------------------
def test_patch_changes_given_fields_and_bumps_updated_at(
    emulator: NexaDeskEmulator, client: httpx.Client, clock: Clock
) -> None:
    lead = emulator.add_lead(visitor_name="Jane", visitor_phone="+1-555-0100", tags=["a"])
    clock.tick(1500)
    response = client.patch(
        LEADS_PATH, params={"id": lead["id"]}, json={"pipeline_stage": "qualified", "tags": ["b"]}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["pipeline_stage"] == "qualified" and data["tags"] == ["b"]
    assert data["visitor_phone"] == "+1-555-0100"
    assert data["updated_at"] == "2026-03-15T10:30:01.500Z"
    assert data["created_at"] == lead["created_at"]


def test_patch_assigns_and_unassigns_reps(emulator: NexaDeskEmulator, client: httpx.Client) -> None:
    rep = emulator.add_rep("Sam", "Chen", "sam@nexadesk.example")
    lead = emulator.add_lead(visitor_name="Jane")
    data = client.patch(LEADS_PATH, params={"id": lead["id"]}, json={"assigned_rep_id": rep}).json()
    assert data["data"]["rep_email"] == "sam@nexadesk.example"
    data = client.patch(
        LEADS_PATH, params={"id": lead["id"]}, json={"assigned_rep_id": None}
    ).json()
    assert data["data"]["assigned_rep_id"] is None and data["data"]["rep_first_name"] is None
    unknown = client.patch(
        LEADS_PATH, params={"id": lead["id"]}, json={"assigned_rep_id": "nobody"}
    )
    assert unknown.status_code == 400 and "assigned_rep_id" in unknown.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": "web"}, "source"),
        ({"lead_score": 99}, "lead_score"),
        ({"visitor_name": ""}, "visitor_name"),
        ({"visitor_phone": "1" * 51}, "visitor_phone"),
        ({"pipeline_stage": None}, "pipeline_stage"),
    ],
)
def test_patch_refuses_fields_it_cannot_set(
    emulator: NexaDeskEmulator, client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    lead = emulator.add_lead(visitor_name="Jane", source="widget")
    response = client.patch(LEADS_PATH, params={"id": lead["id"]}, json=body)
    assert response.status_code == 400 and field in response.json()["error"]["message"]
    assert emulator.get(lead["id"]) == lead


def test_patch_and_delete_of_a_missing_lead_are_404(client: httpx.Client) -> None:
    assert client.patch(LEADS_PATH, params={"id": "nope"}, json={"tags": []}).status_code == 404
    assert client.delete(LEADS_PATH, params={"id": "nope"}).status_code == 404
    assert client.delete(LEADS_PATH).status_code == 400


def test_delete_answers_the_documented_body(
    emulator: NexaDeskEmulator, client: httpx.Client
) -> None:
    lead = emulator.add_lead(visitor_name="Jane")
    response = client.delete(LEADS_PATH, params={"id": lead["id"]})
    assert response.json() == {"success": True, "data": {"deleted": True, "id": lead["id"]}}
    assert emulator.get(lead["id"]) is None
    assert client.delete(LEADS_PATH, params={"id": lead["id"]}).status_code == 404


# -- hooks, faults, seeding ----------------------------------------------------------
def test_counts_by_kind_and_direct_methods_are_not_counted(
    emulator: NexaDeskEmulator, client: httpx.Client
) -> None:
    lead = emulator.add_lead(visitor_name="Jane")
    emulator.update_lead(lead["id"], visitor_phone="1")
    emulator.seed(3)
    assert emulator.total == 0
    list_leads(client)
    list_leads(client, search="jane")
    create(client, visitor_name="X")
    client.patch(LEADS_PATH, params={"id": lead["id"]}, json={"tags": []})
    client.delete(LEADS_PATH, params={"id": lead["id"]})
    assert dict(emulator.counts) == {"list": 1, "search": 1, "create": 1, "update": 1, "delete": 1}


def test_on_request_runs_before_each_list_answer(
    emulator: NexaDeskEmulator, client: httpx.Client
) -> None:
    emulator.seed(5)
    seen: list[str] = []

    def hook(emu: NexaDeskEmulator, request: Any) -> None:
        seen.append(request.method)
        emu.add_lead(visitor_name="Arrived Meanwhile")

    emulator.on_request = hook
    body = list_leads(client)
    create(client, visitor_name="Not A List")
    assert seen == ["GET"]
    assert body["pagination"]["total_count"] == 6


def test_injected_faults_use_nexadesk_error_bodies(
    emulator: NexaDeskEmulator, client: httpx.Client
) -> None:
    emulator.faults.add("503", match="list")
    emulator.faults.add("429", match="create", retry_after=1)
    response = client.get(LEADS_PATH)
    assert response.status_code == 503 and response.json()["success"] is False
    limited = create(client, visitor_name="A")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert emulator.leads() == []
    assert client.get(LEADS_PATH).status_code == 200


def test_ambiguous_fault_writes_but_answers_500(
    emulator: NexaDeskEmulator, client: httpx.Client
) -> None:
    emulator.faults.add("ambiguous", match="create")
    response = create(client, visitor_name="Jane", visitor_email="jane@example.com")
    assert response.status_code == 500
    assert [lead["visitor_email"] for lead in emulator.leads()] == ["jane@example.com"]


def test_seed_is_reproducible_and_varied() -> None:
    first = NexaDeskEmulator().seed(200, seed=7)
    again = NexaDeskEmulator().seed(200, seed=7)
    assert [lead["id"] for lead in first] == [lead["id"] for lead in again]
    assert any(len(lead["visitor_name"]) > 80 for lead in first)
    assert any(not lead["visitor_company"] for lead in first)
    assert any(lead["visitor_email"] is None for lead in first)
    assert any(lead["tags"] for lead in first)
    assert any(lead["expected_billing_amount"] is not None for lead in first)
    assert any(lead["rep_email"] for lead in first)
    assert len({lead["updated_at"] for lead in first}) > 190
