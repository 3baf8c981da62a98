"""A cycle planned in chunks decides exactly what one planned at once decides.

Each test runs the same cycles with chunks of one or two records, where every link,
email match and guard crosses a chunk boundary, and checks both sides and the store.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from nexasync.config import PairConfig
from nexasync.connectors.base import Record
from nexasync.connectors.memory import MemoryConnector
from nexasync.engine.cycle import run_cycle
from nexasync.engine.spool import Spool
from nexasync.store.store import StateStore


def _setup(tmp_path: Path, **deletes: object) -> tuple[PairConfig, StateStore, dict]:
    config = PairConfig.model_validate({
        "name": "c",
        "nexadesk": {"api_key": "k"},
        "crm": {"auth": {"session_id": "s"}},
        **({"deletes": deletes} if deletes else {}),
    })  # fmt: skip
    conns = {"nexadesk": MemoryConnector("nexadesk"), "crm": MemoryConnector("crm")}
    return config, StateStore(f"sqlite:///{tmp_path / 's.db'}"), conns


def _emails(connector: MemoryConnector) -> list[str]:
    return sorted(r["visitor_email"] for r in connector.records.values())


def test_spool_round_trips_records_and_indexes_emails() -> None:
    spool = Spool()
    when = datetime(2026, 5, 1, 12, 30, 1, 250000, tzinfo=timezone.utc)
    record = Record(
        "a1",
        {"visitor_email": "Ann@Example.com ", "tags": ("b", "c"), "expected_billing_amount": 12.5},
        "v1",
        when,
        read_only="converted",
        merged_ids=("x", "y"),
    )
    spool.add(record)
    spool.add(Record("a2", deleted=True))
    spool.add(Record("a3", invalid="no name"))
    assert spool.get("a1") == record
    assert spool.get("a2") == Record("a2", deleted=True)
    assert spool.with_email("ann@example.com") == ["a1"]
    assert spool.invalid == {"a3"} and spool.merged == {"a1"}
    # Read again while paginating: the later reading wins, the old email is forgotten.
    spool.add(Record("a1", {"visitor_email": "new@example.com"}, "v2"))
    assert spool.with_email("ann@example.com") == [] and spool.merged == set()
    assert spool.ids() == ["a1", "a2", "a3"] and len(spool) == 3


def test_spool_keeps_every_holder_of_an_email_and_fields_it_has_no_slot_for() -> None:
    spool = Spool()
    for id in ("x", "y", "z"):
        spool.add(Record(id, {"visitor_email": "twin@example.com", "visitor_phone": None}))
    assert spool.with_email("twin@example.com") == ["x", "y", "z"]
    spool.add(Record("y", {"visitor_email": "other@example.com"}))
    spool.add(Record("z", deleted=True))
    assert spool.with_email("twin@example.com") == ["x"]
    assert spool.with_email("other@example.com") == ["y"]
    # A blank field stays blank, an unread one stays unread.
    assert spool.get("x") == Record("x", {"visitor_email": "twin@example.com",
                                          "visitor_phone": None})
    odd = Record("o", {"visitor_name": "Odd", "_read_only": "converted"})
    spool.add(odd)
    assert spool.get("o") == odd


@pytest.mark.parametrize("size", [1, 2])
def test_first_sync_matches_by_email_across_chunks(tmp_path: Path, size: int) -> None:
    config, store, conns = _setup(tmp_path)
    nd, crm = conns["nexadesk"], conns["crm"]
    # Two leads of one email on each side: they must pair one to one, whichever chunk
    # each lands in; the rest are created.
    for n in range(5):
        nd.put({"visitor_name": f"N{n}", "visitor_email": f"p{n}@example.com"})
    nd.put({"visitor_name": "Twin A", "visitor_email": "twin@example.com"})
    nd.put({"visitor_name": "Twin B", "visitor_email": "twin@example.com"})
    crm.put({"visitor_name": "CRM Twin A", "visitor_email": "twin@example.com"})
    crm.put({"visitor_name": "CRM Twin B", "visitor_email": "twin@example.com"})
    for n in range(3):
        crm.put({"visitor_name": f"C{n}", "visitor_email": f"c{n}@example.com"})
    result = run_cycle(config, store, conns, chunk_size=size)
    assert result.ok
    assert result.summary is not None
    assert result.summary.counts["nexadesk->crm"]["created"] == 5
    assert result.summary.counts["crm->nexadesk"]["created"] == 3
    assert _emails(nd) == _emails(crm)
    assert len(nd.records) == len(crm.records) == 10
    assert store.link_count("c") == 10
    again = run_cycle(config, store, conns, chunk_size=size)
    assert again.ok and again.plan.counts() == {}


@pytest.mark.parametrize("size", [1, 2])
def test_edits_on_both_sides_of_a_link_meet_in_one_chunk(tmp_path: Path, size: int) -> None:
    config, store, conns = _setup(tmp_path)
    nd, crm = conns["nexadesk"], conns["crm"]
    ids = [nd.put({"visitor_name": f"L{n}", "visitor_email": f"l{n}@example.com"})
           for n in range(6)]  # fmt: skip
    run_cycle(config, store, conns, chunk_size=size)
    links = store.links_by_nexadesk("c", ids)
    # Different fields of the same leads edited on each side: both edits survive.
    for n, rid in enumerate(ids):
        nd.edit(rid, visitor_phone=f"+1-555-010{n}")
        crm.edit(links[rid].crm_id, visitor_company=f"Co {n}")
    result = run_cycle(config, store, conns, chunk_size=size)
    assert result.ok and result.plan.counts() == {"nexadesk.update": 6, "crm.update": 6}
    for n, rid in enumerate(ids):
        for record in (nd.records[rid], crm.records[links[rid].crm_id]):
            assert record["visitor_phone"] == f"+1-555-010{n}"
            assert record["visitor_company"] == f"Co {n}"


def test_mass_delete_guard_counts_every_chunk(tmp_path: Path) -> None:
    config, store, conns = _setup(tmp_path, max_ratio=0.5, max_unguarded=2)
    nd, crm = conns["nexadesk"], conns["crm"]
    ids = [nd.put({"visitor_name": f"D{n}", "visitor_email": f"d{n}@example.com"})
           for n in range(8)]  # fmt: skip
    run_cycle(config, store, conns, chunk_size=2)
    # Five of eight deleted: more than half. Each chunk alone holds two, which the
    # guard would allow; together they are held back.
    for rid in ids[:5]:
        nd.remove(rid)
    result = run_cycle(config, store, conns, chunk_size=2)
    assert result.status == "partial"
    assert any("mass-delete guard" in w for w in result.plan.warnings)
    assert "crm.delete" not in result.plan.counts()
    assert len(crm.records) == 8
    assert store.link_count("c") == 8
