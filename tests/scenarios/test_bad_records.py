"""One bad record never blocks the others; it is reported with its id and reason."""

from __future__ import annotations

from scenario_harness import Harness, nd_lead


def test_invalid_record_is_reported_and_the_rest_sync(harness: Harness) -> None:
    h = harness
    good = [h.nd.add_lead(**nd_lead(visitor_name=f"Good Person{i}")) for i in range(4)]
    # The CRM refuses this email format; NexaDesk took it.
    bad = h.nd.add_lead(**nd_lead(visitor_name="Bad Email", visitor_email="not-an-email@"))
    h.crm.add(name="Fine Person")
    result = h.cycle()
    assert not result.ok
    assert result.summary.counts["nexadesk->crm"]["created"] == 4
    assert result.summary.counts["nexadesk->crm"]["failed"] == 1
    assert result.summary.counts["crm->nexadesk"]["created"] == 1
    errors = h.store.open_errors(h.pair.name)
    assert [e.record_id for e in errors] == [bad["id"]]
    assert errors[0].reason
    crm_emails = set(h.crm_by_email())
    assert all(g["visitor_email"] in crm_emails for g in good)
    # Fixed at the source, it syncs on a later cycle and the error is resolved.
    h.nd.update_lead(bad["id"], visitor_email="fixed@example.com")
    result = h.cycle()
    assert "fixed@example.com" in h.crm_by_email()
    assert h.store.open_errors(h.pair.name) == []
    h.assert_converged()
