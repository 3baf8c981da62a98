"""Every line of a cycle carries the pair and the run id, the connectors' included."""

from __future__ import annotations

from pathlib import Path

import structlog
from structlog.testing import capture_logs

from nexasync.config import PairConfig
from nexasync.connectors.memory import MemoryConnector
from nexasync.engine.cycle import run_cycle
from nexasync.store.store import StateStore


class _ChattyConnector(MemoryConnector):
    def pull(self, cursor, known):  # type: ignore[no-untyped-def]
        structlog.get_logger("nexasync.test").info("connector says hello")
        return super().pull(cursor, known)


def test_cycle_lines_carry_pair_and_run_id(tmp_path: Path) -> None:
    config = PairConfig.model_validate(
        {"name": "logs", "nexadesk": {"api_key": "k"}, "crm": {"auth": {"session_id": "s"}}}
    )
    nd, crm = _ChattyConnector("nexadesk"), MemoryConnector("crm")
    nd.put({"visitor_name": "Log Person", "visitor_email": "log@example.com"})
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as lines:
        result = run_cycle(config, store, {"nexadesk": nd, "crm": crm}, run_id="run-42")
    assert result.ok
    assert any(line["event"] == "connector says hello" for line in lines)
    assert len(lines) >= 3
    for line in lines:
        assert line.get("pair") == "logs", line
        assert line.get("run_id") == "run-42", line
