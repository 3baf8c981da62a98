"""The service's HTTP endpoint over real HTTP: /healthz, /readyz judged from the run
history of real sync cycles, /metrics, and everything it must refuse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from service_support import scrape, unique_pair

from nexasync.config import Config, parse_config
from nexasync.health import PATHS, HealthServer, Readiness, readiness
from nexasync.runner import sync_once
from nexasync.sandbox import Sandbox
from nexasync.store.store import StateStore


class Clock:
    """The "now" readiness is judged at; None: the real time."""

    def __init__(self) -> None:
        self.now: datetime | None = None


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _serve(store: StateStore, config: Config, clock: Clock) -> HealthServer:
    return HealthServer("127.0.0.1", 0, lambda: readiness(store, config, clock.now))


@pytest.fixture
def config(sandbox: Sandbox, state_url: str) -> Config:
    data = sandbox.config(state_url, crm_kind="salesforce", name=unique_pair())
    data["pairs"][0]["interval_seconds"] = 60
    data["service"] = {"ready_factor": 2}
    return parse_config(data)


@pytest.fixture
def server(store: StateStore, config: Config, clock: Clock) -> Iterator[HealthServer]:
    with _serve(store, config, clock) as s:
        yield s


def test_paths() -> None:
    assert PATHS == {"health": "/healthz", "ready": "/readyz", "metrics": "/metrics"}


def test_healthz_answers_ok(server: HealthServer) -> None:
    response = httpx.get(server.url + PATHS["health"])
    assert response.status_code == 200
    assert response.text.strip() == "ok"


def test_readyz_follows_the_last_successful_cycle(
    sandbox: Sandbox, store: StateStore, config: Config, server: HealthServer, clock: Clock
) -> None:
    pair = config.pairs[0].name
    url = server.url + PATHS["ready"]
    before = httpx.get(url)
    assert before.status_code == 503
    assert before.headers["content-type"].startswith("application/json")
    assert before.json() == {
        "ready": False,
        "pairs": {
            pair: {"last_success": None, "age_seconds": None, "limit_seconds": 120, "ok": False}
        },
    }

    sandbox.nexadesk.seed(3)
    [outcome] = sync_once(config, store)
    assert outcome.result is not None and outcome.result.ok, outcome.error
    finished = store.last_runs(pair)[0].finished_at
    assert finished is not None

    ready = httpx.get(url)
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    state = body["pairs"][pair]
    assert state["ok"] is True
    assert datetime.fromisoformat(state["last_success"]) == finished
    assert 0 <= state["age_seconds"] <= 120

    # Right at the limit (ready_factor 2 x 60 s) still ready; past it, not.
    clock.now = finished + timedelta(seconds=120)
    assert httpx.get(url).status_code == 200
    clock.now = finished + timedelta(seconds=121)
    stale = httpx.get(url)
    assert stale.status_code == 503
    assert stale.json()["pairs"][pair]["age_seconds"] == 121
    assert stale.json()["pairs"][pair]["ok"] is False


def test_a_failed_pair_makes_the_service_unready(
    sandbox: Sandbox, store: StateStore, state_url: str, clock: Clock
) -> None:
    good, bad = unique_pair(), unique_pair()
    data = {
        "state": {"url": state_url},
        "pairs": [
            sandbox.pair_config(good),
            # A wrong key: NexaDesk refuses every request, so every cycle fails.
            sandbox.pair_config(bad, nexadesk={"api_key": "wrong-key", "max_retries": 0}),
        ],
    }
    config = parse_config(data)
    outcomes = sync_once(config, store)
    assert [o.result is not None for o in outcomes] == [True, False]
    with _serve(store, config, clock) as server:
        response = httpx.get(server.url + PATHS["ready"])
    assert response.status_code == 503
    pairs = response.json()["pairs"]
    assert pairs[good]["ok"] is True
    assert pairs[bad] == {
        "last_success": None, "age_seconds": None, "limit_seconds": 900.0, "ok": False,
    }


def test_a_partial_cycle_counts_and_a_later_failure_does_not_undo_it(
    store: StateStore, config: Config
) -> None:
    pair = config.pairs[0].name
    store.start_run(pair, "partial-run")
    store.finish_run("partial-run", "partial", {})
    store.start_run(pair, "failed-run")
    store.finish_run("failed-run", "failed", {}, error="boom")
    state = readiness(store, config)
    assert state.ready
    assert state.pairs[pair].last_success == store.last_runs(pair)[1].finished_at


def test_a_grace_period_after_the_service_starts(store: StateStore, config: Config) -> None:
    """Given the service's start, a pair with no success is ready for the same limit
    after it, and a success before the start does not shorten that."""
    now = datetime.now(timezone.utc)
    pair = config.pairs[0].name
    assert not readiness(store, config, now).ready
    assert readiness(store, config, now, started=now - timedelta(seconds=120)).ready
    assert not readiness(store, config, now, started=now - timedelta(seconds=121)).ready
    store.start_run(pair, "old")
    store.finish_run("old", "ok", {})
    later = now + timedelta(hours=1)
    assert not readiness(store, config, later).ready
    assert readiness(store, config, later, started=later - timedelta(seconds=5)).ready


def test_readiness_that_cannot_be_judged_is_unready() -> None:
    def broken() -> Readiness:
        raise RuntimeError("database unreachable")

    with HealthServer("127.0.0.1", 0, broken) as server:
        response = httpx.get(server.url + PATHS["ready"])
    assert response.status_code == 503
    assert response.json() == {"ready": False, "pairs": {}, "error": "RuntimeError"}


def test_metrics_in_the_exposition_formats(endpoint: HealthServer) -> None:
    samples = scrape(endpoint.url)  # checks the text format's content type
    assert ("nexasync_api_requests_total", frozenset()) not in samples  # labelled only
    open_metrics = httpx.get(
        endpoint.url + PATHS["metrics"], headers={"Accept": "application/openmetrics-text"}
    )
    assert open_metrics.status_code == 200
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.rstrip().endswith("# EOF")
    assert "nexasync_cycle_duration_seconds" in open_metrics.text


def test_head_answers_without_a_body(endpoint: HealthServer) -> None:
    for path in PATHS.values():
        response = httpx.head(endpoint.url + path)
        assert response.status_code in (200, 503), path
        assert response.content == b"", path


def test_unknown_paths_and_other_methods_are_refused(endpoint: HealthServer) -> None:
    for path in ("/", "/metricsx", "/healthz/extra", "/favicon.ico"):
        assert httpx.get(endpoint.url + path).status_code == 404, path
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        response = httpx.request(method, endpoint.url + PATHS["health"])
        assert response.status_code == 405, method
        assert response.headers["allow"] == "GET, HEAD"


def test_stop_closes_the_port() -> None:
    server = HealthServer("127.0.0.1", 0, lambda: Readiness(True)).start()
    url = server.url + PATHS["health"]
    assert httpx.get(url).status_code == 200
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_a_taken_port_fails_on_construction(endpoint: HealthServer) -> None:
    with pytest.raises(OSError):
        HealthServer("127.0.0.1", endpoint.port, lambda: Readiness(True))
