"""``/query`` and ``/queryAll``: run SOQL, page the answer in batches, and keep the
query cursors that ``nextRecordsUrl`` points at (ten per user, oldest dropped).
Aggregate queries answer one AggregateResult row (queryAll counts the recycle bin too)."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from nexasync.sandbox._http import json_response
from nexasync.sandbox._sf_schema import Field, json_value, make_id
from nexasync.sandbox._sf_soql import Query, SoqlError, parse
from nexasync.sandbox._sf_soql_agg import compute
from nexasync.sandbox._sf_soql_eval import matches, run
from nexasync.sandbox._sf_store import Store
from nexasync.sandbox._sf_validate import fail

DEFAULT_BATCH, MIN_BATCH, MAX_BATCH = 2000, 200, 2000
MAX_CURSORS = 10
_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class Cursor:
    records: list[dict[str, Any]]
    batch: int
    endpoint: str


def batch_size(request: Request) -> int:
    m = _BATCH.search(request.headers.get("Sforce-Query-Options", ""))
    return DEFAULT_BATCH if not m else max(MIN_BATCH, min(MAX_BATCH, int(m.group(1))))


def project(obj: str, row: dict[str, Any], fields: list[Field], version: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "attributes": {"type": obj, "url": f"/services/data/v{version}/sobjects/{obj}/{row['Id']}"}}
    for f in fields:
        record[f.name] = json_value(row.get(f.name))
    return record


def aggregate_answer(query: Query, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregates without GROUP BY: one AggregateResult row (LIMIT 0 or an OFFSET past it
    leaves none); the row's attributes carry its type only, there is no record to point at."""
    values = compute(query.aggregates, [r for r in rows if matches(query.where, r)])
    result = {"attributes": {"type": "AggregateResult"},
              **{k: json_value(v) for k, v in values.items()}}
    end = None if query.limit is None else query.offset + query.limit
    records = [result][query.offset:end]
    return {"totalSize": len(records), "done": True, "records": records}


class Queries:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._seq = 0

    def query(self, request: Request, version: str, endpoint: str) -> Response:
        q = request.args.get("q")
        if not q:
            return fail(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            parsed = parse(q, self.store.fields)
        except SoqlError as e:
            return fail(400, e.code, e.message)
        rows = self.store.rows(parsed.obj, include_deleted=endpoint == "queryAll")
        if parsed.aggregates:
            return json_response(aggregate_answer(parsed, rows))
        rows = run(parsed, rows)
        if parsed.fields is None:
            return json_response({"totalSize": len(rows), "done": True, "records": []})
        records = [project(parsed.obj, r, parsed.fields, version) for r in rows]
        return self._page(Cursor(records, batch_size(request), endpoint), None, 0, version)

    def more(self, locator_offset: str, version: str) -> Response:
        locator, _, offset = locator_offset.rpartition("-")
        cursor = self.cursors.get(locator)
        if cursor is None or not offset.isdigit():
            return fail(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        self.cursors.move_to_end(locator)
        return self._page(cursor, locator, int(offset), version)

    def _page(self, cursor: Cursor, locator: str | None, offset: int, version: str) -> Response:
        chunk = cursor.records[offset: offset + cursor.batch]
        end = offset + len(chunk)
        body: dict[str, Any] = {"totalSize": len(cursor.records),
                                "done": end >= len(cursor.records)}
        if body["done"]:
            if locator is not None:
                self.cursors.pop(locator, None)
        else:
            if locator is None:
                self._seq += 1
                locator = make_id("01g", self._seq)
                self.cursors[locator] = cursor
                while len(self.cursors) > MAX_CURSORS:
                    self.cursors.popitem(last=False)
            body["nextRecordsUrl"] = f"/services/data/v{version}/{cursor.endpoint}/{locator}-{end}"
        body["records"] = chunk
        return json_response(body)
