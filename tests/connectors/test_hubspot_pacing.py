"""Batch writes keep to the app's rolling request limit as HubSpot states it on every
answer, instead of running into it and waiting out the window after a 429."""

from __future__ import annotations

from _hubspot_env import Sandbox

from nexasync.connectors.base import CreateItem
from nexasync.lead import normalise


def _creates(n: int) -> list[CreateItem]:
    return [
        CreateItem(f"nd-{i}", normalise({"visitor_name": f"Paced {i}",
                                         "visitor_email": f"paced{i}@example.com"}))
        for i in range(n)
    ]  # fmt: skip


def test_batch_writes_keep_under_the_stated_rolling_limit() -> None:
    box = Sandbox(rate_limit=3, rate_window=10.0)  # three requests in any ten seconds
    try:
        connector = box.connector()
        results = connector.create(_creates(800))  # eight batches of 100
        assert all(r.ok for r in results) and len(box.emulator.contacts()) == 800
        # Each batch sent once: none refused with a 429 and sent again...
        assert box.emulator.counts["batch_create"] == 8
        # ...because the connector waited for the window instead (on the fake clock).
        assert box.time.monotonic() >= 20.0
    finally:
        box.close()
