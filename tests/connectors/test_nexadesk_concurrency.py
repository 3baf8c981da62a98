"""NexaDesk has no batch endpoint: the connector sends a batch's writes
``concurrency`` at a time, so one slow request does not hold up the rest."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from nexasync.config import NexaDeskConfig
from nexasync.connectors.base import CreateItem, WriteResult
from nexasync.connectors.nexadesk import NexaDeskConnector
from nexasync.sandbox import Sandbox


def test_writes_go_out_concurrently_and_a_held_one_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    assert NexaDeskConnector.write_batch_size > 1  # else the concurrency never applies
    with Sandbox(tmp_path / "sandbox") as box:
        section = box.pair_config()["nexadesk"]
        connector = NexaDeskConnector(NexaDeskConfig(**{**section, "concurrency": 4}))
        nd = box.nexadesk
        nd.reset_counts()
        nd.faults.pause_at = 1  # the first create is held before it is handled
        items = [
            CreateItem(f"crm-{i}", {"visitor_name": f"Conc {i}", "visitor_email": f"c{i}@x.io"})
            for i in range(10)
        ]
        results: list[WriteResult] = []
        worker = threading.Thread(target=lambda: results.extend(connector.create(items)))
        worker.start()
        try:
            deadline = time.monotonic() + 30
            # While the first request waits, the other workers send the other nine.
            while nd.counts["create"] < 10:
                assert time.monotonic() < deadline, dict(nd.counts)
                time.sleep(0.01)
            assert nd.faults.paused.is_set() and not results
        finally:
            nd.faults.clear()
            worker.join(30)
            connector.close()
        assert [r.ok for r in results] == [True] * 10
        assert len(nd.leads()) == 10


def _create_many(box: Sandbox, n: int, **section: object) -> list[WriteResult]:
    config = NexaDeskConfig(**{**box.pair_config()["nexadesk"], **section})
    connector = NexaDeskConnector(config)
    try:
        return connector.create([
            CreateItem(f"crm-{i}", {"visitor_name": f"Paced {i}", "visitor_email": f"p{i}@x.io"})
            for i in range(n)
        ])  # fmt: skip
    finally:
        connector.close()


def test_a_configured_rate_keeps_concurrent_writes_under_the_limit(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sandbox") as box:
        nd = box.nexadesk
        nd.rate_limit = 20  # requests per second, refused beyond with a 429
        # Paced below the limit, eight threads write with no request refused: each
        # create is exactly one request...
        nd.reset_counts()
        results = _create_many(box, 45, concurrency=8, max_requests_per_second=15)
        assert [r.ok for r in results] == [True] * 45
        assert nd.counts["create"] == 45
        # ...where unpaced they run into the limit and have to retry.
        nd.reset_counts()
        _create_many(box, 30, concurrency=8)
        assert nd.counts["create"] > 30
