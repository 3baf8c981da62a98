"""Leads deleted and updated while a NexaDesk scan paginates: no wrongful delete,
no missed update. The cursor is an offset token, so a delete ahead of it shifts
records past the client."""

from __future__ import annotations

from typing import Any

from scenario_harness import Harness, nd_lead


def _during_scan(h: Harness, action: Any, at_list_request: int = 2) -> None:
    seen = {"n": 0}

    def hook(emulator: Any, request: Any) -> None:
        if request.args.get("search"):
            return
        seen["n"] += 1
        if seen["n"] == at_list_request:
            action()

    h.nd.on_request = hook


def test_deletes_and_updates_during_an_incremental_scan(harness: Harness) -> None:
    h = harness
    ids = [h.nd.add_lead(**nd_lead(visitor_name=f"Race Person{i}"))["id"] for i in range(250)]
    h.cycle()
    h.assert_converged()
    for i, nd_id in enumerate(ids):
        h.nd.update_lead(nd_id, visitor_phone=f"+1-555-{i:04d}")
    newest_first = sorted(
        h.nd.leads(), key=lambda lead: (lead["updated_at"], lead["id"]), reverse=True
    )
    doomed = [lead["id"] for lead in newest_first[:5]]  # on the first page, already read
    tail = newest_first[-1]["id"]  # on the last page, not read yet

    def meddle() -> None:
        for nd_id in doomed:
            h.nd.delete_lead(nd_id)
        h.nd.update_lead(tail, visitor_company="Changed Mid Scan")

    _during_scan(h, meddle)
    h.cycle()
    h.nd.on_request = None
    h.cycle()
    crm = h.crm_by_email()
    nd = h.nd_by_email()
    assert len(nd) == 245
    assert set(crm) == set(nd)  # the 5 deleted are gone from the CRM too, nobody else
    for lead in nd.values():
        assert crm[lead["visitor_email"]]["phone"] == lead["visitor_phone"]
    assert crm[h.nd.get(tail)["visitor_email"]]["company"] == "Changed Mid Scan"
    h.assert_converged()


def test_deletes_during_a_full_first_scan(harness: Harness) -> None:
    h = harness
    ids = [h.nd.add_lead(**nd_lead(visitor_name=f"First Scan{i}"))["id"] for i in range(230)]

    def meddle() -> None:
        for nd_id in ids[-3:]:  # the newest ones: on page one, already read
            h.nd.delete_lead(nd_id)

    _during_scan(h, meddle)
    h.cycle()
    h.nd.on_request = None
    h.cycle()
    assert len(h.nd.leads()) == 227
    h.assert_converged()
