"""Running the real ``nexasync`` command in a subprocess against sandbox emulators
served from the test process, and checking that no secret ever leaves it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nexasync.sandbox import ND_KEY, Sandbox

#: The sandbox's credentials: throw-away, but secrets to nexasync all the same.
SANDBOX_SECRETS = (ND_KEY, "sandbox-password", "sandbox-token")
#: Salesforce write requests as the emulator counts them.
SF_WRITES = ("collections_create", "collections_update", "collections_delete",
             "collections_upsert", "upsert")  # fmt: skip
ND_WRITES = ("create", "update", "delete")
#: A subprocess that takes longer than this is stuck, not slow.
TIMEOUT = 60


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"nexasync {' '.join(self.args)} -> {self.code}\n{self.out}\n--- stderr\n{self.err}"


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NEXASYNC_CONFIG"}
    env.update(extra)
    return env


def run(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    secrets: Iterable[str] = SANDBOX_SECRETS,
) -> Result:
    """``nexasync ARGS``; fails the test if any of ``secrets`` shows in its output."""
    proc = subprocess.run(
        [sys.executable, "-m", "nexasync", *args],
        cwd=cwd,
        env=cli_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    result = Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)
    assert_secret_free(result.out + result.err, secrets, str(result))
    return result


def assert_secret_free(text: str, secrets: Iterable[str], where: str = "") -> None:
    for secret in secrets:
        assert secret not in text, f"secret {secret!r} leaked in {where or text}"


def sync(config: Path, *extra: str, secrets: Iterable[str] = SANDBOX_SECRETS) -> Result:
    return run("--config", str(config), "sync", "--once", *extra, secrets=secrets)


def write_config(path: Path, state: Path, *pairs: dict[str, Any]) -> Path:
    path.write_text(
        yaml.safe_dump({"state": {"url": f"sqlite:///{state}"}, "pairs": list(pairs)})
    )
    return path


def state_files(state: Path) -> list[Path]:
    """The database and its WAL/journal companions, where recent writes may sit."""
    return sorted(state.parent.glob(state.name + "*"))


def writes(sandbox: Sandbox) -> dict[str, int]:
    nd = {k: n for k, n in sandbox.nexadesk.counts.items() if k in ND_WRITES}
    sf = {k: n for k, n in sandbox.salesforce.counts.items() if k in SF_WRITES}
    return {**{f"nexadesk.{k}": n for k, n in nd.items()}, **{f"sf.{k}": n for k, n in sf.items()}}


def summary_row(out: str, pair: str, direction: str) -> dict[str, int]:
    """The counts printed for one direction of one pair."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"pair {pair} "))
    for line in lines[start + 1 :]:
        if line.startswith("pair "):
            break
        words = line.split()
        if words and words[0] == direction:
            return {words[i]: int(words[i + 1]) for i in range(1, len(words) - 1, 2)}
    raise AssertionError(f"no {direction} row for pair {pair} in:\n{out}")


def add_nd(sandbox: Sandbox, name: str, email: str | None, **fields: Any) -> str:
    lead = sandbox.nexadesk.add_lead(
        visitor_name=name, visitor_email=email, visitor_company="Acme Corp",
        pipeline_stage="new", source="widget", **fields,
    )  # fmt: skip
    return str(lead["id"])


def add_sf(sandbox: Sandbox, first: str, last: str, email: str) -> str:
    return sandbox.salesforce.add_lead(
        FirstName=first, LastName=last, Email=email, Company="TechCorp",
        Status="Open - Not Contacted",
    )  # fmt: skip

