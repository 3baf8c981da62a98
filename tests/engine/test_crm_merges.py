"""A merge in the CRM relinks; it deletes nothing on either side."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from nexasync.config import PairConfig
from nexasync.connectors.base import Record
from nexasync.connectors.memory import MemoryConnector
from nexasync.engine.cycle import run_cycle
from nexasync.store.store import StateStore


class MergingCrm(MemoryConnector):
    """A memory CRM that can merge two records the way CRMs do: the merged-away one
    vanishes without a tombstone, the survivor names it."""

    def __init__(self) -> None:
        super().__init__("crm")
        self.merged: dict[str, tuple[str, ...]] = {}

    def merge(self, survivor: str, merged: str) -> None:
        self.merged[survivor] = (*self.merged.get(survivor, ()), merged)
        del self.records[merged]
        del self._version[merged]
        self.edit(survivor)

    def _record(self, rid: str) -> Record:
        return replace(super()._record(rid), merged_ids=self.merged.get(rid, ()))


def _setup(tmp_path: Path) -> tuple[PairConfig, StateStore, MemoryConnector, MergingCrm]:
    config = PairConfig.model_validate(
        {"name": "m", "nexadesk": {"api_key": "k"}, "crm": {"auth": {"session_id": "s"}}}
    )
    return (
        config,
        StateStore(f"sqlite:///{tmp_path / 's.db'}"),
        MemoryConnector("nexadesk"),
        MergingCrm(),
    )


def test_merge_into_an_unlinked_record_relinks(tmp_path: Path) -> None:
    config, store, nd, crm = _setup(tmp_path)
    conns = {"nexadesk": nd, "crm": crm}
    a = nd.put({"visitor_name": "Ann Lee", "visitor_email": "ann@example.com"})
    run_cycle(config, store, conns)
    old = store.links_by_nexadesk("m", [a])[a].crm_id
    # A duplicate made in the CRM by hand (no email, so it is not matched), then merged
    # into: the CRM keeps the new record and drops the one we were linked to.
    dup = crm.put({"visitor_name": "Ann Lee", "visitor_phone": "+1-555-0100"})
    crm.merge(dup, old)
    result = run_cycle(config, store, conns)
    assert result.ok
    link = store.links_by_nexadesk("m", [a])[a]
    assert link.crm_id == dup and not link.lost
    assert set(nd.records) == {a}  # nothing deleted, nothing duplicated in NexaDesk
    assert nd.records[a]["visitor_phone"] == "+1-555-0100"  # the survivor's news arrived
    assert store.link_count("m") == 1
    before = dict(crm.stats), dict(nd.stats)
    run_cycle(config, store, conns)
    assert dict(crm.stats).get("update", 0) == before[0].get("update", 0)
    assert dict(nd.stats).get("update", 0) == before[1].get("update", 0)


def test_merge_of_two_linked_records_keeps_both_nexadesk_leads(tmp_path: Path) -> None:
    config, store, nd, crm = _setup(tmp_path)
    conns = {"nexadesk": nd, "crm": crm}
    a = nd.put({"visitor_name": "Bo One", "visitor_email": "bo1@example.com"})
    b = nd.put({"visitor_name": "Bo Two", "visitor_email": "bo2@example.com"})
    run_cycle(config, store, conns)
    links = store.links_by_nexadesk("m", [a, b])
    crm.merge(links[b].crm_id, links[a].crm_id)
    run_cycle(config, store, conns)
    assert set(nd.records) == {a, b}  # a merge is never a delete
    after = store.links_by_nexadesk("m", [a, b])
    assert after[b].crm_id == links[b].crm_id and not after[b].lost
    assert after[a].lost and "merged" in after[a].lost
    assert len(crm.records) == 1
