"""Edits flow both ways; concurrent edits to different fields both survive;
conflicting edits follow the field's rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from scenario_harness import Harness, nd_lead

from nexasync.sandbox import Sandbox


def _linked_pair(h: Harness, **fields: object) -> tuple[str, str]:
    lead = h.nd.add_lead(**nd_lead(**fields))
    assert h.cycle().ok
    return lead["id"], h.crm_id_of(lead["id"])


def test_edit_in_nexadesk_reaches_the_crm(harness: Harness) -> None:
    nd_id, crm_id = _linked_pair(harness)
    harness.nd.update_lead(nd_id, visitor_phone="+44 20 7946 0000", pipeline_stage="contacted")
    result = harness.cycle()
    assert result.summary.counts["nexadesk->crm"]["updated"] == 1
    lead = harness.crm.get(crm_id)
    assert lead["phone"] == "+44 20 7946 0000"
    assert lead["stage"] == harness.crm.stage_of("contacted")
    harness.assert_converged()
    harness.assert_idle()


def test_edit_in_the_crm_reaches_nexadesk(harness: Harness) -> None:
    nd_id, crm_id = _linked_pair(harness)
    harness.crm.update(crm_id, company="Globex", description="Now wants voice too")
    result = harness.cycle()
    assert result.summary.counts["crm->nexadesk"]["updated"] == 1
    lead = harness.nd.get(nd_id)
    assert lead["visitor_company"] == "Globex"
    assert lead["need_summary"] == "Now wants voice too"
    harness.assert_converged()
    harness.assert_idle()


def test_concurrent_edits_to_different_fields_both_survive(harness: Harness) -> None:
    nd_id, crm_id = _linked_pair(harness)
    harness.nd.update_lead(nd_id, visitor_phone="+1-555-7777")
    harness.crm.update(crm_id, company="Initech")
    harness.cycle()
    assert harness.nd.get(nd_id)["visitor_company"] == "Initech"
    assert harness.nd.get(nd_id)["visitor_phone"] == "+1-555-7777"
    assert harness.crm.get(crm_id)["phone"] == "+1-555-7777"
    assert harness.crm.get(crm_id)["company"] == "Initech"
    harness.assert_converged()
    harness.assert_idle()


@pytest.mark.parametrize(
    ("rule", "winner"),
    [
        ("two-way", "crm"),  # the CRM edit is the newer one
        ("prefer-nexadesk-unless-blank", "nexadesk"),
        ("prefer-crm-unless-blank", "crm"),
        ("always-crm", "crm"),
        ("always-nexadesk", "nexadesk"),
    ],
)
def test_conflicting_edits_follow_the_rule(
    sandbox: Sandbox, tmp_path, crm_kind: str, rule: str, winner: str
) -> None:
    h = Harness(sandbox, tmp_path, crm_kind, rules={"visitor_company": rule})
    nd_id, crm_id = _linked_pair(h)
    h.nd.update_lead(nd_id, visitor_company="From NexaDesk")
    # The CRM edit is later; both clocks have millisecond precision, so make the
    # difference certain rather than hope the two edits fall in different milliseconds.
    h.crm.set_clock(lambda: datetime.now(timezone.utc) + timedelta(seconds=2))
    h.crm.update(crm_id, company="From CRM")
    h.cycle()
    expected = "From NexaDesk" if winner == "nexadesk" else "From CRM"
    assert h.nd.get(nd_id)["visitor_company"] == expected
    assert h.crm.get(crm_id)["company"] == expected
    h.assert_converged()
    h.assert_idle()


def test_two_way_newest_nexadesk_edit_wins(sandbox: Sandbox, tmp_path, crm_kind: str) -> None:
    h = Harness(sandbox, tmp_path, crm_kind)
    nd_id, crm_id = _linked_pair(h)
    h.crm.update(crm_id, company="From CRM")
    h.nd.clock = lambda: datetime.now(timezone.utc) + timedelta(seconds=2)
    h.nd.update_lead(nd_id, visitor_company="From NexaDesk")
    h.cycle()
    assert h.crm.get(crm_id)["company"] == "From NexaDesk"
    h.assert_converged()


def test_prefer_unless_blank_takes_the_other_side_when_blank(
    sandbox: Sandbox, tmp_path, crm_kind: str
) -> None:
    h = Harness(
        sandbox, tmp_path, crm_kind, rules={"visitor_phone": "prefer-nexadesk-unless-blank"}
    )
    nd_id, crm_id = _linked_pair(h, visitor_phone="+1-555-1000")
    h.nd.update_lead(nd_id, visitor_phone="")
    h.crm.update(crm_id, phone="+1-555-2000")
    h.cycle()
    assert h.nd.get(nd_id)["visitor_phone"] == "+1-555-2000"
    assert h.crm.get(crm_id)["phone"] == "+1-555-2000"
