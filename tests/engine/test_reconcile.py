"""Reconcile alone: hand-built links and records in, a plan out. No store, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from nexasync.connectors.base import Record
from nexasync.connectors.memory import MemoryConnector
from nexasync.engine.plan import Item, Plan, Side
from nexasync.engine.reconcile import READ_ONLY_KEY, Policy, reconcile
from nexasync.lead import Lead, normalise
from nexasync.store.store import Link

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
CRM = MemoryConnector("crm", name_limit=20, stage_map={"qualified": "contacted"})


def policy(
    nd_deleted: str = "propagate",
    crm_deleted: str = "propagate",
    *,
    max_ratio: float = 1.0,
    max_unguarded: int = 1,
    rules: Mapping[str, str] | None = None,
) -> Policy:
    return Policy(
        rule_of=lambda f: (rules or {}).get(f, "two-way"),
        delete_policy={"nexadesk": nd_deleted, "crm": crm_deleted},
        max_delete_ratio=max_ratio,
        max_unguarded_deletes=max_unguarded,
        project={"nexadesk": dict, "crm": CRM.project},
    )


def rec(id: str, minute: int = 0, read_only: str | None = None, **fields: Any) -> Record:
    return Record(
        id,
        normalise(fields),
        version=f"v{minute}",
        modified_at=T0 + timedelta(minutes=minute),
        read_only=read_only,
    )


def gone(id: str) -> Record:
    return Record(id, deleted=True)


def link(
    n: int,
    nd_id: str | None,
    crm_id: str | None,
    base: Mapping[str, Any] | None = None,
    *,
    crm_base: Lead | None = None,
    lost: str | None = None,
    pending: dict[str, Any] | None = None,
) -> Link:
    nd_base = normalise(base or {})
    return Link(
        id=n,
        pair="p",
        nexadesk_id=nd_id,
        crm_id=crm_id,
        base_nexadesk=nd_base,
        base_crm=dict(crm_base) if crm_base is not None else CRM.project(nd_base),
        nexadesk_version="v0",
        crm_version="v0",
        lost=lost,
        pending=pending,
    )


def plan_of(
    nd: Iterable[Record] = (),
    crm: Iterable[Record] = (),
    links: Iterable[Link] = (),
    *,
    candidates: Mapping[Side, Iterable[Record]] | None = None,
    link_count: int | None = None,
    pol: Policy | None = None,
) -> Plan:
    links = list(links)
    return reconcile(
        "p",
        {"nexadesk": {r.id: r for r in nd}, "crm": {r.id: r for r in crm}},
        links,
        candidates or {},
        len(links) if link_count is None else link_count,
        pol or policy(),
    )


def ops(plan: Plan) -> list[tuple[str, str, str | None]]:
    return sorted((w.op, w.target, w.target_id) for i in plan.items for w in i.writes)


def only(plan: Plan) -> Item:
    assert len(plan.items) == 1, plan.items
    return plan.items[0]


ANN = {"visitor_name": "Ann Lee", "visitor_email": "ann@x.com", "visitor_phone": "1"}


# -- new records: match before create -------------------------------------------------------
def test_new_records_with_the_same_email_are_linked_not_created() -> None:
    plan = plan_of(
        nd=[rec("n1", 1, visitor_name="Ann", visitor_email="Ann@X.com")],
        crm=[rec("c1", 2, visitor_name="Ann", visitor_email="ann@x.COM", visitor_phone="5")],
    )
    item = only(plan)
    assert (item.nexadesk_id, item.crm_id, item.link_id) == ("n1", "c1", None)
    assert ops(plan) == [("update", "nexadesk", "n1")]
    assert item.writes[0].fields == {"visitor_phone": "5"}


def test_new_record_is_matched_to_a_candidate_found_on_the_other_side() -> None:
    plan = plan_of(
        nd=[rec("n1", 1, visitor_name="Ann", visitor_email="ANN@x.com")],
        candidates={"crm": [rec("c9", 0, visitor_name="Ann", visitor_email="ann@x.com")]},
    )
    item = only(plan)
    assert (item.nexadesk_id, item.crm_id) == ("n1", "c9")
    assert ops(plan) == []


def test_a_candidate_that_is_already_linked_is_not_reused() -> None:
    existing = link(1, "n0", "c9", ANN)
    plan = plan_of(
        nd=[rec("n1", 1, visitor_name="Ann 2", visitor_email="ann@x.com")],
        links=[existing],
        candidates={"crm": [rec("c9", 0, **ANN)]},
    )
    assert ("create", "crm", None) in ops(plan)
    assert not any(i.crm_id == "c9" and i.nexadesk_id == "n1" for i in plan.items)


def test_new_record_without_a_match_is_created_on_the_other_side() -> None:
    plan = plan_of(crm=[rec("c1", 1, visitor_name="Bo", visitor_email="bo@x.com")])
    item = only(plan)
    (write,) = item.writes
    assert (write.op, write.target, write.source_id) == ("create", "nexadesk", "c1")
    assert write.fields == normalise({"visitor_name": "Bo", "visitor_email": "bo@x.com"})
    assert item.base["crm"] == write.fields


def test_records_without_email_are_never_matched_to_each_other() -> None:
    plan = plan_of(nd=[rec("n1", 1, visitor_name="Ann")], crm=[rec("c1", 1, visitor_name="Ann")])
    assert ops(plan) == [("create", "crm", None), ("create", "nexadesk", None)]


def test_two_new_records_with_one_email_on_one_side_link_only_one() -> None:
    plan = plan_of(
        nd=[rec("n1", 1, visitor_email="a@x.com"), rec("n2", 2, visitor_email="A@x.com")],
        crm=[rec("c1", 1, visitor_email="a@x.com")],
    )
    linked = [(i.nexadesk_id, i.crm_id) for i in plan.items if i.nexadesk_id and i.crm_id]
    assert len(linked) == 1
    assert ops(plan) == [("create", "crm", None)]


# -- deletes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("gone_side", ["nexadesk", "crm"])
def test_delete_propagates(gone_side: Side) -> None:
    lk = link(1, "n1", "c1", ANN)
    if gone_side == "nexadesk":
        plan = plan_of(nd=[gone("n1")], links=[lk])
        expected = [("delete", "crm", "c1")]
    else:
        plan = plan_of(crm=[gone("c1")], links=[lk])
        expected = [("delete", "nexadesk", "n1")]
    assert ops(plan) == expected
    assert only(plan).forget


@pytest.mark.parametrize("gone_side", ["nexadesk", "crm"])
def test_delete_ignored_keeps_the_other_record_and_stops_syncing(gone_side: Side) -> None:
    lk = link(1, "n1", "c1", ANN)
    pol = policy("ignore", "ignore")
    if gone_side == "nexadesk":
        plan = plan_of(nd=[gone("n1")], links=[lk], pol=pol)
    else:
        plan = plan_of(crm=[gone("c1")], links=[lk], pol=pol)
    item = only(plan)
    assert ops(plan) == []
    assert not item.forget
    assert item.lost and gone_side in item.lost


@pytest.mark.parametrize("gone_side", ["nexadesk", "crm"])
def test_delete_marked_lost_sets_the_other_record_lost(gone_side: Side) -> None:
    lk = link(1, "n1", "c1", {**ANN, "pipeline_stage": "qualified"})
    pol = policy("mark_lost", "mark_lost")
    if gone_side == "nexadesk":
        plan = plan_of(nd=[gone("n1")], links=[lk], pol=pol)
        kept, kept_id = "crm", "c1"
    else:
        plan = plan_of(crm=[gone("c1")], links=[lk], pol=pol)
        kept, kept_id = "nexadesk", "n1"
    item = only(plan)
    assert ops(plan) == [("update", kept, kept_id)]
    assert item.writes[0].fields == {"pipeline_stage": "lost"}
    assert item.lost and not item.forget


def test_mark_lost_on_a_lead_already_lost_writes_nothing() -> None:
    lk = link(1, "n1", "c1", {**ANN, "pipeline_stage": "lost"})
    plan = plan_of(nd=[gone("n1")], links=[lk], pol=policy("mark_lost", "mark_lost"))
    assert ops(plan) == []
    assert only(plan).lost


def test_policy_is_per_direction() -> None:
    pol = policy(nd_deleted="ignore", crm_deleted="propagate")
    links = [link(1, "n1", "c1", ANN), link(2, "n2", "c2", ANN)]
    plan = plan_of(nd=[gone("n1")], crm=[gone("c2")], links=links, pol=pol)
    assert ops(plan) == [("delete", "nexadesk", "n2")]


@pytest.mark.parametrize("gone_side", ["nexadesk", "crm"])
def test_delete_against_edit_the_edit_wins_and_is_recreated(gone_side: Side) -> None:
    lk = link(1, "n1", "c1", ANN)
    edited = {**ANN, "visitor_phone": "2"}
    if gone_side == "nexadesk":
        plan = plan_of(nd=[gone("n1")], crm=[rec("c1", 3, **edited)], links=[lk])
    else:
        plan = plan_of(nd=[rec("n1", 3, **edited)], crm=[gone("c1")], links=[lk])
    item = only(plan)
    (write,) = item.writes
    assert (write.op, write.target) == ("create", gone_side)
    assert write.fields == normalise(edited)
    assert not item.forget
    assert (item.nexadesk_id if gone_side == "nexadesk" else item.crm_id) is None


def test_recreated_lead_takes_the_kept_side_as_its_base() -> None:
    # Later edits are compared with this base: a stale one hides them (or invents them).
    lk = link(1, "n1", "c1", ANN)
    edited = normalise({**ANN, "visitor_phone": "2", "visitor_email": "new@x.com"})
    plan = plan_of(nd=[gone("n1")], crm=[rec("c1", 3, **edited)], links=[lk])
    item = only(plan)
    assert item.base["crm"] == edited
    assert item.base["nexadesk"] == {}


def test_retried_create_takes_the_kept_side_as_its_base() -> None:
    pending_create = link(1, "n1", None, {}, crm_base={}, pending={"crm": {"deleted": True}})
    fields = normalise({**ANN, "visitor_company": "Acme"})
    plan = plan_of(nd=[rec("n1", 2, **fields)], links=[pending_create])
    item = only(plan)
    assert [(w.op, w.target) for w in item.writes] == [("create", "crm")]
    assert item.base["nexadesk"] == fields


def test_blank_in_a_field_the_base_never_held_is_not_an_edit_against_a_delete() -> None:
    lk = link(1, "n1", "c1", ANN)
    plan = plan_of(
        nd=[gone("n1")], crm=[rec("c1", 3, **ANN, visitor_company=None, tags=[])], links=[lk]
    )
    assert ops(plan) == [("delete", "crm", "c1")]


def test_field_left_out_of_a_read_is_not_an_edit_against_a_delete() -> None:
    lk = link(1, "n1", "c1", ANN)
    partial = {k: v for k, v in ANN.items() if k != "visitor_phone"}
    plan = plan_of(nd=[gone("n1")], crm=[rec("c1", 3, **partial)], links=[lk])
    assert ops(plan) == [("delete", "crm", "c1")]


def test_record_read_again_unchanged_does_not_save_it_from_a_delete() -> None:
    lk = link(1, "n1", "c1", ANN)
    plan = plan_of(nd=[gone("n1")], crm=[rec("c1", 3, **ANN)], links=[lk])
    assert ops(plan) == [("delete", "crm", "c1")]


def test_deleted_on_both_sides_forgets_the_link() -> None:
    plan = plan_of(nd=[gone("n1")], crm=[gone("c1")], links=[link(1, "n1", "c1", ANN)])
    item = only(plan)
    assert item.forget
    assert ops(plan) == []


def test_deleted_before_its_pending_create_forgets_the_link() -> None:
    pending_create = link(1, "n1", None, {}, crm_base={}, pending={"crm": {"deleted": True}})
    plan = plan_of(nd=[gone("n1")], links=[pending_create])
    assert only(plan).forget
    assert ops(plan) == []


def test_lost_link_is_never_synced_nor_recreated() -> None:
    lk = link(1, "n1", "c1", ANN, lost="deleted in crm")
    plan = plan_of(nd=[rec("n1", 3, **{**ANN, "visitor_phone": "7"})], links=[lk])
    assert plan.items == []


# -- mass-delete guard ---------------------------------------------------------------------------
def _many(n: int) -> list[Link]:
    return [link(i, f"n{i}", f"c{i}", {**ANN, "visitor_email": f"{i}@x.com"}) for i in range(n)]


def test_mass_delete_guard_trips_above_the_ratio() -> None:
    links = _many(3)
    pol = policy(max_ratio=0.1, max_unguarded=2)
    plan = plan_of(nd=[gone(f"n{i}") for i in range(3)], links=links, link_count=20, pol=pol)
    assert ops(plan) == []
    assert len(plan.warnings) == 1 and "mass-delete guard" in plan.warnings[0]
    for item in plan.items:
        assert item.hold and not item.forget
        assert ("crm", "mass-delete guard") in item.skipped


def test_mass_delete_guard_allows_up_to_the_ratio() -> None:
    links = _many(3)
    plan = plan_of(
        nd=[gone(f"n{i}") for i in range(3)],
        links=links,
        link_count=30,
        pol=policy(max_ratio=0.1, max_unguarded=1),
    )
    assert ops(plan) == [("delete", "crm", f"c{i}") for i in range(3)]
    assert plan.warnings == []


def test_mass_delete_guard_allows_up_to_max_unguarded() -> None:
    links = _many(2)
    plan = plan_of(
        crm=[gone("c0"), gone("c1")],
        links=links,
        link_count=2,
        pol=policy(max_ratio=0.0, max_unguarded=2),
    )
    assert ops(plan) == [("delete", "nexadesk", "n0"), ("delete", "nexadesk", "n1")]
    assert plan.warnings == []


def test_mass_delete_guard_counts_each_side_apart() -> None:
    links = _many(4)
    plan = plan_of(
        nd=[gone("n0"), gone("n1")],
        crm=[gone("c2")],
        links=links,
        link_count=4,
        pol=policy(max_ratio=0.0, max_unguarded=1),
    )
    # Two deletes in the CRM are over the limit; one in NexaDesk is not.
    assert ops(plan) == [("delete", "nexadesk", "n2")]


# -- read-only targets --------------------------------------------------------------------------
def test_read_only_target_is_skipped_not_written() -> None:
    lk = link(1, "n1", "c1", ANN)
    plan = plan_of(
        nd=[rec("n1", 3, **{**ANN, "visitor_phone": "2"})],
        crm=[rec("c1", 2, read_only="converted", **ANN)],
        links=[lk],
    )
    item = only(plan)
    assert ops(plan) == []
    assert [s for s, _ in item.skipped] == ["crm"]
    assert item.base["crm"][READ_ONLY_KEY] == "converted"
    assert item.base["crm"]["visitor_phone"] == "1"


def test_read_only_remembered_in_the_base_is_skipped_when_not_read_again() -> None:
    lk = link(1, "n1", "c1", ANN, crm_base={**CRM.project(normalise(ANN)), READ_ONLY_KEY: "conv"})
    plan = plan_of(nd=[rec("n1", 3, **{**ANN, "visitor_phone": "2"})], links=[lk])
    item = only(plan)
    assert ops(plan) == []
    assert item.skipped and item.skipped[0][0] == "crm"


def test_read_only_record_still_flows_the_other_way() -> None:
    lk = link(1, "n1", "c1", ANN)
    plan = plan_of(
        crm=[rec("c1", 2, read_only="converted", **{**ANN, "visitor_phone": "9"})], links=[lk]
    )
    assert ops(plan) == [("update", "nexadesk", "n1")]


def test_mark_lost_on_a_read_only_record_is_skipped() -> None:
    lk = link(1, "n1", "c1", ANN)
    plan = plan_of(
        nd=[gone("n1")],
        crm=[rec("c1", 0, read_only="converted", **ANN)],
        links=[lk],
        pol=policy("mark_lost", "mark_lost"),
    )
    item = only(plan)
    assert ops(plan) == []
    assert item.lost and item.skipped


# -- bad records -----------------------------------------------------------------------------------
def test_invalid_records_are_reported_and_the_rest_planned() -> None:
    bad = Record("n2", {}, invalid="unknown pipeline stage 'hot'")
    plan = plan_of(
        nd=[bad, rec("n1", 1, visitor_name="Ok", visitor_email="ok@x.com")],
        crm=[Record("c5", {}, invalid="bad amount")],
    )
    assert sorted(plan.invalid) == [
        ("crm", "c5", "bad amount"),
        ("nexadesk", "n2", "unknown pipeline stage 'hot'"),
    ]
    assert ops(plan) == [("create", "crm", None)]


def test_invalid_read_of_a_linked_record_changes_nothing() -> None:
    lk = link(1, "n1", "c1", ANN)
    plan = plan_of(nd=[Record("n1", {}, invalid="garbled")], links=[lk])
    assert plan.invalid == [("nexadesk", "n1", "garbled")]
    assert ops(plan) == []
    assert not only(plan).forget


# -- linked records: merge and lossy mapping -------------------------------------------------------
def test_linked_change_is_planned_as_an_update_of_only_that_field() -> None:
    lk = link(1, "n1", "c1", ANN)
    plan = plan_of(crm=[rec("c1", 2, **{**ANN, "visitor_company": "Acme"})], links=[lk])
    item = only(plan)
    assert [(w.op, w.target, w.fields) for w in item.writes] == [
        ("update", "nexadesk", {"visitor_company": "Acme"})
    ]


def test_lossy_values_read_back_are_not_written_back() -> None:
    nd = {**ANN, "visitor_name": "Alexandra Wonderland-Smythe", "pipeline_stage": "qualified"}
    lk = link(1, "n1", "c1", nd)
    plan = plan_of(
        nd=[rec("n1", 1, **nd)], crm=[rec("c1", 2, **CRM.project(normalise(nd)))], links=[lk]
    )
    assert ops(plan) == []


def test_pending_state_keeps_the_newest_side_winning_on_retry() -> None:
    # A conflict whose write failed is retried from the link's pending state, with the
    # times read then: the newer side must still win, not the tie-break side.
    lk = link(
        1,
        "n1",
        "c1",
        ANN,
        pending={
            "nexadesk": {
                "fields": normalise({**ANN, "visitor_phone": "2"}),
                "modified_at": (T0 + timedelta(minutes=1)).isoformat(),
            },
            "crm": {
                "fields": normalise({**ANN, "visitor_phone": "3"}),
                "modified_at": (T0 + timedelta(minutes=2)).isoformat(),
            },
        },
    )
    plan = plan_of(links=[lk])
    item = only(plan)
    assert [(w.op, w.target, w.fields) for w in item.writes] == [
        ("update", "nexadesk", {"visitor_phone": "3"})
    ]
