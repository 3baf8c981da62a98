"""First syncs: into an empty CRM, and against a CRM that already holds some people."""

from __future__ import annotations

from scenario_harness import Harness, nd_lead


def test_first_sync_into_empty_crm(harness: Harness) -> None:
    for i in range(7):
        harness.nd.add_lead(
            **nd_lead(visitor_name=f"Person Number{i}", visitor_phone=f"+1-555-010{i}")
        )
    result = harness.cycle()
    assert result.ok
    assert result.summary.counts["nexadesk->crm"]["created"] == 7
    assert len(harness.crm.leads()) == 7
    harness.assert_converged()
    harness.assert_idle()


def test_first_sync_against_populated_crm_makes_no_duplicates(harness: Harness) -> None:
    shared = [f"Shared{i}@Example.com" for i in range(4)]
    for i, email in enumerate(shared):
        harness.nd.add_lead(**nd_lead(visitor_name=f"Ann Shared{i}", visitor_email=email.lower()))
        # Same person in the CRM, email in other case, with a phone NexaDesk lacks.
        harness.crm.add(
            name=f"Ann Shared{i}", email=email, company="Acme Corp", phone=f"+1-555-02{i}"
        )
    harness.nd.add_lead(**nd_lead(visitor_name="Only Nexadesk"))
    harness.crm.add(name="Only Crm")

    result = harness.cycle()
    assert result.ok
    assert len(harness.nd.leads()) == 6
    assert len(harness.crm.leads()) == 6
    harness.assert_converged()
    # The phone only the CRM had reached NexaDesk (blank never wins over a value).
    assert harness.nd_by_email()["shared0@example.com"]["visitor_phone"] == "+1-555-020"
    harness.assert_idle()


def test_first_sync_maps_owners_by_reps_it_learns_from_nexadesk(harness: Harness) -> None:
    # A first sync reads the CRM before NexaDesk, so NexaDesk's reps (learned from its
    # leads) are not known yet while the CRM's leads are read; their owners must
    # still reach NexaDesk as reps, and the reps reach the CRM as owners.
    rep = harness.nd.add_rep("Rita", "Rep", "rita@example.com")
    user = harness.crm.add_user("Rita@Example.com", "Rita Rep")
    nd = harness.nd.add_lead(**nd_lead(visitor_name="Nd Owned", assigned_rep_id=rep))
    crm = harness.crm.add(name="Crm Owned", owner=user)
    harness.crm.add(name="Crm Unowned")

    result = harness.cycle()
    assert result.ok
    by_email = harness.nd_by_email()
    crm_lead = harness.crm.get(crm)
    assert crm_lead is not None and crm_lead["owner"] == user
    assert by_email[crm_lead["email"]]["assigned_rep_id"] == rep
    unowned = [lead for lead in harness.crm.leads() if lead["name"] == "Crm Unowned"]
    assert by_email[unowned[0]["email"]]["assigned_rep_id"] is None
    created = harness.crm.get(harness.crm_id_of(nd["id"]))
    assert created is not None and created["owner"] == user
    harness.assert_converged()
    harness.assert_idle()
