"""How far a cycle has got: records read, planned and written, per side.

A first sync of a large pair runs for minutes; without this an operator cannot
tell a slow cycle from a hung one. The engine only counts (cheap: one addition
per record); a reporter decides when and how to show it. On a terminal that is
one line redrawn in place; off a terminal (a container, cron) it is a log line
at a steady interval, so logs stay readable and bounded.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

import structlog

from nexasync.engine.plan import SIDES, Plan, Side

Clock = Callable[[], float]


class Progress:
    """Counts of one cycle. Subclasses show them; this base shows nothing."""

    def __init__(self, *, every: float = 30.0, clock: Clock = time.monotonic) -> None:
        self.every, self.clock = every, clock
        self.phase = "starting"
        self.read: Counter[Side] = Counter()
        self.planned: Counter[Side] = Counter()
        self.written: Counter[Side] = Counter()
        self._next = clock() + every

    # -- what the engine calls -------------------------------------------------------
    def reading(self, side: Side) -> None:
        self.phase = f"reading {side}"
        self.tick()

    def pulled(self, side: Side, n: int = 1) -> None:
        self.read[side] += n
        # Looking at the clock per record would cost more than counting it.
        if self.read[side] % 256 == 0:
            self.tick()

    def plan(self, plan: Plan) -> None:
        for side in SIDES:
            # A cycle plans chunk by chunk: each chunk's writes add up.
            self.planned[side] += sum(
                len(plan.writes(side, op)) for op in ("create", "update", "delete")
            )
        self.phase = "writing"
        self.tick()

    def wrote(self, side: Side, n: int) -> None:
        self.written[side] += n
        self.tick()

    def finish(self) -> None:
        self.phase = "done"

    # -- when to show ----------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock()
        if now >= self._next:
            self._next = now + self.every
            self.show()

    def show(self) -> None:
        """Report the counts as they stand."""

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase}
        for name, counts in (
            ("read", self.read),
            ("planned", self.planned),
            ("written", self.written),
        ):
            for side in SIDES:
                out[f"{name}_{side}"] = counts[side]
        return out

    def line(self) -> str:
        def both(counts: Counter[Side]) -> str:
            return f"nexadesk {counts['nexadesk']:,} · crm {counts['crm']:,}"

        text = f"{self.phase}: read {both(self.read)}"
        if self.phase in ("writing", "done"):
            text += f" | written {both(self.written)} of {both(self.planned)}"
        return text


class LogProgress(Progress):
    """A ``progress`` log line every ``every`` seconds (it carries pair and run id)."""

    def show(self) -> None:
        structlog.get_logger("nexasync.progress").info("progress", **self.fields())


class TerminalProgress(Progress):
    """One status line redrawn in place on a terminal, a few times a second."""

    def __init__(
        self,
        pair: str,
        stream: TextIO | None = None,
        *,
        every: float = 0.2,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(every=every, clock=clock)
        self.pair = pair
        self.stream = stream or sys.stderr
        self._shown = False

    def show(self) -> None:
        self.stream.write(f"\r\x1b[K{self.pair}: {self.line()}")
        self.stream.flush()
        self._shown = True

    def finish(self) -> None:
        super().finish()
        if self._shown:
            # Leave the final counts on screen and move on to a new line.
            self.show()
            self.stream.write("\n")
            self.stream.flush()


def progress_for(pair: str, *, interactive: bool, every: float) -> Progress:
    """The reporter that fits where output goes: in place on a terminal, log lines off one."""
    return TerminalProgress(pair) if interactive else LogProgress(every=every)
