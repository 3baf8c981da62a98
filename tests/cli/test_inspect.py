"""``nexasync status`` and ``nexasync explain`` after one sync with a failed record,
and the secrets of that sync: nowhere in its output, its debug log or its state file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _cli_helpers import (
    SANDBOX_SECRETS,
    Result,
    add_nd,
    add_sf,
    assert_secret_free,
    cli_env,
    run,
    state_files,
    write_config,
)

from nexasync.sandbox import Sandbox


@dataclass
class Synced:
    sandbox: Sandbox
    dir: Path
    config: Path
    state: Path
    result: Result
    nd_id: str  # a NexaDesk lead copied to Salesforce
    crm_id: str  # the Salesforce copy of it
    sf_id: str  # a Salesforce lead copied to NexaDesk
    bad_id: str  # a NexaDesk lead Salesforce refuses


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """One sync (debug logging) that the tests below only read about."""
    folder = tmp_path_factory.mktemp("inspect")
    with Sandbox(folder / "sandbox") as sandbox:
        nd_id = add_nd(sandbox, "Ada Lovelace", "ada@acme.example", need_summary="Wants a bot")
        bad_id = add_nd(sandbox, "X Y", "not-an-email@")
        sf_id = add_sf(sandbox, "Grace", "Hopper", "grace@techcorp.example")
        state = folder / "state.db"
        config = write_config(folder / "nexasync.yaml", state, sandbox.pair_config("main"))
        result = run("--log-level", "debug", "--config", str(config), "sync", "--once")
        assert result.code == 1, result
        (crm_id,) = [lead["Id"] for lead in sandbox.salesforce.leads() if lead["Id"] != sf_id]
        yield Synced(sandbox, folder, config, state, result, nd_id, crm_id, sf_id, bad_id)


def test_status_shows_runs_cursors_links_and_open_errors(synced: Synced) -> None:
    # The config comes from $NEXASYNC_CONFIG here.
    result = run("status", env=cli_env(NEXASYNC_CONFIG=str(synced.config)))
    assert result.code == 0, result
    out = result.out
    assert "pair main: 3 links (1 waiting for a retry, 0 lost)" in out, result
    run_id = re.search(r"^pair main \(run (\w+)\)", synced.result.out, re.M)
    assert run_id, synced.result
    assert re.search(rf"^  run {run_id.group(1)} partial\s+started \S+ finished \S+$", out, re.M)
    for side in ("nexadesk", "crm"):
        cursor = re.search(rf"^  cursor {side}: (.*)$", out, re.M)
        assert cursor, result
        assert "watermark" in json.loads(cursor.group(1))
    assert "open record errors: 1" in out
    assert re.search(
        rf"^    crm {synced.bad_id} create: INVALID_EMAIL_ADDRESS.*\(attempts 1, next try \S+\)$",
        out,
        re.M,
    ), result


def test_explain_by_nexadesk_id(synced: Synced) -> None:
    # ./nexasync.yaml is the config when nothing else names one.
    result = run("explain", synced.nd_id, cwd=synced.dir)
    assert result.code == 0, result
    out = result.out
    assert f"pair main: nexadesk {synced.nd_id} <-> crm {synced.crm_id}" in out, result
    base_nd = re.search(r"^  base nexadesk: (.*)$", out, re.M)
    base_crm = re.search(r"^  base crm: +(.*)$", out, re.M)
    assert base_nd and base_crm, result
    for base in (json.loads(base_nd.group(1)), json.loads(base_crm.group(1))):
        assert base["visitor_email"] == "ada@acme.example"
        assert base["need_summary"] == "Wants a bot"
    history = out.split("history (newest first):", 1)[1]
    assert re.search(r"run \w+: create crm — new in nexadesk", history), result


def test_explain_by_crm_id(synced: Synced) -> None:
    result = run("--config", str(synced.config), "explain", synced.sf_id)
    assert result.code == 0, result
    link = re.search(rf"^pair main: nexadesk (\S+) <-> crm {synced.sf_id}$", result.out, re.M)
    assert link, result
    assert synced.sandbox.nexadesk.get(link.group(1)) is not None
    base = re.search(r"^  base crm: +(.*)$", result.out, re.M)
    assert base and json.loads(base.group(1))["visitor_email"] == "grace@techcorp.example"
    assert re.search(r"run \w+: create nexadesk — new in crm", result.out), result


def test_explain_a_failed_record_shows_what_is_pending(synced: Synced) -> None:
    result = run("--config", str(synced.config), "explain", synced.bad_id)
    assert result.code == 0, result
    assert f"nexadesk {synced.bad_id} <-> crm (not created yet)" in result.out, result
    assert "pending (to retry):" in result.out
    assert re.search(r"create crm failed — INVALID_EMAIL_ADDRESS", result.out), result


def test_explain_unknown_id_exits_non_zero(synced: Synced) -> None:
    result = run("--config", str(synced.config), "explain", "00Q000000000000AAA")
    assert result.code != 0, result
    assert "not known" in result.out


def test_no_secret_in_the_debug_log_or_the_state_file(synced: Synced) -> None:
    # run() already checked stdout and stderr for the configured secrets; the session
    # Salesforce issued is a secret too, and the store must hold none of them.
    sessions = tuple(synced.sandbox.salesforce.auth.sessions)
    assert sessions, "the sync logged in to Salesforce"
    assert_secret_free(synced.result.out + synced.result.err, sessions, "sync output")
    files = state_files(synced.state)
    assert files
    for path in files:
        data = path.read_bytes().decode("latin-1")
        assert_secret_free(data, (*SANDBOX_SECRETS, *sessions), str(path))
