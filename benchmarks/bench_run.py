"""One benchmark scenario chain for one CRM and size: seed the emulators, run
``nexasync sync --once`` as a child process, and measure it.

The child's CPU time and peak RSS come from ``os.wait4``: they are the sync's alone
(the emulators run in their own process). Request counts come from the emulators'
counters; the cycle's writes from the run summary the sync stores.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from bench_bounds import Work, lower_bound, ratio
from bench_emulators import Emulators

from nexasync.store.store import StateStore

#: Chains of scenarios that share seeded data, in the order they run.
CHAINS: dict[str, tuple[str, ...]] = {
    "initial_nd": ("initial_nd", "echo", "idle", "incremental"),
    "initial_crm": ("initial_crm",),
    "initial_both": ("initial_both",),
}
SCENARIOS = ("initial_nd", "initial_crm", "initial_both", "echo", "idle", "incremental")
#: Request kinds that are authentication (once per process), not data.
AUTH_KINDS = frozenset({"login", "token", "token_info"})
IMPORTS = (
    "import nexasync.cli, nexasync.runner, nexasync.connectors.salesforce, "
    "nexasync.connectors.hubspot, nexasync.connectors.nexadesk"
)


@dataclass
class Options:
    latency: float
    concurrency: int
    workdir: Path
    search_rate: float = 4.0
    nd_pace: float | None = None
    nd_rate_limit: float | None = None
    #: A command each cycle runs under (a profiler); ``{out}`` is the cycle's log path
    #: without its suffix.
    wrap: str | None = None


def measure_child(argv: list[str], log: Path) -> dict[str, Any]:
    """Run a process; its exit code, wall time, CPU seconds and peak RSS (MB)."""
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    return {
        "exit": proc.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,  # Linux reports kilobytes
    }


def startup_baseline(workdir: Path) -> dict[str, Any]:
    """What starting Python and importing nexasync costs, for the per-lead CPU figure."""
    return measure_child([sys.executable, "-c", IMPORTS], workdir / "startup.log")


class Chain:
    """The scenarios of one CRM at one size."""

    def __init__(self, emulators: Emulators, crm: str, leads: int, opts: Options) -> None:
        self.emu, self.crm, self.n, self.opts = emulators, crm, leads, opts
        self.dir = opts.workdir / f"{crm}-{leads}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.baseline_cpu = 0.0
        self._runs = 0

    def run(self, wanted: set[str]) -> Iterator[dict[str, Any]]:
        """The results of the ``wanted`` scenarios, each as soon as it is measured."""
        for head, chain in CHAINS.items():
            if wanted.isdisjoint(chain):
                continue
            yield from (r for r in self._chain(head, chain) if r["scenario"] in wanted)

    def _chain(self, head: str, chain: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        n = self.n
        self.emu.call("reset")
        seed = {
            "initial_nd": {"nexadesk": n, "crm_leads": 0, "overlap": 0},
            "initial_crm": {"nexadesk": 0, "crm_leads": n, "overlap": 0},
            "initial_both": {"nexadesk": n, "crm_leads": n, "overlap": n // 2},
        }[head]
        self.emu.call("seed", crm=self.crm, **seed)
        state = self.dir / f"{head}.db"
        for path in self.dir.glob(f"{head}.db*"):
            path.unlink()
        config = self._config(state)
        before = self.emu.call("sizes", crm=self.crm)
        previous: dict[str, dict[str, int]] = {}
        for scenario in chain:
            reads = (seed["nexadesk"], seed["crm_leads"])  # a first sync reads everything
            edits = None
            if scenario == "echo":  # the records the last cycle wrote come back as changes
                reads = (_written(previous, "nexadesk"), _written(previous, "crm"))
            elif scenario == "idle":
                reads = (0, 0)
            elif scenario == "incremental":
                edits = self.emu.call("edit", crm=self.crm, count=max(1, n // 100))
                reads = (edits["nexadesk"], edits["crm"])
            result = self._cycle(scenario, config, state, reads)
            result["seeded"] = {"nexadesk": before[0], "crm": before[1]}
            if edits is not None:
                result["edited"] = edits
            previous = result["writes"]
            yield result

    def _config(self, state: Path) -> Path:
        data = dict(self.emu.configs[self.crm])
        data["state"] = {"url": f"sqlite:///{state}"}
        pair = dict(data["pairs"][0])
        pair["nexadesk"] = {**pair["nexadesk"], "concurrency": self.opts.concurrency}
        if self.opts.nd_pace:
            pair["nexadesk"]["max_requests_per_second"] = self.opts.nd_pace
        if self.crm == "hubspot":
            pair["crm"] = {**pair["crm"], "search_rate": self.opts.search_rate}
        data["pairs"] = [pair]
        path = state.with_suffix(".yaml")
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def _cycle(
        self, scenario: str, config: Path, state: Path, reads: tuple[int, int]
    ) -> dict[str, Any]:
        self.emu.call("reset_counts")
        self._runs += 1
        argv = [sys.executable, "-m", "nexasync", "--config", str(config), "--log-level",
                "warning", "sync", "--once"]  # fmt: skip
        log = self.dir / f"{self._runs:02d}-{scenario}.log"
        if self.opts.wrap:
            argv = shlex.split(self.opts.wrap.replace("{out}", str(log.with_suffix("")))) + argv
        child = measure_child(argv, log)
        counts = self.emu.call("counts")
        writes = _summary_writes(state)
        work = Work(reads[0], reads[1], writes["nexadesk"], writes["crm"])
        bound = lower_bound(
            self.crm, work, latency=self.opts.latency, concurrency=self.opts.concurrency,
            search_rate=self.opts.search_rate, nd_rate_limit=self.opts.nd_rate_limit,
        )  # fmt: skip
        nd_data = _data(counts["nexadesk"])
        crm_data = _data(counts[self.crm])
        leads = self.n * 3 // 2 if scenario == "initial_both" else self.n
        cpu = child["cpu_s"] - self.baseline_cpu
        return {
            "crm": self.crm,
            "leads": self.n,
            "scenario": scenario,
            **child,
            "cpu_us_per_lead": cpu / leads * 1e6,
            "requests": {
                "nexadesk": nd_data,
                "crm": crm_data,
                "nexadesk_kinds": counts["nexadesk"],
                "crm_kinds": counts[self.crm],
                "nexadesk_429": counts["nexadesk_429"],
            },
            "reads": {"nexadesk": reads[0], "crm": reads[1]},
            "writes": writes,
            "bound": bound.as_dict(),
            "ratio": {
                "nexadesk": ratio(nd_data, bound.nexadesk),
                "crm": ratio(crm_data, bound.crm),
                "wall": ratio(child["wall_s"], bound.wall_seconds),
            },
        }


def _data(kinds: dict[str, int]) -> int:
    return sum(n for kind, n in kinds.items() if kind not in AUTH_KINDS)


def _written(writes: dict[str, dict[str, int]], side: str) -> int:
    return sum(writes.get(side, {}).get(op, 0) for op in ("created", "updated"))


def _summary_writes(state: Path) -> dict[str, dict[str, int]]:
    """Records the cycle wrote to each side, from the run it stored."""
    store = StateStore(f"sqlite:///{state}")
    try:
        runs = store.last_runs(limit=1)
    finally:
        store.close()
    directions = runs[0].summary.get("directions", {}) if runs else {}
    return {
        "crm": dict(directions.get("nexadesk->crm", {})),
        "nexadesk": dict(directions.get("crm->nexadesk", {})),
    }
