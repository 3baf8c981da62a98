"""Prometheus metrics of the sync: cycles, records, record errors, API requests.

Everything lives in :data:`REGISTRY`, not prometheus-client's global one, so what
``/metrics`` shows is ours alone (no process/platform collectors). The counters are
process-wide: tests compare values before and after what they do.

"Seconds since the last successful cycle" is computed at scrape time from the state
store's run history when a store is watched (see :func:`watch`), so a pair that has
not run yet in this process still shows how stale it is; cycles observed in this
process count too (a store that cannot be read must not hide them). A watched pair
that never succeeded shows ``+Inf``, which any "older than" alert catches.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# The *_created series (when each counter was born) only double what a scraper sees.
disable_created_metrics()

if TYPE_CHECKING:
    from nexasync.engine.cycle import CycleResult
    from nexasync.store.store import StateStore

__all__ = [
    "REGISTRY",
    "SUCCESS_STATUSES",
    "count_request",
    "last_successes",
    "observe_cycle",
    "watch",
]

#: Run statuses that count as a successful cycle. "partial" does: the cycle ran and
#: synced everything but the failed records, which ``record_errors_total`` exposes.
SUCCESS_STATUSES = ("ok", "partial")
#: Summary directions (named by where the writes go) and the side each one writes to.
DIRECTIONS = {"nexadesk->crm": "crm", "crm->nexadesk": "nexadesk"}
OPERATIONS = ("created", "updated", "deleted", "failed", "skipped")
#: From a tenth of a second (an idle pair) to an hour (a first sync of a big account).
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)

REGISTRY = CollectorRegistry()

CYCLES = Counter(
    "nexasync_cycles",
    "Sync cycles run, by pair and outcome (ok, partial, failed, ...).",
    ["pair", "status"],
    registry=REGISTRY,
)
RECORDS = Counter(
    "nexasync_records",
    "Records handled by sync cycles, by pair, direction and operation.",
    ["pair", "direction", "operation"],
    registry=REGISTRY,
)
RECORD_ERRORS = Counter(
    "nexasync_record_errors",
    "Records that failed: a write refused or failed (kind=write), or a record read "
    "that cannot be synced (kind=invalid); side is where the record was to be written "
    "or was read.",
    ["pair", "side", "kind"],
    registry=REGISTRY,
)
API_REQUESTS = Counter(
    "nexasync_api_requests",
    "HTTP requests sent to each system (every attempt, retries included), by HTTP "
    'status code, or "error" when no answer came.',
    ["system", "status"],
    registry=REGISTRY,
)
CYCLE_SECONDS = Histogram(
    "nexasync_cycle_duration_seconds",
    "Duration of sync cycles, failed ones included.",
    ["pair"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)

log = structlog.get_logger("nexasync.metrics")


class _Successes:
    """Last successful cycle per pair: seen in this process, and in the watched store."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.store: StateStore | None = None
        self.pairs: tuple[str, ...] = ()
        self.observed: dict[str, float] = {}

    def times(self) -> dict[str, float | None]:
        """pair -> Unix time of its last success (None: never), for the watched pairs
        and every pair observed in this process."""
        with self.lock:
            store, pairs, observed = self.store, self.pairs, dict(self.observed)
        out: dict[str, float | None] = dict.fromkeys(pairs)
        out.update(observed)
        if store is not None:
            try:
                stored = last_successes(store, pairs)
            except Exception as exc:  # a scrape must still answer when the store is down
                log.warning("cannot read run history", error=f"{type(exc).__name__}: {exc}")
                stored = {}
            for pair, when in stored.items():
                out[pair] = max(out.get(pair) or 0.0, when.timestamp())
        return out


_successes = _Successes()


class _SinceLastSuccess(Collector):
    def collect(self) -> Iterator[Metric]:
        now = time.time()
        since = GaugeMetricFamily(
            "nexasync_seconds_since_last_success",
            "Seconds since the pair's last successful (ok or partial) cycle; +Inf if none.",
            labels=["pair"],
        )
        at = GaugeMetricFamily(
            "nexasync_last_success_timestamp_seconds",
            "Unix time the pair's last successful (ok or partial) cycle finished.",
            labels=["pair"],
        )
        for pair, when in sorted(_successes.times().items()):
            since.add_metric([pair], math.inf if when is None else max(0.0, now - when))
            if when is not None:
                at.add_metric([pair], when)
        yield since
        yield at

    def describe(self) -> Iterator[Metric]:
        # Without this, registering would collect, and so read the store, right away.
        yield GaugeMetricFamily("nexasync_seconds_since_last_success", "", labels=["pair"])
        yield GaugeMetricFamily("nexasync_last_success_timestamp_seconds", "", labels=["pair"])


REGISTRY.register(_SinceLastSuccess())


def _init_pair(pair: str) -> None:
    """Create a pair's series at zero, so rate() and increase() see their first rise."""
    for status in ("ok", "partial", "failed"):
        CYCLES.labels(pair, status)
    for direction, side in DIRECTIONS.items():
        for operation in OPERATIONS:
            RECORDS.labels(pair, direction, operation)
        for kind in ("write", "invalid"):
            RECORD_ERRORS.labels(pair, side, kind)
    CYCLE_SECONDS.labels(pair)


def watch(store: StateStore | None, pairs: Iterable[str]) -> None:
    """Serve seconds-since-last-success for ``pairs`` (and their other series, at
    zero) from ``store``'s run history; the service calls this once at start."""
    names = tuple(pairs)
    for pair in names:
        _init_pair(pair)
    with _successes.lock:
        _successes.store, _successes.pairs = store, names


def observe_cycle(pair: str, result: CycleResult | None, seconds: float) -> None:
    """Count one cycle of ``pair`` that took ``seconds``; ``result`` None: it raised."""
    _init_pair(pair)
    status = "failed" if result is None else result.status
    CYCLES.labels(pair, status).inc()
    CYCLE_SECONDS.labels(pair).observe(max(0.0, seconds))
    if result is None:
        return
    if result.status in SUCCESS_STATUSES:
        with _successes.lock:
            _successes.observed[pair] = time.time()
    if result.summary is not None:
        for direction, counts in result.summary.counts.items():
            for operation, n in counts.items():
                if n:
                    RECORDS.labels(pair, direction, operation).inc(n)
            failed = counts.get("failed", 0)
            if failed and direction in DIRECTIONS:
                RECORD_ERRORS.labels(pair, DIRECTIONS[direction], "write").inc(failed)
    for side, _record_id, _reason in result.plan.invalid:
        RECORD_ERRORS.labels(pair, side, "invalid").inc()


def count_request(system: str, status: int | str) -> None:
    """Count one HTTP request sent to ``system``: its status code, or "error" when no
    answer came (refused, reset, timed out)."""
    API_REQUESTS.labels(system, str(status)).inc()


def last_successes(store: StateStore, pairs: Iterable[str]) -> dict[str, datetime]:
    """pair -> when its last successful run finished (UTC); pairs without one are absent."""
    return store.last_finished(pairs, SUCCESS_STATUSES)
