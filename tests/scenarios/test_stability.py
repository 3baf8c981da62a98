"""Lossy mappings never ping-pong; a converged pair costs one request per side."""

from __future__ import annotations

from scenario_harness import Harness, nd_lead


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
    crm = harness.crm_by_email()[a["visitor_email"]]
    assert crm["stage"] == harness.crm.stage_of("qualified")
    assert crm["name_fits"]
    harness.assert_idle()
    harness.assert_idle()


def test_converged_pair_idle_cycle_costs_one_request_per_side(harness: Harness) -> None:
    for i in range(5):
        harness.nd.add_lead(**nd_lead(visitor_name=f"Idle Person{i}"))
        harness.crm.add(name=f"Crm Idle{i}")
    harness.cycle()
    harness.cycle()
    harness.assert_converged()
    harness.assert_idle()


def test_converted_salesforce_lead_is_never_written(sandbox, tmp_path) -> None:
    from scenario_harness import Harness as H

    harness = H(sandbox, tmp_path, "salesforce")
    lead = harness.nd.add_lead(**nd_lead())
    harness.cycle()
    crm_id = harness.crm_id_of(lead["id"])
    harness.crm.convert(crm_id)
    harness.cycle()
    assert harness.nd.get(lead["id"])["pipeline_stage"] == "converted"
    before = harness.crm.get(crm_id)
    harness.nd.update_lead(lead["id"], visitor_phone="+1-555-9999")
    result = harness.cycle()
    assert result.ok, result.summary.as_dict()
    assert result.summary.counts["nexadesk->crm"]["skipped"] == 1
    assert result.summary.counts["nexadesk->crm"]["failed"] == 0
    assert harness.crm.get(crm_id)["phone"] == before["phone"]
    harness.assert_idle()
