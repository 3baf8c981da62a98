"""What the Lead cursor remembers of its overlap window, so a large window is checked
with one aggregate query instead of being read again every cycle.

The overlap window is there for late commits: a transaction can commit after our read a
row whose ``SystemModstamp`` is older than the newest one we saw. The window is measured
in data time, so after a burst (a first sync writing thousands of leads) it holds the
whole burst until something newer changes. Reading it again each cycle costs a page per
2,000 rows; instead the cursor keeps, for a window larger than one page, its start, the
number of rows in it (``queryAll``, so deleted rows count) and their ids, and each cycle
asks ``SELECT COUNT(Id), MAX(SystemModstamp)`` over it:

* the same count and newest stamp: nothing changed, nothing committed late;
* otherwise the rows changed after the watermark are read, and the window is expected to
  hold the remembered ids plus those: any other count means a row came into the window
  that we never read (a late commit) or one left it (a purge), and the window is read
  again in full.

The start stays put while the window is checked this way (a wider window is only safer),
and the ids grow by what each cycle reads; past :data:`MAX_IDS` they are dropped and the
next change re-reads the window, which starts it afresh. What one count cannot see is a
row already in the window changed again by a late commit with a stamp inside it: windows
that fit in one page are still read whole each cycle, which sees that too.
"""

from __future__ import annotations

import base64
import zlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: A window of more ids than this is remembered by its count only (about 8 bytes an id
#: in the cursor once compressed, so the cursor stays under a megabyte).
MAX_IDS = 100_000


def floor_second(value: datetime) -> datetime:
    """SOQL dateTime literals are to the second: a window starts on one, so the
    count asked for is the count of the rows remembered."""
    return value.replace(microsecond=0)


def _pack(ids: set[str]) -> str:
    return base64.b64encode(zlib.compress(" ".join(sorted(ids)).encode("ascii"))).decode()


def _unpack(text: str) -> set[str]:
    raw = zlib.decompress(base64.b64decode(text)).decode("ascii")
    return set(raw.split()) if raw else set()


@dataclass
class Window:
    """The rows whose stamp is at or after ``start``, as of the last read."""

    start: datetime
    count: int
    #: None when there were more than :data:`MAX_IDS`.
    ids: set[str] | None

    def dump(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "count": self.count,
                "ids": None if self.ids is None else _pack(self.ids)}

    @classmethod
    def load(cls, value: Any) -> Window | None:
        if not isinstance(value, dict):
            return None
        try:
            ids = value.get("ids")
            return cls(datetime.fromisoformat(value["start"]), int(value["count"]),
                       None if ids is None else _unpack(ids))
        except (KeyError, TypeError, ValueError, zlib.error):
            return None  # an unreadable window is re-read, never trusted

    def grown(self, ids: set[str]) -> Window:
        """This window after the changes read (``ids``, all stamped inside it)."""
        if self.ids is None:
            return Window(self.start, self.count, None)
        merged = self.ids | ids
        return Window(self.start, len(merged), merged if len(merged) <= MAX_IDS else None)


class WindowTracker:
    """Builds the window from rows read in ``SystemModstamp`` order: those within
    ``overlap`` of the newest stamp, which only grows, so older ones are let go."""

    def __init__(self, overlap: timedelta) -> None:
        self._overlap = overlap
        self._rows: deque[tuple[datetime, str]] = deque()
        self._high: datetime | None = None

    def add(self, stamp: datetime | None, id: str) -> None:
        if stamp is None:
            return
        if self._high is None or stamp > self._high:
            self._high = stamp
            start = floor_second(stamp - self._overlap)
            while self._rows and self._rows[0][0] < start:
                self._rows.popleft()
        self._rows.append((stamp, id))

    def window(self, high: datetime | None) -> Window | None:
        """The window below ``high`` (the cursor's new watermark), when read rows reach it."""
        if high is None:
            return None
        start = floor_second(high - self._overlap)
        ids = {id for stamp, id in self._rows if stamp >= start}
        return Window(start, len(ids), ids if len(ids) <= MAX_IDS else None)
