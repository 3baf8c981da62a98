"""Planning a first sync's NexaDesk leads while NexaDesk is still being read.

A first sync reads every NexaDesk lead, a chain of page requests that each wait on
the API; planned only after the last page, their writes would start only then. Most
of those leads need nothing but the CRM's records to be decided: a lead with no link
whose email no CRM record holds can only be created in the CRM, whatever else the
read brings. So the CRM is read first, and such leads are planned and written a
chunk at a time as their pages arrive, while the read goes on.

Everything else waits for the end of the read, as in every other cycle: a lead that
is linked, or whose email a CRM record holds (the pairing by email must see every
lead holding it), or that is read a second time after being planned (a page that
shifted while paginating; its later reading is planned after the creates before it
are stored, as the update it then is).
"""

from __future__ import annotations

from collections.abc import Callable

from nexasync.connectors.base import Record
from nexasync.engine.chunking import Chunk
from nexasync.engine.spool import Spool
from nexasync.lead import norm_email
from nexasync.store.store import StateStore


class Streamer:
    """Takes NexaDesk's records as they are read; hands ``plan`` each chunk of those
    that can be decided already."""

    def __init__(
        self,
        pair: str,
        store: StateStore,
        crm: Spool,
        plan: Callable[[Chunk], None],
        size: int,
    ) -> None:
        self._pair, self._store, self._crm, self._plan, self._size = pair, store, crm, plan, size
        self._waiting: dict[str, Record] = {}
        #: Ids planned here.
        self.planned: set[str] = set()
        #: Ids planned here and read again afterwards: the chunker must plan them too.
        self.again: set[str] = set()

    def offer(self, record: Record) -> None:
        if record.id in self.planned:
            self.again.add(record.id)
            return
        self._waiting[record.id] = record  # read twice before planning: the later wins
        if len(self._waiting) >= self._size:
            self.flush()

    def flush(self) -> None:
        waiting, self._waiting = self._waiting, {}
        if not waiting:
            return
        linked = self._store.links_by_nexadesk(self._pair, list(waiting))
        ready = {
            id: record
            for id, record in waiting.items()
            if id not in linked and not record.deleted and not self._crm.has_email(
                norm_email(record.fields.get("visitor_email"))
            )
        }  # fmt: skip
        if ready:
            self.planned.update(ready)
            self._plan(Chunk({"nexadesk": ready, "crm": {}}, {"nexadesk": {}, "crm": {}}))

    def done(self) -> set[str]:
        """The ids the chunker must leave out: planned here, and not read since."""
        self.flush()
        return self.planned - self.again


__all__ = ["Streamer"]
