"""The service's scheduling, in process: one job per pair on its interval, never two
runs of a pair at once, missed runs folded into one, and a clean stop."""

from __future__ import annotations

import time
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger

from nexasync.config import parse_config
from nexasync.sandbox import Sandbox
from nexasync.service import EXIT_STOPPED, Service
from nexasync.store.store import StateStore


def test_one_job_per_pair_and_a_clean_stop(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sandbox") as box:
        data = box.config(f"sqlite:///{tmp_path / 'state.db'}")
        second = {**data["pairs"][0], "name": "second", "interval_seconds": 120}
        data["pairs"].append(second)
        data["service"] = {"listen": "", "jitter_seconds": 7}
        config = parse_config(data)
        store = StateStore(config.state.url)
        service = Service(config, store)
        try:
            service.start()
            jobs = {job.id: job for job in service.scheduler.get_jobs()}
            assert set(jobs) == {"sandbox", "second"}
            for name, interval in (("sandbox", 300), ("second", 120)):
                job = jobs[name]
                assert job.max_instances == 1 and job.coalesce
                assert isinstance(job.trigger, IntervalTrigger)
                assert job.trigger.interval.total_seconds() == interval
                assert job.trigger.jitter == 7
            # Both pairs run their first cycle soon after the start (within the jitter).
            deadline = time.monotonic() + 60
            while {r.pair for r in store.last_runs() if r.status == "ok"} != {"sandbox", "second"}:
                assert time.monotonic() < deadline, store.last_runs()
                time.sleep(0.05)
        finally:
            code = service.shutdown()
            store.close()
    assert code == EXIT_STOPPED
    assert not service.scheduler.running
