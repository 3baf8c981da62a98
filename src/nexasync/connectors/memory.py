"""An in-memory system for testing the engine alone (property tests, reconcile
scenarios). It keeps the contract honestly — versions, incremental pulls,
tombstones, per-record results — and can be made lossy like a real CRM.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from nexasync.connectors.base import (
    Connector,
    CreateItem,
    Cursor,
    KnownIds,
    Pull,
    Record,
    UpdateItem,
    WriteResult,
)
from nexasync.lead import FIELDS, Lead, norm_email, normalise

_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class MemoryConnector(Connector):
    write_batch_size = 50

    def __init__(
        self,
        system: str = "memory",
        *,
        name_limit: int | None = None,
        stage_map: dict[str, str] | None = None,
        read_only: set[str] | None = None,
        clock: Iterator[int] | None = None,
    ) -> None:
        self.system = system  # type: ignore[misc]
        self.name_limit = name_limit
        #: canonical stage -> canonical stage it reads back as (many-to-one).
        self.stage_map = stage_map or {}
        self.read_only = read_only or set()
        self.records: dict[str, Lead] = {}
        self._version: dict[str, int] = {}
        self._tombstones: dict[str, int] = {}
        # Two systems handed one clock stamp their changes on one time line, so "newest
        # change wins" compares like with like (each real system has a wall clock).
        self._clock = clock if clock is not None else itertools.count(1)
        self._ids = itertools.count(1)
        self.stats: Counter[str] = Counter()
        #: ids whose next write fails (validation-like), consumed on use.
        self.fail_next: set[str] = set()

    # -- direct edits (the "user" of this system) -----------------------------------
    def put(self, fields: dict[str, Any], id: str | None = None) -> str:
        rid = id or f"{self.system[:2]}{next(self._ids)}"
        self.records[rid] = self.project(normalise(fields))
        self._version[rid] = next(self._clock)
        return rid

    def edit(self, rid: str, **fields: Any) -> None:
        self.records[rid] = {**self.records[rid], **self.project(normalise(fields))}
        self._version[rid] = next(self._clock)

    def remove(self, rid: str) -> None:
        del self.records[rid]
        self._tombstones[rid] = next(self._clock)

    # -- contract ----------------------------------------------------------------------
    def project(self, lead: Lead) -> Lead:
        out = dict(lead)
        name = out.get("visitor_name")
        if self.name_limit and isinstance(name, str) and len(name) > self.name_limit:
            out["visitor_name"] = name[: self.name_limit].rstrip() or None
        stage = out.get("pipeline_stage")
        if stage in self.stage_map:
            out["pipeline_stage"] = self.stage_map[stage]
        return out

    def _record(self, rid: str) -> Record:
        version = self._version[rid]
        return Record(
            rid,
            dict(self.records[rid]),
            version=str(version),
            modified_at=_EPOCH + timedelta(seconds=version),
            read_only="converted" if rid in self.read_only else None,
        )

    def pull(self, cursor: Cursor | None, known: KnownIds) -> Pull:
        self.stats["pull"] += 1
        since = (cursor or {}).get("version", 0)
        top = max([since, *self._version.values(), *self._tombstones.values()])
        live = [
            self._record(r) for r, v in self._version.items() if r in self.records and v > since
        ]
        gone = [
            Record(r, deleted=True) for r, v in self._tombstones.items() if v > since and r in known
        ]
        pull = Pull(live + gone)
        pull.cursor = {"version": top}
        return pull

    def create(self, items: Sequence[CreateItem]) -> list[WriteResult]:
        self.stats["create"] += 1
        out = []
        for item in items:
            if item.source_id in self.fail_next:
                self.fail_next.discard(item.source_id)
                out.append(WriteResult.failed(None, "refused"))
                continue
            rid = self.put({k: v for k, v in item.fields.items() if k in FIELDS})
            out.append(WriteResult(ok=True, id=rid, record=self._record(rid)))
        return out

    def update(self, items: Sequence[UpdateItem]) -> list[WriteResult]:
        self.stats["update"] += 1
        out = []
        for item in items:
            if item.id not in self.records:
                out.append(WriteResult(ok=False, id=item.id, gone=True, error="not found"))
            elif item.id in self.read_only:
                out.append(WriteResult(ok=False, id=item.id, skipped="converted lead"))
            elif item.id in self.fail_next:
                self.fail_next.discard(item.id)
                out.append(WriteResult.failed(item.id, "refused"))
            else:
                self.edit(item.id, **item.fields)
                out.append(WriteResult(ok=True, id=item.id, record=self._record(item.id)))
        return out

    def delete(self, ids: Sequence[str]) -> list[WriteResult]:
        self.stats["delete"] += 1
        out = []
        for rid in ids:
            if rid in self.records:
                self.remove(rid)
                out.append(WriteResult(ok=True, id=rid))
            else:
                out.append(WriteResult(ok=True, id=rid, gone=True))
        return out

    def match(self, leads: Sequence[Lead]) -> list[list[Record]]:
        self.stats["match"] += 1
        out = []
        for lead in leads:
            email = norm_email(lead.get("visitor_email"))
            out.append(
                [
                    self._record(r)
                    for r, f in self.records.items()
                    if email and f.get("visitor_email") == email
                ]
            )
        return out
