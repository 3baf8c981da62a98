"""A first sync plans and writes NexaDesk's new leads while NexaDesk is still read.

Chunks of two records, so several chunks are written before the read ends; each test
checks both sides and the store afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from nexasync.config import PairConfig
from nexasync.connectors.base import Cursor, KnownIds, Pull, Record
from nexasync.connectors.memory import MemoryConnector
from nexasync.engine.cycle import run_cycle
from nexasync.engine.plan import Side
from nexasync.engine.progress import Progress
from nexasync.store.store import StateStore

CONFIG = PairConfig.model_validate(
    {"name": "s", "nexadesk": {"api_key": "k"}, "crm": {"auth": {"session_id": "s"}}}
)


class Watch(Progress):
    """Records how much NexaDesk had been read at each write; can stop the cycle there."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        super().__init__()
        self.writes: list[tuple[Side, int, int]] = []
        self._stop = stop

    def wrote(self, side: Side, n: int) -> None:
        super().wrote(side, n)
        self.writes.append((side, n, self.read["nexadesk"]))
        if self._stop is not None:
            self._stop.set()


class ReadTwice(MemoryConnector):
    """A NexaDesk whose first full read meets one lead twice: edited after it was read,
    it comes round again at the end of the same read (a page that shifted)."""

    def __init__(self, again: str) -> None:
        super().__init__("nexadesk")
        self.again = again

    def pull(self, cursor: Cursor | None, known: KnownIds) -> Pull:
        pull = super().pull(cursor, known)
        if cursor is not None:
            return pull
        first = list(pull)

        def records() -> Iterator[Record]:
            yield from first
            self.edit(self.again, visitor_phone="+1-555-0199")
            yield self._record(self.again)

        out = Pull(records())
        out.cursor = pull.cursor
        return out


class Crm(MemoryConnector):
    write_batch_size = 2  # a batch per chunk

    def __init__(self) -> None:
        super().__init__("crm")


def _store(tmp_path: Path) -> StateStore:
    return StateStore(f"sqlite:///{tmp_path / 's.db'}")


def _fill(nd: MemoryConnector, n: int) -> list[str]:
    return [nd.put({"visitor_name": f"L{i}", "visitor_email": f"l{i}@example.com"})
            for i in range(n)]  # fmt: skip


def _emails(connector: MemoryConnector) -> list[str]:
    return sorted(r["visitor_email"] for r in connector.records.values())


def test_a_first_sync_writes_while_nexadesk_is_read(tmp_path: Path) -> None:
    store = _store(tmp_path)
    nd, crm = MemoryConnector("nexadesk"), Crm()
    _fill(nd, 7)
    crm.put({"visitor_name": "Only Crm", "visitor_email": "c@example.com"})
    watch = Watch()
    result = run_cycle(CONFIG, store, {"nexadesk": nd, "crm": crm}, chunk_size=2,
                       progress=watch)  # fmt: skip
    assert result.ok
    # The first CRM batch went out with only the first chunk of NexaDesk read.
    assert [w for w in watch.writes if w[0] == "crm"][0] == ("crm", 2, 2)
    assert _emails(nd) == _emails(crm) and len(crm.records) == 8
    assert store.link_count("s") == 8
    assert run_cycle(CONFIG, store, {"nexadesk": nd, "crm": crm}).plan.counts() == {}


def test_a_later_cycle_plans_after_reading(tmp_path: Path) -> None:
    store = _store(tmp_path)
    nd, crm = MemoryConnector("nexadesk"), Crm()
    _fill(nd, 2)
    run_cycle(CONFIG, store, {"nexadesk": nd, "crm": crm}, chunk_size=2)
    _fill(nd, 5)
    watch = Watch()
    run_cycle(CONFIG, store, {"nexadesk": nd, "crm": crm}, chunk_size=2, progress=watch)
    assert watch.writes and all(read == 5 for _, _, read in watch.writes)
    assert len(crm.records) == 7


def test_a_lead_read_again_after_it_was_planned_is_not_created_twice(tmp_path: Path) -> None:
    store = _store(tmp_path)
    nd = ReadTwice(again="")
    ids = _fill(nd, 4)
    # Planned in the second chunk, its create still waits for a full batch of three
    # when it is read again.
    nd.again = ids[3]
    crm = Crm()
    crm.write_batch_size = 3
    result = run_cycle(CONFIG, store, {"nexadesk": nd, "crm": crm}, chunk_size=2)
    assert result.ok
    assert len(crm.records) == 4 and _emails(nd) == _emails(crm)
    # Its later reading is what the CRM holds.
    link = store.links_by_nexadesk("s", [ids[3]])[ids[3]]
    assert crm.records[link.crm_id or ""]["visitor_phone"] == "+1-555-0199"
    assert run_cycle(CONFIG, store, {"nexadesk": nd, "crm": crm}).plan.counts() == {}


def test_a_stop_while_reading_keeps_what_was_written(tmp_path: Path) -> None:
    store = _store(tmp_path)
    nd, crm = MemoryConnector("nexadesk"), Crm()
    _fill(nd, 9)
    stop = threading.Event()
    result = run_cycle(CONFIG, store, {"nexadesk": nd, "crm": crm}, chunk_size=2,
                       stop=stop, progress=Watch(stop))  # fmt: skip
    assert result.status == "interrupted"
    assert result.summary is not None
    written = result.summary.counts["nexadesk->crm"]["created"]
    assert 0 < written < 9
    assert len(crm.records) == store.link_count("s") == written
    assert store.get_cursor("s", "nexadesk") is None
    (run,) = store.last_runs(limit=1)
    assert run.status == "interrupted" and run.summary["directions"]["nexadesk->crm"] == {
        "created": written
    }
    # The next cycle reads everything again and creates only the rest.
    again = run_cycle(CONFIG, store, {"nexadesk": nd, "crm": crm}, chunk_size=2)
    assert again.ok
    assert len(crm.records) == 9 and _emails(nd) == _emails(crm)
