"""What a HubSpot pull remembers of its recent *window*, and the cheap reads that check it.

HubSpot's search index lags writes: a change may show up after a newer one, with
a ``lastmodifieddate`` behind the watermark. Every change not yet searchable has a
stamp within ``overlap`` of the time it is looked for, so whatever is older than
``since`` (the window's start) has been read for good, and the window
``lastmodifieddate >= since`` is where late changes can still land.

Rather than re-reading the window every pull, the cursor keeps how many contacts it
held (``count``) and which (``ids``, as id ranges). A later pull asks HubSpot for the
window's ``total``: it must be the remembered count plus the contacts that entered
the window since (read this pull, not among ``ids``). More means a late change:
the window is read again. A contact changed twice stays in the window and changes
no count, and a late arrival may coincide with a contact leaving the window
(archived, merged): such a late change is read when the window *settles*, once it
is two overlaps old on HubSpot's clock: then it is read in full, and starts afresh
at ``now - overlap``. So a late change is read within about two overlaps, and a
burst of writes is re-read once rather than on every cycle.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: Past this many id ranges the cursor keeps no ids (a window of scattered ids); the
#: window is then read again whenever anything may have entered it.
MAX_RANGES = 1000


class IdRanges:
    """A set of numeric ids as sorted ``[first, last]`` ranges: a burst of creates
    (consecutive ids) is one range whatever its size."""

    def __init__(self, ranges: Iterable[Iterable[int]] = ()) -> None:
        self.ranges = [(int(a), int(b)) for a, b in ranges]
        self._starts = [a for a, _ in self.ranges]

    @classmethod
    def of(cls, ids: Iterable[str], base: Iterable[tuple[int, int]] = ()) -> IdRanges | None:
        """The ranges of ``ids`` (and of ``base``); None when an id is not numeric or
        they take too many ranges."""
        pairs = list(base)
        for id in ids:
            if not id.isdigit():
                return None
            pairs.append((int(id), int(id)))
        pairs.sort()
        ranges: list[list[int]] = []
        for a, b in pairs:
            if ranges and a <= ranges[-1][1] + 1:
                ranges[-1][1] = max(ranges[-1][1], b)
                continue
            if len(ranges) == MAX_RANGES:
                return None
            ranges.append([a, b])
        return cls(ranges)

    def __contains__(self, id: object) -> bool:
        if not isinstance(id, str) or not id.isdigit():
            return False
        n = int(id)
        at = bisect_right(self._starts, n) - 1
        return at >= 0 and self.ranges[at][1] >= n

    def union(self, ids: Iterable[str]) -> IdRanges | None:
        return IdRanges.of(ids, self.ranges)

    def to_json(self) -> list[list[int]]:
        return [[a, b] for a, b in self.ranges]


@dataclass
class Window:
    since: datetime
    #: Live contacts with ``lastmodifieddate >= since`` at the last pull (-1: unknown).
    count: int
    #: Their ids, or more (ids that left the window stay); None: not kept.
    ids: IdRanges | None
    #: Each one's stamp (epoch ms) while they fit on a search page, else None.
    stamps: dict[str, int] | None = None

    def knows(self, id: str) -> bool:
        return self.ids is not None and id in self.ids

    @classmethod
    def load(cls, data: Any, parse: Any) -> Window | None:
        if not isinstance(data, Mapping):
            return None
        since = parse(data.get("since"))
        if since is None:
            return None
        raw = data.get("ids")
        ids = IdRanges(raw) if isinstance(raw, list) else None
        stamps = data.get("stamps")
        stamps = {str(k): int(v) for k, v in stamps.items()} \
            if isinstance(stamps, Mapping) else None
        return cls(since, int(data.get("count", -1)), ids, stamps)

    def to_json(self, iso: Any) -> dict[str, Any]:
        return {"since": iso(self.since), "count": self.count,
                "ids": None if self.ids is None else self.ids.to_json(),
                "stamps": self.stamps}
