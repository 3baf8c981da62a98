"""Deletes both ways under each policy, and the mass-delete guard."""

from __future__ import annotations

import pytest
from scenario_harness import Harness, nd_lead

from nexasync.sandbox import Sandbox


def _seed_linked(h: Harness, n: int) -> list[tuple[str, str]]:
    ids = [h.nd.add_lead(**nd_lead(visitor_name=f"Del Person{i}"))["id"] for i in range(n)]
    assert h.cycle().ok
    return [(i, h.crm_id_of(i)) for i in ids]


def _gone(h: Harness, crm_id: str) -> bool:
    lead = h.crm.get(crm_id)
    return lead is None or lead["deleted"]


def test_delete_in_nexadesk_propagates(harness: Harness) -> None:
    pairs = _seed_linked(harness, 3)
    nd_id, crm_id = pairs[0]
    harness.nd.delete_lead(nd_id)
    result = harness.cycle()
    assert result.summary.counts["nexadesk->crm"]["deleted"] == 1
    assert _gone(harness, crm_id)
    assert len(harness.crm_by_email()) == 2
    harness.assert_converged()
    harness.assert_idle()


def test_delete_in_the_crm_propagates(harness: Harness) -> None:
    pairs = _seed_linked(harness, 3)
    nd_id, crm_id = pairs[1]
    harness.crm.delete(crm_id)
    result = harness.cycle()
    assert result.summary.counts["crm->nexadesk"]["deleted"] == 1
    assert harness.nd.get(nd_id) is None
    harness.assert_converged()
    harness.assert_idle()


def test_purged_salesforce_lead_is_found_by_get_deleted(sandbox: Sandbox, tmp_path) -> None:
    h = Harness(sandbox, tmp_path, "salesforce", crm={"deleted_check_seconds": 0})
    pairs = _seed_linked(h, 3)
    nd_id, crm_id = pairs[2]
    h.crm.delete(crm_id)
    h.crm.purge(crm_id)
    h.cycle()
    assert h.nd.get(nd_id) is None
    assert len(h.nd.leads()) == 2


@pytest.mark.parametrize("policy", ["ignore", "mark_lost"])
def test_delete_in_nexadesk_not_propagated(
    sandbox: Sandbox, tmp_path, crm_kind: str, policy: str
) -> None:
    h = Harness(sandbox, tmp_path, crm_kind, deletes={"nexadesk_to_crm": policy})
    pairs = _seed_linked(h, 3)
    nd_id, crm_id = pairs[0]
    h.nd.delete_lead(nd_id)
    h.cycle()
    lead = h.crm.get(crm_id)
    assert lead is not None and not lead["deleted"]
    assert lead["stage"] == h.crm.stage_of("lost" if policy == "mark_lost" else "new")
    link = h.store.links_by_crm(h.pair.name, [crm_id])[crm_id]
    assert link.lost
    # The surviving lead is not re-created in NexaDesk, even when edited later.
    h.crm.update(crm_id, phone="+1-555-3333")
    h.cycle()
    assert len(h.nd.leads()) == 2


@pytest.mark.parametrize("policy", ["ignore", "mark_lost"])
def test_delete_in_the_crm_not_propagated(
    sandbox: Sandbox, tmp_path, crm_kind: str, policy: str
) -> None:
    h = Harness(sandbox, tmp_path, crm_kind, deletes={"crm_to_nexadesk": policy})
    pairs = _seed_linked(h, 3)
    nd_id, crm_id = pairs[0]
    h.crm.delete(crm_id)
    h.cycle()
    lead = h.nd.get(nd_id)
    assert lead is not None
    assert lead["pipeline_stage"] == ("lost" if policy == "mark_lost" else "new")
    assert len(h.crm_by_email()) == 2
    # Edited later in NexaDesk, it is not re-created in the CRM either.
    h.nd.update_lead(nd_id, visitor_phone="+1-555-3334")
    h.cycle()
    assert len(h.crm_by_email()) == 2


def test_delete_on_one_side_edit_on_the_other_keeps_the_lead(harness: Harness) -> None:
    pairs = _seed_linked(harness, 2)
    nd_id, crm_id = pairs[0]
    email = harness.nd.get(nd_id)["visitor_email"]
    harness.nd.delete_lead(nd_id)
    harness.crm.update(crm_id, phone="+1-555-4444")
    harness.cycle()
    assert not _gone(harness, crm_id)
    assert harness.nd_by_email()[email]["visitor_phone"] == "+1-555-4444"
    harness.assert_converged()


def test_mass_delete_guard_trips_and_the_rest_goes_on(harness: Harness) -> None:
    pairs = _seed_linked(harness, 10)
    for nd_id, _ in pairs[:5]:
        harness.nd.delete_lead(nd_id)
    survivor_nd, survivor_crm = pairs[7]
    harness.nd.update_lead(survivor_nd, visitor_phone="+1-555-5555")
    result = harness.cycle()
    assert any("mass-delete guard" in w for w in result.summary.warnings)
    assert not result.ok  # the operator must look: exit code non-zero
    assert len(harness.crm_by_email()) == 10  # nothing deleted
    assert harness.crm.get(survivor_crm)["phone"] == "+1-555-5555"  # the rest synced
    # Still refused next cycle (the deletions are remembered, not forgotten)...
    result = harness.cycle()
    assert any("mass-delete guard" in w for w in result.summary.warnings)
    assert len(harness.crm_by_email()) == 10
    # ...until the operator allows it.
    harness.reconfigure(deletes={"max_ratio": 0.6})
    result = harness.cycle()
    assert result.summary.counts["nexadesk->crm"]["deleted"] == 5
    assert len(harness.crm_by_email()) == 5
    harness.assert_converged()
