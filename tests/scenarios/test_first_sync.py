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
