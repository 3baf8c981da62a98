"""``sobjects/Lead/updated`` and ``sobjects/Lead/deleted`` (the replication API).

As documented: the seconds of ``start`` and ``end`` are ignored; ``start`` must be at
least a minute before ``end`` and not more than 30 days ago; ``latestDateCovered`` is
never later than the current minute, so a record changed during the current minute
is reported by the next call, whose ``start`` is that ``latestDateCovered``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from nexasync.sandbox._http import json_response
from nexasync.sandbox._sf_schema import parse_time, sf_time
from nexasync.sandbox._sf_store import Store
from nexasync.sandbox._sf_validate import RequestError

MAX_AGE = timedelta(days=30)


def _minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


def window(request: Request, now: datetime) -> tuple[datetime, datetime]:
    """(start, end) as the API reads them; end is capped at the current minute."""
    raw_start, raw_end = request.args.get("start"), request.args.get("end")
    if not raw_start or not raw_end:
        raise RequestError(400, "MISSING_ARGUMENT", "start and end must both be specified")
    start, end = parse_time(raw_start), parse_time(raw_end)
    if start is None or end is None:
        bad = raw_start if start is None else raw_end
        raise RequestError(400, "INVALID_REPLICATION_DATE", f"Unable to parse date: {bad}")
    start, end = _minute(start), _minute(end)
    if end - start < timedelta(minutes=1):
        # Salesforce's own wording, odd as it reads.
        raise RequestError(400, "INVALID_REPLICATION_DATE",
                           "startDate must be at least one minute greater than endDate")
    if start < _minute(now) - MAX_AGE:
        raise RequestError(400, "INVALID_REPLICATION_DATE",
                           "startDate cannot be more than 30 days ago")
    return start, min(end, _minute(now))


def updated(store: Store, request: Request) -> Response:
    start, end = window(request, store.now())
    hits = sorted((r["SystemModstamp"], i) for i, r in store.leads.items()
                  if not r["IsDeleted"] and start <= r["SystemModstamp"] < end)
    return json_response({"ids": [i for _, i in hits], "latestDateCovered": sf_time(end)})


def deleted(store: Store, request: Request, earliest: datetime) -> Response:
    start, end = window(request, store.now())
    hits = sorted((d, i) for i, d in store.deleted_log.items() if d >= earliest
                  and start <= d < end)
    body: dict[str, Any] = {
        "deletedRecords": [{"id": i, "deletedDate": sf_time(d)} for d, i in hits],
        "earliestDateAvailable": sf_time(earliest),
        "latestDateCovered": sf_time(end),
    }
    return json_response(body)
