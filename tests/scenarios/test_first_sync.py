"""First syncs: into an empty CRM, and against a CRM that already holds some people."""

from __future__ import annotations

from conftest import Harness, nd_lead, sf_lead


def test_first_sync_into_empty_crm(harness: Harness) -> None:
    for i in range(7):
        harness.nd.add_lead(
            **nd_lead(visitor_name=f"Person Number{i}", visitor_phone=f"+1-555-010{i}")
        )
    result = harness.cycle()
    assert result.ok
    assert result.summary.counts["nexadesk->crm"]["created"] == 7
    assert len(harness.sf.leads()) == 7
    harness.assert_converged()
    harness.assert_idle()


def test_first_sync_against_populated_crm_makes_no_duplicates(harness: Harness) -> None:
    shared = [f"Shared{i}@Example.com" for i in range(4)]
    for i, email in enumerate(shared):
        harness.nd.add_lead(**nd_lead(visitor_name=f"Ann Shared{i}", visitor_email=email.lower()))
        # Same person in Salesforce, email in other case, with a phone NexaDesk lacks.
        harness.sf.add_lead(
            **sf_lead(
                FirstName="Ann",
                LastName=f"Shared{i}",
                Email=email,
                Company="Acme Corp",
                Phone=f"+1-555-02{i}",
            )
        )
    harness.nd.add_lead(**nd_lead(visitor_name="Only Nexadesk"))
    harness.sf.add_lead(**sf_lead(FirstName="Only", LastName="Salesforce"))

    result = harness.cycle()
    assert result.ok
    assert len(harness.nd.leads()) == 6
    assert len(harness.sf.leads()) == 6
    harness.assert_converged()
    # The phone only Salesforce had reached NexaDesk (blank never wins over a value).
    by_email = harness.nd_by_email()
    assert by_email["shared0@example.com"]["visitor_phone"] == "+1-555-020"
    harness.assert_idle()
