"""Scenario harness: the real connectors against the sandbox emulators, whole cycles,
and checks on both sides and the state store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _crm import CrmSide, HubSpotSide, SalesforceSide, unique_email

from nexasync.config import PairConfig, parse_config
from nexasync.engine.cycle import CycleResult, run_cycle
from nexasync.runner import build_connectors
from nexasync.sandbox import Sandbox
from nexasync.store.store import StateStore

#: Every scenario runs, unchanged, against each CRM.
CRM_SIDES: dict[str, type[CrmSide]] = {"salesforce": SalesforceSide, "hubspot": HubSpotSide}


class Harness:
    def __init__(
        self, sandbox: Sandbox, tmp_path: Path, crm_kind: str = "salesforce", **overrides: Any
    ) -> None:
        self.sandbox = sandbox
        self.nd = sandbox.nexadesk
        self.crm_kind = crm_kind
        self.crm: CrmSide = CRM_SIDES[crm_kind](sandbox.crm(crm_kind))
        self.store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        self.reconfigure(**overrides)

    def reconfigure(self, **overrides: Any) -> None:
        data = self.sandbox.config("sqlite://", crm_kind=self.crm_kind, **overrides)
        self.pair: PairConfig = parse_config(data).pairs[0]
        self.connectors = build_connectors(self.pair)

    def cycle(self, **kw: Any) -> CycleResult:
        return run_cycle(self.pair, self.store, self.connectors, **kw)

    def reset_counts(self) -> None:
        self.nd.reset_counts()
        self.crm.reset_counts()

    def crm_id_of(self, nd_id: str) -> str:
        link = self.store.links_by_nexadesk(self.pair.name, [nd_id])[nd_id]
        assert link.crm_id, f"{nd_id} is not linked to a CRM record"
        return link.crm_id

    # -- both sides ------------------------------------------------------------------
    def nd_by_email(self) -> dict[str, dict[str, Any]]:
        """Leads by email (by ``name:<name>`` when they have none); fails on duplicates."""
        out: dict[str, dict[str, Any]] = {}
        for lead in self.nd.leads():
            email = (lead.get("visitor_email") or "").lower() or f"name:{lead['visitor_name']}"
            assert email not in out, f"duplicate NexaDesk lead for {email}"
            out[email] = lead
        return out

    def crm_by_email(self) -> dict[str, dict[str, Any]]:
        """Live CRM leads by email (``name:<name>`` without one); fails on duplicates."""
        out: dict[str, dict[str, Any]] = {}
        for lead in self.crm.leads():
            if lead["deleted"]:
                continue
            key = lead["email"] or f"name:{lead['name']}"
            assert key not in out, f"duplicate CRM lead for {key}"
            out[key] = lead
        return out

    def assert_converged(self) -> None:
        """Both sides hold the same people with the same values (through the default
        mapping), and every lead is linked exactly once."""
        nd, crm = self.nd_by_email(), self.crm_by_email()
        assert set(nd) == set(crm), (
            f"only in NexaDesk: {set(nd) - set(crm)}; only in the CRM: {set(crm) - set(nd)}"
        )
        for key, n in nd.items():
            c = crm[key]
            assert (n.get("visitor_phone") or None) == c["phone"], key
            assert (n.get("visitor_company") or None) == c["company"], key
            assert (n.get("need_summary") or None) == c["description"], key
            if not c["converted"]:
                assert self.crm.stage_of(n["pipeline_stage"]) == c["stage"], key
            if len(n["visitor_name"]) <= 40:
                assert c["name"] == n["visitor_name"], key
            assert c["name_fits"], key
        links = list(self.store.iter_links(self.pair.name))
        live = [link for link in links if not link.lost]
        assert len(live) == len(nd), f"{len(live)} links for {len(nd)} leads"
        assert {link.nexadesk_id for link in live} == {lead["id"] for lead in nd.values()}
        assert {link.crm_id for link in live} == {lead["id"] for lead in crm.values()}
        assert all(link.pending is None for link in live)

    def assert_idle(self) -> None:
        """A converged pair: zero writes, and one request per side."""
        self.reset_counts()
        result = self.cycle()
        assert result.ok
        for counts in result.summary.counts.values():
            assert sum(counts.values()) == 0, result.summary.as_dict()
        assert self.nd.total == 1, dict(self.nd.counts)
        assert self.crm.data_requests() <= self.crm.idle_requests, dict(self.crm.emulator.counts)


def nd_lead(**fields: Any) -> dict[str, Any]:
    lead = {
        "visitor_name": "Jane Smith",
        "visitor_email": unique_email("nd"),
        "visitor_company": "Acme Corp",
        "pipeline_stage": "new",
        "need_summary": "Wants a chatbot",
    }
    lead.update(fields)
    return lead
