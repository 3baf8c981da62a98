"""The benchmark machinery at a tiny size, and the request counts it measures pinned:
they are deterministic, so a change that costs requests fails here. Times are the
benchmark's business, never asserted.

Each cycle is a fresh ``nexasync sync --once`` process, as the benchmark runs it, so
per-process requests (a Salesforce login, the owner lookups) are in every count.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

from bench_emulators import Emulators  # noqa: E402
from bench_run import SCENARIOS, Chain, Options  # noqa: E402

#: Crosses page and batch boundaries on every system: 3 NexaDesk pages, 2 HubSpot
#: search pages, 2 Salesforce and 3 HubSpot write batches.
LEADS = 250

#: Data requests above the lower bound, per (crm, scenario) and system. Each one is
#: a known cost, pinned so it cannot grow unnoticed (the issue's targets want 0 extra,
#: idle: 1 per side, HubSpot at most 2):
#: - Salesforce: the User query that resolves owners by email, on a first sync that
#:   writes owners (initial_nd, initial_both); later cycles take the users from the
#:   cursor. Idle and incremental cycles at 250 leads read the overlap window in the one
#:   page the bound allows; a window of more than a page is checked by one aggregate
#:   query instead (one request idle, +1 on a cycle with changes: not at this size).
#: - HubSpot: on the idle and incremental cycles a one-row search for the count of the
#:   recent window (the 250 contacts the first sync created, more than the page of
#:   newest changes shows), which stands for re-reading it; and the owners listing
#:   before the first syncs' CRM writes (later processes take it from the cursor).
EXTRA: dict[tuple[str, str], dict[str, int]] = {
    ("salesforce", "initial_nd"): {"crm": 1},
    ("salesforce", "initial_both"): {"crm": 1},
    ("hubspot", "initial_nd"): {"crm": 1},
    ("hubspot", "idle"): {"crm": 1},
    ("hubspot", "incremental"): {"crm": 1},
    ("hubspot", "initial_both"): {"crm": 1},
}


def _chain(crm: str, workdir: Path) -> list[dict[str, Any]]:
    with Emulators(workdir / "sandbox", 0.0, None) as emulators:
        opts = Options(latency=0.0, concurrency=4, workdir=workdir)
        return list(Chain(emulators, crm, LEADS, opts).run(set(SCENARIOS)))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], Any]]:
    # Both CRMs at once, each with its own emulator process: the cycles are child
    # processes, so this halves the test's time.
    with ThreadPoolExecutor(2) as pool:
        runs = {
            crm: pool.submit(_chain, crm, tmp_path_factory.mktemp(crm))
            for crm in ("salesforce", "hubspot")
        }
        yield {(r["crm"], r["scenario"]): r for f in runs.values() for r in f.result()}


CASES = [(crm, s) for crm in ("salesforce", "hubspot") for s in SCENARIOS]


@pytest.mark.parametrize(("crm", "scenario"), CASES)
def test_cycle_succeeds_with_pinned_requests(
    results: dict[tuple[str, str], Any], crm: str, scenario: str
) -> None:
    r = results[(crm, scenario)]
    assert r["exit"] == 0, r
    assert r["requests"]["nexadesk_429"] == 0
    extra = EXTRA.get((crm, scenario), {})
    measured = {"nexadesk": r["requests"]["nexadesk"], "crm": r["requests"]["crm"]}
    expected = {side: r["bound"][side] + extra.get(side, 0) for side in measured}
    assert measured == expected, (r["requests"], r["bound"])


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_idle_cycle_requests(results: dict[tuple[str, str], Any], crm: str) -> None:
    r = results[(crm, "idle")]
    assert r["writes"] == {"crm": {}, "nexadesk": {}}
    assert r["requests"]["nexadesk_kinds"] == {"list": 1}
    kinds = {k: n for k, n in r["requests"]["crm_kinds"].items() if k not in ("login", "token")}
    if crm == "salesforce":
        # Target: 1. The users that map owners come from the cursor, not a User query.
        assert kinds == {"queryAll": 1}
    else:
        # Target: at most 2, deletions included: the newest page (whose total, the
        # live contacts, has not dropped: no archived listing) and the count of the
        # recent window, bigger than that page (nothing showed up late: no re-read).
        assert kinds == {"search": 2}


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_initial_syncs_do_the_expected_work(results: dict[tuple[str, str], Any], crm: str) -> None:
    """The bounds are computed from the writes the sync reports: they must be the
    scenario's writes, or a bound could shrink along with the work."""
    assert results[(crm, "initial_nd")]["writes"]["crm"] == {"created": LEADS}
    assert results[(crm, "initial_crm")]["writes"]["nexadesk"] == {"created": LEADS}
    both = results[(crm, "initial_both")]["writes"]
    assert both["crm"]["created"] == both["nexadesk"]["created"] == LEADS // 2
    edits = results[(crm, "incremental")]
    assert edits["edited"] == {"nexadesk": LEADS // 100, "crm": LEADS // 100}
    assert edits["writes"] == {
        "crm": {"updated": LEADS // 100},
        "nexadesk": {"updated": LEADS // 100},
    }


def test_the_client_floor_measures_every_call_kind(capsys: pytest.CaptureFixture[str]) -> None:
    from bench_floor import main

    assert main(["--leads", "400"]) == 0
    lines = capsys.readouterr().out.splitlines()
    measured = {line[:58].strip(): float(line[58:]) for line in lines[1:6]}
    assert set(measured) == {
        "NexaDesk list pages (GET, 100 a page, JSON)",
        "NexaDesk create (POST, one a lead)",
        "Salesforce sObject Collections upsert (200 a request)",
        "HubSpot batch create (100 a request)",
        "sqlite3 executemany: a link row with two JSON snapshots",
    }
    assert all(us > 0 for us in measured.values())
