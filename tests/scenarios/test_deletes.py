"""Deletes both ways under each policy, and the mass-delete guard."""

from __future__ import annotations

import pytest
from conftest import Harness, nd_lead

from nexasync.sandbox import Sandbox


def _seed_linked(h: Harness, n: int) -> list[tuple[str, str]]:
    ids = [h.nd.add_lead(**nd_lead(visitor_name=f"Del Person{i}"))["id"] for i in range(n)]
    assert h.cycle().ok
    links = h.store.links_by_nexadesk(h.pair.name, ids)
    return [(i, links[i].crm_id) for i in ids]


def test_delete_in_nexadesk_propagates(harness: Harness) -> None:
    pairs = _seed_linked(harness, 3)
    nd_id, sf_id = pairs[0]
    harness.nd.delete_lead(nd_id)
    result = harness.cycle()
    assert result.summary.counts["nexadesk->crm"]["deleted"] == 1
    assert harness.sf.get(sf_id)["IsDeleted"] is True
    assert len(harness.sf.leads()) == 2
    harness.assert_converged()
    harness.assert_idle()


def test_delete_in_salesforce_propagates(harness: Harness) -> None:
    pairs = _seed_linked(harness, 3)
    nd_id, sf_id = pairs[1]
    harness.sf.delete_lead(sf_id)
    result = harness.cycle()
    assert result.summary.counts["crm->nexadesk"]["deleted"] == 1
    assert harness.nd.get(nd_id) is None
    harness.assert_converged()
    harness.assert_idle()


def test_purged_salesforce_lead_is_found_by_get_deleted(sandbox: Sandbox, tmp_path) -> None:
    h = Harness(sandbox, tmp_path, crm={"deleted_check_seconds": 0})
    pairs = _seed_linked(h, 3)
    nd_id, sf_id = pairs[2]
    h.sf.delete_lead(sf_id)
    h.sf.purge(sf_id)
    h.cycle()
    assert h.nd.get(nd_id) is None
    assert len(h.nd.leads()) == 2


@pytest.mark.parametrize("policy", ["ignore", "mark_lost"])
def test_delete_in_nexadesk_not_propagated(sandbox: Sandbox, tmp_path, policy: str) -> None:
    h = Harness(sandbox, tmp_path, deletes={"nexadesk_to_crm": policy})
    pairs = _seed_linked(h, 3)
    nd_id, sf_id = pairs[0]
    h.nd.delete_lead(nd_id)
    h.cycle()
    lead = h.sf.get(sf_id)
    assert lead is not None and not lead["IsDeleted"]
    expected = "Closed - Not Converted" if policy == "mark_lost" else "Open - Not Contacted"
    assert lead["Status"] == expected
    link = h.store.links_by_crm(h.pair.name, [sf_id])[sf_id]
    assert link.lost
    # The surviving lead is not re-created in NexaDesk, even when edited later.
    h.sf.update_lead(sf_id, Phone="+1-555-3333")
    h.cycle()
    assert len(h.nd.leads()) == 2


@pytest.mark.parametrize("policy", ["ignore", "mark_lost"])
def test_delete_in_salesforce_not_propagated(sandbox: Sandbox, tmp_path, policy: str) -> None:
    h = Harness(sandbox, tmp_path, deletes={"crm_to_nexadesk": policy})
    pairs = _seed_linked(h, 3)
    nd_id, sf_id = pairs[0]
    h.sf.delete_lead(sf_id)
    h.cycle()
    lead = h.nd.get(nd_id)
    assert lead is not None
    assert lead["pipeline_stage"] == ("lost" if policy == "mark_lost" else "new")
    assert len(h.sf.leads()) == 2


def test_delete_on_one_side_edit_on_the_other_keeps_the_lead(harness: Harness) -> None:
    pairs = _seed_linked(harness, 2)
    nd_id, sf_id = pairs[0]
    email = harness.nd.get(nd_id)["visitor_email"]
    harness.nd.delete_lead(nd_id)
    harness.sf.update_lead(sf_id, Phone="+1-555-4444")
    harness.cycle()
    assert harness.sf.get(sf_id)["IsDeleted"] is False
    again = harness.nd_by_email()[email]
    assert again["visitor_phone"] == "+1-555-4444"
    harness.assert_converged()


def test_mass_delete_guard_trips_and_the_rest_goes_on(harness: Harness) -> None:
    pairs = _seed_linked(harness, 10)
    for nd_id, _ in pairs[:5]:
        harness.nd.delete_lead(nd_id)
    survivor_nd, survivor_sf = pairs[7]
    harness.nd.update_lead(survivor_nd, visitor_phone="+1-555-5555")
    result = harness.cycle()
    assert any("mass-delete guard" in w for w in result.summary.warnings)
    assert len(harness.sf.leads()) == 10  # nothing deleted
    assert harness.sf.get(survivor_sf)["Phone"] == "+1-555-5555"  # the rest synced
    # Still refused next cycle (the deletions are remembered, not forgotten)...
    result = harness.cycle()
    assert any("mass-delete guard" in w for w in result.summary.warnings)
    assert len(harness.sf.leads()) == 10
    # ...until the operator allows it.
    harness.reconfigure(deletes={"max_ratio": 0.6})
    result = harness.cycle()
    assert result.summary.counts["nexadesk->crm"]["deleted"] == 5
    assert len(harness.sf.leads()) == 5
    harness.assert_converged()
