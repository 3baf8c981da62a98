"""Scenario harness: the real connectors against the sandbox emulators, whole cycles,
and checks on both sides and the state store."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nexasync.config import PairConfig, parse_config
from nexasync.engine.cycle import CycleResult, run_cycle
from nexasync.runner import build_connectors
from nexasync.sandbox import Sandbox
from nexasync.store.store import StateStore

STATUS_BACK = {
    "Open - Not Contacted": "new",
    "Working - Contacted": "contacted",
    "Closed - Converted": "converted",
    "Closed - Not Converted": "lost",
}
STATUS_OF = {
    "new": "Open - Not Contacted",
    "assigned": "Open - Not Contacted",
    "qualified": "Working - Contacted",
    "contacted": "Working - Contacted",
    "converted": "Closed - Converted",
    "lost": "Closed - Not Converted",
}
AUTH_KINDS = ("login", "token")
_emails = itertools.count(1)


def unique_email(prefix: str = "lead") -> str:
    return f"{prefix}{next(_emails)}@example.com"


def sf_name(lead: dict[str, Any]) -> str:
    return " ".join(p for p in (lead.get("FirstName"), lead.get("LastName")) if p)


class Harness:
    def __init__(self, sandbox: Sandbox, tmp_path: Path, **overrides: Any) -> None:
        self.sandbox = sandbox
        self.nd = sandbox.nexadesk
        self.sf = sandbox.salesforce
        self.store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        self.reconfigure(**overrides)

    def reconfigure(self, **overrides: Any) -> None:
        data = self.sandbox.config("sqlite://", **overrides)
        self.pair: PairConfig = parse_config(data).pairs[0]
        self.connectors = build_connectors(self.pair)

    def cycle(self, **kw: Any) -> CycleResult:
        return run_cycle(self.pair, self.store, self.connectors, **kw)

    def reset_counts(self) -> None:
        self.nd.reset_counts()
        self.sf.reset_counts()

    def sf_data_requests(self) -> int:
        return sum(n for kind, n in self.sf.counts.items() if kind not in AUTH_KINDS)

    # -- both sides ------------------------------------------------------------------
    def nd_by_email(self) -> dict[str, dict[str, Any]]:
        """Leads by email (by ``name:<name>`` when they have none); fails on duplicates."""
        out: dict[str, dict[str, Any]] = {}
        for lead in self.nd.leads():
            email = (lead.get("visitor_email") or "").lower() or f"name:{lead['visitor_name']}"
            assert email not in out, f"duplicate NexaDesk lead for {email}"
            out[email] = lead
        return out

    def sf_by_email(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for lead in self.sf.leads():
            email = (lead.get("Email") or "").lower() or f"name:{sf_name(lead)}"
            assert email not in out, f"duplicate Salesforce lead for {email}"
            out[email] = lead
        return out

    def assert_converged(self) -> None:
        """Both sides hold the same people with the same values (through the default
        mapping), and every lead is linked exactly once."""
        nd, sf = self.nd_by_email(), self.sf_by_email()
        assert set(nd) == set(sf), (
            f"only in NexaDesk: {set(nd) - set(sf)}; only in SF: {set(sf) - set(nd)}"
        )
        for email, n in nd.items():
            s = sf[email]
            assert (n.get("visitor_phone") or None) == (s.get("Phone") or None), email
            company = s.get("Company")
            company = None if company == self.pair.crm.company_placeholder else company
            assert (n.get("visitor_company") or None) == (company or None), email
            if not s.get("IsConverted"):
                assert STATUS_OF[n["pipeline_stage"]] == s.get("Status"), email
            name = n["visitor_name"]
            if len(name) <= 40:
                assert sf_name(s) == name, email
            assert (n.get("need_summary") or None) == (s.get("Description") or None), email
        links = list(self.store.iter_links(self.pair.name))
        live = [link for link in links if not link.lost]
        assert len(live) == len(nd), f"{len(live)} links for {len(nd)} leads"
        nd_ids = {lead["id"] for lead in nd.values()}
        sf_ids = {lead["Id"] for lead in sf.values()}
        assert {link.nexadesk_id for link in live} == nd_ids
        assert {link.crm_id for link in live} == sf_ids
        assert all(link.pending is None for link in live)

    def assert_idle(self) -> None:
        """A converged pair: zero writes, and one request per side."""
        self.reset_counts()
        result = self.cycle()
        assert result.ok
        for counts in result.summary.counts.values():
            assert sum(counts.values()) == 0, result.summary.as_dict()
        assert self.nd.total == 1, dict(self.nd.counts)
        assert self.sf_data_requests() == 1, dict(self.sf.counts)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sandbox") as box:
        yield box


@pytest.fixture
def harness(sandbox: Sandbox, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(sandbox, tmp_path)
    yield h
    h.store.close()


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


def sf_lead(**fields: Any) -> dict[str, Any]:
    lead = {
        "FirstName": "John",
        "LastName": "Doe",
        "Email": unique_email("sf"),
        "Company": "TechCorp",
        "Status": "Open - Not Contacted",
    }
    lead.update(fields)
    return lead
