"""Lossy mappings never ping-pong; a converged pair costs one request per side."""

from __future__ import annotations

from conftest import Harness, nd_lead, sf_lead


def test_many_to_one_stage_and_long_name_do_not_ping_pong(harness: Harness) -> None:
    long_name = "Maximilian " + "Alexander" * 12 + " Van Der Berg-" + "x" * 17
    assert len(long_name) >= 150
    a = harness.nd.add_lead(**nd_lead(visitor_name=long_name[:150], pipeline_stage="qualified"))
    b = harness.nd.add_lead(**nd_lead(pipeline_stage="assigned", visitor_company=None))
    harness.cycle()
    harness.cycle()  # the echoes of our own writes come back and must change nothing
    assert harness.nd.get(a["id"])["visitor_name"] == long_name[:150]
    assert harness.nd.get(a["id"])["pipeline_stage"] == "qualified"
    assert harness.nd.get(b["id"])["pipeline_stage"] == "assigned"
    assert harness.nd.get(b["id"])["visitor_company"] in (None, "")
    sf = harness.sf_by_email()[a["visitor_email"]]
    assert sf["Status"] == "Working - Contacted"
    assert len(sf["LastName"]) <= 80 and len(sf.get("FirstName") or "") <= 40
    harness.assert_idle()
    harness.assert_idle()


def test_converged_pair_idle_cycle_costs_one_request_per_side(harness: Harness) -> None:
    for i in range(5):
        harness.nd.add_lead(**nd_lead(visitor_name=f"Idle Person{i}"))
        harness.sf.add_lead(**sf_lead(LastName=f"Idle{i}"))
    harness.cycle()
    harness.cycle()
    harness.assert_converged()
    harness.assert_idle()


def test_converted_salesforce_lead_is_never_written(harness: Harness) -> None:
    lead = harness.nd.add_lead(**nd_lead())
    harness.cycle()
    sf_id = harness.store.links_by_nexadesk(harness.pair.name, [lead["id"]])[lead["id"]].crm_id
    harness.sf.convert_lead(sf_id)
    harness.cycle()
    assert harness.nd.get(lead["id"])["pipeline_stage"] == "converted"
    before = harness.sf.get(sf_id)
    harness.nd.update_lead(lead["id"], visitor_phone="+1-555-9999")
    result = harness.cycle()
    assert result.ok, result.summary.as_dict()
    assert result.summary.counts["nexadesk->crm"]["skipped"] == 1
    assert result.summary.counts["nexadesk->crm"]["failed"] == 0
    assert harness.sf.get(sf_id)["Phone"] == before.get("Phone")
    harness.assert_idle()
