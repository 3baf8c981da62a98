"""Edits flow both ways; concurrent edits to different fields both survive;
conflicting edits follow the field's rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from conftest import Harness, nd_lead

from nexasync.sandbox import Sandbox


def _linked_pair(h: Harness, **fields: object) -> tuple[str, str]:
    lead = h.nd.add_lead(**nd_lead(**fields))
    assert h.cycle().ok
    link = h.store.links_by_nexadesk(h.pair.name, [lead["id"]])[lead["id"]]
    assert link.crm_id
    return lead["id"], link.crm_id


def test_edit_in_nexadesk_reaches_salesforce(harness: Harness) -> None:
    nd_id, sf_id = _linked_pair(harness)
    harness.nd.update_lead(nd_id, visitor_phone="+44 20 7946 0000", pipeline_stage="qualified")
    result = harness.cycle()
    assert result.summary.counts["nexadesk->crm"]["updated"] == 1
    lead = harness.sf.get(sf_id)
    assert lead["Phone"] == "+44 20 7946 0000"
    assert lead["Status"] == "Working - Contacted"
    harness.assert_converged()
    harness.assert_idle()


def test_edit_in_salesforce_reaches_nexadesk(harness: Harness) -> None:
    nd_id, sf_id = _linked_pair(harness)
    harness.sf.update_lead(sf_id, Company="Globex", Description="Now wants voice too")
    result = harness.cycle()
    assert result.summary.counts["crm->nexadesk"]["updated"] == 1
    lead = harness.nd.get(nd_id)
    assert lead["visitor_company"] == "Globex"
    assert lead["need_summary"] == "Now wants voice too"
    harness.assert_converged()
    harness.assert_idle()


def test_concurrent_edits_to_different_fields_both_survive(harness: Harness) -> None:
    nd_id, sf_id = _linked_pair(harness)
    harness.nd.update_lead(nd_id, visitor_phone="+1-555-7777")
    harness.sf.update_lead(sf_id, Company="Initech")
    harness.cycle()
    assert harness.nd.get(nd_id)["visitor_company"] == "Initech"
    assert harness.nd.get(nd_id)["visitor_phone"] == "+1-555-7777"
    assert harness.sf.get(sf_id)["Phone"] == "+1-555-7777"
    assert harness.sf.get(sf_id)["Company"] == "Initech"
    harness.assert_converged()
    harness.assert_idle()


@pytest.mark.parametrize(
    ("rule", "winner"),
    [
        ("two-way", "crm"),  # the Salesforce edit is the newer one
        ("prefer-nexadesk-unless-blank", "nexadesk"),
        ("always-crm", "crm"),
        ("always-nexadesk", "nexadesk"),
    ],
)
def test_conflicting_edits_follow_the_rule(
    sandbox: Sandbox, tmp_path, rule: str, winner: str
) -> None:
    h = Harness(sandbox, tmp_path, rules={"visitor_company": rule})
    nd_id, sf_id = _linked_pair(h)
    h.nd.update_lead(nd_id, visitor_company="From NexaDesk")
    # The Salesforce edit is later; both clocks have millisecond precision, so make the
    # difference certain rather than hope the two edits fall in different milliseconds.
    h.sf.clock = lambda: datetime.now(timezone.utc) + timedelta(seconds=2)
    h.sf.update_lead(sf_id, Company="From Salesforce")
    h.cycle()
    expected = "From NexaDesk" if winner == "nexadesk" else "From Salesforce"
    assert h.nd.get(nd_id)["visitor_company"] == expected
    assert h.sf.get(sf_id)["Company"] == expected
    h.assert_converged()
    h.assert_idle()


def test_prefer_unless_blank_takes_the_other_side_when_blank(sandbox: Sandbox, tmp_path) -> None:
    h = Harness(sandbox, tmp_path, rules={"visitor_phone": "prefer-nexadesk-unless-blank"})
    nd_id, sf_id = _linked_pair(h, visitor_phone="+1-555-1000")
    h.nd.update_lead(nd_id, visitor_phone="")
    h.sf.update_lead(sf_id, Phone="+1-555-2000")
    h.cycle()
    assert h.nd.get(nd_id)["visitor_phone"] == "+1-555-2000"
    assert h.sf.get(sf_id)["Phone"] == "+1-555-2000"
