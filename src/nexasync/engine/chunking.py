"""Split a cycle's changes into chunks that can each be planned on their own.

Reconcile decides per lead pair, so a chunk only has to hold, together, everything
one decision looks at:

* both sides of a link, when both changed: a NexaDesk record brings its linked CRM
  record along, and a CRM record brought along brings its own linked NexaDesk record;
* every unlinked record that may pair by email: records of one side sharing an email
  are never split, and bring the other side's records with that email along.

NexaDesk's records are chunked first, then the CRM records none of them brought
along; last, the links holding pending state that no chunk reached. Each record and
each link is planned once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from nexasync.connectors.base import Record
from nexasync.engine.plan import SIDES, Side, other
from nexasync.engine.spool import Spool
from nexasync.store.store import Link, StateStore

#: Records per chunk. A multiple of every write batch size (200 Salesforce, 100
#: HubSpot and NexaDesk) keeps batches full; partial ones also carry over to the next
#: chunk in the executor.
CHUNK = 2000


@dataclass
class Chunk:
    changes: dict[Side, dict[str, Record]]
    #: Links of the records in ``changes``, per side, keyed by that side's id.
    links: dict[Side, dict[str, Link]]
    #: Links with pending state planned here although none of their records changed.
    pending: list[Link] = field(default_factory=list)

    def relevant(self) -> list[Link]:
        """Every link this chunk's decisions touch, once each."""
        out: dict[int, Link] = {}
        for side in SIDES:
            for rid, link in self.links[side].items():
                if rid in self.changes[side] and link.id is not None:
                    out[link.id] = link
        for link in self.pending:
            if link.id is not None:
                out.setdefault(link.id, link)
        return list(out.values())


class Chunker:
    def __init__(
        self,
        pair: str,
        store: StateStore,
        spools: dict[Side, Spool],
        pending: Sequence[Link],
        size: int = CHUNK,
        *,
        taken: Mapping[Side, set[str]] | None = None,
    ) -> None:
        self._pair, self._store, self._spools, self._size = pair, store, spools, size
        self._pending = {link.id: link for link in pending if link.id is not None}
        #: Ids already planned (``taken``: before the chunker, as it was read).
        self._taken: dict[Side, set[str]] = {s: set((taken or {}).get(s, ())) for s in SIDES}

    def chunks(self) -> Iterator[Chunk]:
        for side in SIDES:
            for ids in self._groups(side):
                yield self._close(side, ids)
        rest = list(self._pending.values())
        for start in range(0, len(rest), self._size):
            part = rest[start : start + self._size]
            empty: dict[Side, dict[str, Link]] = {"nexadesk": {}, "crm": {}}
            yield Chunk({"nexadesk": {}, "crm": {}}, empty, part)

    def _groups(self, side: Side) -> Iterator[list[str]]:
        spool, taken = self._spools[side], self._taken[side]
        chunk: list[str] = []
        for id in spool.ids():
            if id in taken:
                continue
            email = spool.email_of(id)
            for member in spool.with_email(email) if email else [id]:
                if member not in taken:
                    taken.add(member)
                    chunk.append(member)
            if len(chunk) >= self._size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _links(self, side: Side, ids: Sequence[str]) -> dict[str, Link]:
        if side == "nexadesk":
            return self._store.links_by_nexadesk(self._pair, ids)
        return self._store.links_by_crm(self._pair, ids)

    def _take(self, side: Side, ids: list[str]) -> list[str]:
        spool, taken = self._spools[side], self._taken[side]
        fresh = [i for i in dict.fromkeys(ids) if i in spool and i not in taken]
        taken.update(fresh)
        return fresh

    def _close(self, side: Side, ids: list[str]) -> Chunk:
        there = other(side)
        mine = self._links(side, ids)
        wanted: list[str] = []
        for id in ids:
            link = mine.get(id)
            if link is not None:
                counterpart = link.crm_id if side == "nexadesk" else link.nexadesk_id
                if counterpart:
                    wanted.append(counterpart)
                continue
            email = self._spools[side].email_of(id)
            if email:
                wanted.extend(self._spools[there].with_email(email))
        there_ids = self._take(there, wanted)
        theirs = self._links(there, there_ids)
        # A record of the other side brought by email may be linked to one of ours
        # that this chunk does not hold yet: both sides of that link go together.
        back = [
            (link.nexadesk_id if side == "nexadesk" else link.crm_id) or ""
            for link in theirs.values()
        ]
        extra = self._take(side, back)
        if extra:
            mine.update(self._links(side, extra))
        for link in (*mine.values(), *theirs.values()):
            self._pending.pop(link.id, None)
        return Chunk(
            {side: self._spools[side].records(ids + extra),
             there: self._spools[there].records(there_ids)},
            {side: mine, there: theirs},
        )  # fmt: skip


__all__ = ["CHUNK", "Chunk", "Chunker"]
