"""The Prometheus metrics of real sync cycles against the sandbox, read the way
Prometheus reads them: scraped from ``/metrics`` over HTTP and parsed."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import pytest
from service_support import (
    closed_port,
    delta,
    deltas_by,
    has_series,
    pair_config,
    scrape,
    summary_counts,
    unique_pair,
    value,
)

from nexasync import metrics
from nexasync.health import HealthServer
from nexasync.runner import sync_once
from nexasync.sandbox import Sandbox
from nexasync.store.store import StateStore

CRM_KINDS = ["salesforce", "hubspot"]
SYSTEMS = ["nexadesk", "salesforce", "hubspot"]


def _plant(sandbox: Sandbox, crm_kind: str) -> None:
    """Leads on both sides, one the CRM refuses (a failed write) and one that cannot
    be read (an invalid record)."""
    sandbox.nexadesk.seed(4)
    sandbox.crm(crm_kind).seed(3, seed=7)
    sandbox.nexadesk.add_lead(
        visitor_name="Bad Email", visitor_email="not-an-email@", pipeline_stage="new"
    )
    sandbox.nexadesk.add_lead(
        visitor_name="Bad Stage", visitor_email="stage@example.com", pipeline_stage="bogus"
    )


@pytest.mark.parametrize("crm_kind", CRM_KINDS)
def test_records_and_errors_match_the_cycle_summary(
    sandbox: Sandbox, store: StateStore, state_url: str, endpoint: HealthServer, crm_kind: str
) -> None:
    _plant(sandbox, crm_kind)
    pair = unique_pair()
    config = pair_config(sandbox, state_url, crm_kind, pair)
    before = scrape(endpoint.url)
    [outcome] = sync_once(config, store)
    after = scrape(endpoint.url)

    result = outcome.result
    assert result is not None and result.summary is not None, outcome.error
    assert result.status == "partial"
    expected = summary_counts(result.summary.counts)
    assert expected[("nexadesk->crm", "created")] == 4
    assert expected[("crm->nexadesk", "created")] == 3
    grown = {
        (d, op): n
        for d in ("nexadesk->crm", "crm->nexadesk")
        for op, n in deltas_by(
            before, after, "nexasync_records_total", "operation", pair=pair, direction=d
        ).items()
    }
    assert grown == expected

    errors = "nexasync_record_errors_total"
    assert delta(before, after, errors, pair=pair, side="crm", kind="write") == 1
    assert delta(before, after, errors, pair=pair, side="nexadesk", kind="invalid") == 1
    assert delta(before, after, errors, pair=pair, side="nexadesk", kind="write") == 0
    # Series exist at zero from the first cycle on, so rate() sees the first rise.
    assert has_series(
        after, "nexasync_records_total", pair=pair, direction="crm->nexadesk", operation="deleted"
    )

    cycles = deltas_by(before, after, "nexasync_cycles_total", "status", pair=pair)
    assert cycles == {"partial": 1}
    assert delta(before, after, "nexasync_cycle_duration_seconds_count", pair=pair) == 1
    assert value(after, "nexasync_cycle_duration_seconds_sum", pair=pair) > 0
    # The longest bucket (an hour) and +Inf hold the cycle too.
    assert value(after, "nexasync_cycle_duration_seconds_bucket", pair=pair, le="3600.0") == 1
    assert value(after, "nexasync_cycle_duration_seconds_bucket", pair=pair, le="+Inf") == 1


@pytest.mark.parametrize("crm_kind", CRM_KINDS)
def test_api_requests_match_what_the_emulators_received(
    sandbox: Sandbox, store: StateStore, state_url: str, endpoint: HealthServer, crm_kind: str
) -> None:
    _plant(sandbox, crm_kind)
    config = pair_config(sandbox, state_url, crm_kind, unique_pair())
    crm = sandbox.crm(crm_kind)
    sandbox.nexadesk.reset_counts()
    crm.reset_counts()
    # One refused answer per side, each retried: both attempts are requests sent.
    sandbox.nexadesk.faults.add("500", match="list")
    crm_fault = "500" if crm_kind == "salesforce" else "429"
    crm.faults.add(crm_fault, match="query" if crm_kind == "salesforce" else None, retry_after=0)

    before = scrape(endpoint.url)
    [outcome] = sync_once(config, store)
    after = scrape(endpoint.url)
    assert outcome.result is not None, outcome.error
    assert not sandbox.nexadesk.faults.queue and not crm.faults.queue, "a fault never fired"

    api = "nexasync_api_requests_total"
    nd = deltas_by(before, after, api, "status", system="nexadesk")
    assert sum(nd.values()) == sandbox.nexadesk.total, (nd, dict(sandbox.nexadesk.counts))
    assert nd["500"] == 1
    assert nd["201"] == 3  # one POST per lead created in NexaDesk: the CRM's three
    on_crm = deltas_by(before, after, api, "status", system=crm_kind)
    assert sum(on_crm.values()) == crm.total, (on_crm, dict(crm.counts))
    assert on_crm[crm_fault] == 1
    assert set(on_crm) - {crm_fault} <= {"200", "201", "204", "207"}
    other = ({"salesforce", "hubspot"} - {crm_kind}).pop()
    assert deltas_by(before, after, api, "status", system=other) == {}


@pytest.mark.parametrize("system", SYSTEMS)
def test_requests_without_an_answer_count_as_errors_and_fail_the_cycle(
    sandbox: Sandbox, store: StateStore, state_url: str, endpoint: HealthServer, system: str
) -> None:
    sandbox.nexadesk.seed(2)
    dead = f"http://127.0.0.1:{closed_port()}"
    crm_kind = "hubspot" if system == "hubspot" else "salesforce"
    # One retry: every attempt is a request, answered or not.
    over: dict[str, dict[str, object]] = {
        "nexadesk": {"max_retries": 1},
        "crm": {"max_retries": 1},
    }
    if system == "nexadesk":
        over["nexadesk"]["base_url"] = dead
    elif system == "salesforce":
        over["crm"]["login_url"] = dead.replace("http:", "https:")
    else:
        over["crm"]["base_url"] = dead
    pair = unique_pair()
    config = pair_config(sandbox, state_url, crm_kind, pair, **over)

    before = scrape(endpoint.url)
    [outcome] = sync_once(config, store)
    after = scrape(endpoint.url)

    assert outcome.result is None and outcome.error
    assert delta(before, after, "nexasync_api_requests_total", system=system, status="error") == 2
    assert deltas_by(before, after, "nexasync_cycles_total", "status", pair=pair) == {"failed": 1}
    assert delta(before, after, "nexasync_cycle_duration_seconds_count", pair=pair) == 1
    assert deltas_by(before, after, "nexasync_records_total", "operation", pair=pair) == {}
    runs = store.last_runs(pair)
    assert [r.status for r in runs] == ["failed"]


def test_seconds_since_last_success_reads_the_run_history(
    store: StateStore, endpoint: HealthServer
) -> None:
    """A pair that has not run in this process still shows how stale it is."""
    synced, failing, never = unique_pair(), unique_pair(), unique_pair()
    store.start_run(synced, "r-ok")
    store.finish_run("r-ok", "ok", {})
    store.start_run(synced, "r-failed")
    store.finish_run("r-failed", "failed", {}, error="boom")
    store.start_run(failing, "r-partial")
    store.finish_run("r-partial", "partial", {})
    finished = {r.pair: r.finished_at for r in store.last_runs(limit=10) if r.status != "failed"}
    metrics.watch(store, [synced, failing, never])

    start = time.time()
    samples = scrape(endpoint.url)
    end = time.time()
    for pair in (synced, failing):
        at = finished[pair]
        assert at is not None
        since = value(samples, "nexasync_seconds_since_last_success", pair=pair)
        assert start - at.timestamp() - 1e-3 <= since <= end - at.timestamp() + 1e-3
        stamp = value(samples, "nexasync_last_success_timestamp_seconds", pair=pair)
        assert stamp == pytest.approx(at.timestamp())
    assert math.isinf(value(samples, "nexasync_seconds_since_last_success", pair=never))
    # Watched pairs have their counters from the start, at zero.
    assert has_series(samples, "nexasync_cycles_total", pair=never, status="failed")


def test_a_success_in_this_process_counts_without_a_store(
    sandbox: Sandbox, store: StateStore, state_url: str, endpoint: HealthServer
) -> None:
    sandbox.nexadesk.seed(1)
    pair = unique_pair()
    metrics.watch(None, [pair])
    before = scrape(endpoint.url)
    assert math.isinf(value(before, "nexasync_seconds_since_last_success", pair=pair))
    start = time.time()
    [outcome] = sync_once(pair_config(sandbox, state_url, "salesforce", pair), store)
    after = scrape(endpoint.url)
    end = time.time()
    assert outcome.result is not None and outcome.result.status == "ok", outcome.error
    since = value(after, "nexasync_seconds_since_last_success", pair=pair)
    assert 0 <= since <= end - start


def test_a_store_that_cannot_be_read_leaves_the_scrape_working(
    tmp_path: Path, endpoint: HealthServer
) -> None:
    pair = unique_pair()
    home = tmp_path / "gone"
    home.mkdir()
    store = StateStore(f"sqlite:///{home / 'state.db'}")
    store.start_run(pair, "r1")
    store.finish_run("r1", "ok", {})
    metrics.watch(store, [pair])
    since = "nexasync_seconds_since_last_success"
    assert not math.isinf(value(scrape(endpoint.url), since, pair=pair))
    store.close()
    shutil.rmtree(home)  # the database is gone: every new connection fails
    samples = scrape(endpoint.url)
    assert math.isinf(value(samples, since, pair=pair))
