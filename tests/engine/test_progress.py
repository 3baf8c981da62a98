"""Progress of a cycle: in place on a terminal, log lines at a steady pace off one."""

from __future__ import annotations

import io

from structlog.testing import capture_logs

from nexasync.engine.plan import Item, Plan, Write
from nexasync.engine.progress import LogProgress, TerminalProgress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _plan(creates: int) -> Plan:
    items = []
    for i in range(creates):
        item = Item(
            link_id=None,
            nexadesk_id=f"nd{i}",
            crm_id=None,
            base={"nexadesk": {}, "crm": {}},
            versions={"nexadesk": None, "crm": None},
            seen={"nexadesk": {}, "crm": None},
        )
        item.writes.append(Write("create", "crm", None, {}, source_id=f"nd{i}"))
        items.append(item)
    return Plan("p1", items=items)


def test_log_progress_reports_at_a_steady_interval() -> None:
    clock = Clock()
    progress = LogProgress(every=30, clock=clock)
    with capture_logs() as logs:
        progress.reading("nexadesk")
        for _ in range(1000):  # fast reading: no line before the interval is up
            progress.pulled("nexadesk")
        assert logs == []
        clock.now = 31
        for _ in range(256):
            progress.pulled("nexadesk")
        progress.plan(_plan(3))
        progress.wrote("crm", 2)
        clock.now = 62
        progress.wrote("crm", 1)
    assert [line["event"] for line in logs] == ["progress", "progress"]
    assert logs[0]["phase"] == "reading nexadesk"
    # Shown at the first 256th record after the interval was up.
    assert logs[0]["read_nexadesk"] == 1024
    assert logs[1]["log_level"] == "info"
    assert (logs[1]["phase"], logs[1]["planned_crm"], logs[1]["written_crm"]) == ("writing", 3, 3)


def test_terminal_progress_redraws_one_line_and_ends_it() -> None:
    clock, out = Clock(), io.StringIO()
    progress = TerminalProgress("p1", out, every=0.2, clock=clock)
    progress.reading("crm")
    clock.now = 1
    for _ in range(256):
        progress.pulled("crm")
    progress.plan(_plan(2))
    clock.now = 2
    progress.wrote("crm", 2)
    progress.finish()
    text = out.getvalue()
    frames = text.split("\r\x1b[K")[1:]
    assert frames[0] == "p1: reading crm: read nexadesk 0 · crm 256"
    assert frames[-1] == (
        "p1: done: read nexadesk 0 · crm 256 | written nexadesk 0 · crm 2 of nexadesk 0 · crm 2\n"
    )
    assert text.count("\n") == 1


def test_a_short_cycle_shows_nothing() -> None:
    clock, out = Clock(), io.StringIO()
    progress = TerminalProgress("p1", out, every=0.2, clock=clock)
    progress.reading("nexadesk")
    progress.pulled("nexadesk", 5)
    progress.finish()
    assert out.getvalue() == ""
