"""A merge in HubSpot relinks and deletes nothing."""

from __future__ import annotations

from pathlib import Path

from scenario_harness import Harness, nd_lead

from nexasync.sandbox import Sandbox


def test_merge_into_a_new_contact_relinks_the_lead(sandbox: Sandbox, tmp_path: Path) -> None:
    h = Harness(sandbox, tmp_path, "hubspot")
    lead = h.nd.add_lead(**nd_lead(visitor_name="Merge Me"))
    h.cycle()
    old = h.crm_id_of(lead["id"])
    # Someone makes a second contact for the same person and merges ours into it
    # before the next cycle.
    survivor = h.crm.add(name="Merge Me", email=None, phone="+1-555-6060")
    kept = h.crm.merge(survivor, old)
    h.cycle()
    h.cycle()
    assert h.nd.get(lead["id"]) is not None  # not deleted
    assert len(h.nd.leads()) == 1  # and not duplicated
    assert h.crm_id_of(lead["id"]) == kept
    assert h.nd.get(lead["id"])["visitor_phone"] == "+1-555-6060"
    h.assert_converged()
    h.assert_idle()


def test_merge_of_two_linked_contacts_deletes_no_lead(sandbox: Sandbox, tmp_path: Path) -> None:
    h = Harness(sandbox, tmp_path, "hubspot")
    a = h.nd.add_lead(**nd_lead(visitor_name="Twin One"))
    b = h.nd.add_lead(**nd_lead(visitor_name="Twin Two"))
    h.cycle()
    kept = h.crm.merge(h.crm_id_of(b["id"]), h.crm_id_of(a["id"]))
    result = h.cycle()
    assert result.summary.counts["crm->nexadesk"]["deleted"] == 0
    assert h.nd.get(a["id"]) is not None and h.nd.get(b["id"]) is not None
    links = h.store.links_by_nexadesk(h.pair.name, [a["id"], b["id"]])
    assert links[b["id"]].crm_id == kept and not links[b["id"]].lost
    assert links[a["id"]].lost and "merged" in links[a["id"]].lost
    assert len(h.crm_by_email()) == 1
