"""``nexasync run``: every pair's cycle on its interval until told to stop.

APScheduler runs one job per pair. ``max_instances=1`` keeps a slow cycle from
overlapping the next one, and ``coalesce`` folds the runs it missed meanwhile into
one; across processes the pair lock does the same job. A stop (see
:mod:`nexasync.stopping`) lets running cycles finish their batch in flight, then
the process exits 0; if they have not finished within ``stop_timeout_seconds``
it exits 1 anyway and the next start recovers.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from nexasync import metrics
from nexasync.config import Config, PairConfig
from nexasync.engine.progress import LogProgress
from nexasync.health import HealthServer, readiness
from nexasync.runner import PairOutcome, run_pair
from nexasync.stopping import StopOnSignal
from nexasync.store.store import StateStore

EXIT_STOPPED, EXIT_STOP_TIMEOUT = 0, 1


class Service:
    def __init__(self, config: Config, store: StateStore) -> None:
        self.config, self.store = config, store
        self.stop = threading.Event()
        self.log = structlog.get_logger("nexasync.service")
        self._running: set[str] = set()
        self._idle = threading.Condition()
        self.health: HealthServer | None = None
        # One worker per pair: pairs never wait for each other, and a pair never runs
        # twice at once (max_instances), so more workers could never be busy.
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=len(config.pairs))},
            timezone=timezone.utc,
        )

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        address = self.config.service.address()
        if address is not None:
            metrics.watch(self.store, [p.name for p in self.config.pairs])
            # No grace after a start: a new deployment with, say, a bad credential
            # must not look ready; a store whose pairs synced recently still does.
            self.health = HealthServer(*address, lambda: readiness(self.store, self.config)).start()
            self.log.info("serving health and metrics", url=self.health.url)
        jitter = self.config.service.jitter_seconds
        now = datetime.now(timezone.utc)
        for pair in self.config.pairs:
            self.scheduler.add_job(
                self._run,
                IntervalTrigger(seconds=pair.interval_seconds, jitter=jitter or None),
                args=[pair],
                id=pair.name,
                name=f"sync {pair.name}",
                # The first cycle right away (jittered too, so pairs do not start in step).
                next_run_time=now + timedelta(seconds=random.uniform(0, jitter)),
                max_instances=1,
                coalesce=True,
                # A run that could not start on time (the previous one ran long)
                # still runs, once, as late as it must.
                misfire_grace_time=None,
            )
        self.scheduler.start()
        self.log.info(
            "service started",
            pairs=[p.name for p in self.config.pairs],
            intervals={p.name: p.interval_seconds for p in self.config.pairs},
        )

    def wait(self) -> int:
        """Block until a stop is asked for, then stop; return the exit code."""
        # A timeout keeps the main thread waking up, so signal handlers run promptly.
        while not self.stop.wait(timeout=0.5):
            pass
        return self.shutdown()

    def shutdown(self) -> int:
        self.stop.set()
        # No new runs; the running ones see the stop event and wind down.
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + self.config.service.stop_timeout_seconds
        with self._idle:
            while self._running and time.monotonic() < deadline:
                self._idle.wait(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            still = sorted(self._running)
        if self.health is not None:
            self.health.stop()
        if still:
            self.log.error(
                "stop timed out; exiting with cycles still running (the next start recovers)",
                pairs=still,
                timeout_seconds=self.config.service.stop_timeout_seconds,
            )
            return EXIT_STOP_TIMEOUT
        self.log.info("service stopped")
        return EXIT_STOPPED

    # -- one scheduled run -----------------------------------------------------------
    def _run(self, pair: PairConfig) -> None:
        if self.stop.is_set():
            return
        with self._idle:
            self._running.add(pair.name)
        try:
            progress = LogProgress(every=self.config.service.progress_seconds)
            outcome = run_pair(
                pair,
                self.store,
                stop=self.stop,
                progress=progress,
                keep_history_days=self.config.state.keep_history_days,
            )
            self._report(outcome)
        except Exception as exc:  # a job that raises would only reach APScheduler's log
            self.log.exception("run failed", pair=pair.name, error=f"{type(exc).__name__}: {exc}")
        finally:
            with self._idle:
                self._running.discard(pair.name)
                self._idle.notify_all()

    def _report(self, outcome: PairOutcome) -> None:
        log = self.log.bind(pair=outcome.pair, seconds=round(outcome.seconds, 3))
        if outcome.skipped is not None:
            log.warning("run skipped", reason=outcome.skipped)
        elif outcome.result is None:
            log.error("run failed", error=outcome.error)
        else:
            log.info("run finished", run_id=outcome.result.run_id, status=outcome.result.status)


def serve(config: Config, store: StateStore) -> int:
    """Run the service in this process until SIGTERM/SIGINT; return the exit code."""
    service = Service(config, store)
    with StopOnSignal(service.stop):
        service.start()
        code = service.wait()
    sys.stderr.flush()
    if code != EXIT_STOPPED:
        # Worker threads still in a cycle would keep a normal exit waiting forever.
        os._exit(code)
    return code
