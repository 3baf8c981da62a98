"""``nexasync sync --once``: exit codes, the per-pair summary, ``--dry-run``."""

from __future__ import annotations

import re
from pathlib import Path

from _cli_helpers import (
    add_nd,
    add_sf,
    state_files,
    summary_row,
    sync,
    write_config,
    writes,
)

from nexasync.sandbox import Sandbox
from nexasync.store.store import StateStore


def test_sync_once_exits_0_then_has_nothing_to_do(sandbox: Sandbox, tmp_path: Path) -> None:
    nd_ids = [add_nd(sandbox, "Ada Lovelace", "ada@acme.example"),
              add_nd(sandbox, "Alan Turing", "alan@acme.example")]  # fmt: skip
    sf_id = add_sf(sandbox, "Grace", "Hopper", "grace@techcorp.example")
    config = write_config(tmp_path / "c.yaml", tmp_path / "state.db", sandbox.pair_config("main"))

    first = sync(config)
    assert first.code == 0, first
    assert re.search(r"^pair main \(run \w+\): ok$", first.out, re.M), first
    assert summary_row(first.out, "main", "nexadesk->crm") == {
        "created": 2, "updated": 0, "deleted": 0, "skipped": 0, "failed": 0,
    }  # fmt: skip
    assert summary_row(first.out, "main", "crm->nexadesk") == {
        "created": 1, "updated": 0, "deleted": 0, "skipped": 0, "failed": 0,
    }  # fmt: skip
    assert {lead["Email"] for lead in sandbox.salesforce.leads()} == {
        "ada@acme.example", "alan@acme.example", "grace@techcorp.example",
    }  # fmt: skip
    assert "grace@techcorp.example" in {
        lead["visitor_email"] for lead in sandbox.nexadesk.leads()
    }
    with StateStore(f"sqlite:///{tmp_path / 'state.db'}") as store:
        linked = {(link.nexadesk_id, link.crm_id) for link in store.iter_links("main")}
    assert {nd for nd, _ in linked} >= set(nd_ids)
    assert sf_id in {crm for _, crm in linked}

    sandbox.nexadesk.reset_counts()
    sandbox.salesforce.reset_counts()
    second = sync(config)
    assert second.code == 0, second
    assert "nothing to do" in second.out, second
    for direction in ("nexadesk->crm", "crm->nexadesk"):
        assert set(summary_row(second.out, "main", direction).values()) == {0}
    assert writes(sandbox) == {}


def test_a_failed_record_exits_1_and_the_rest_sync(sandbox: Sandbox, tmp_path: Path) -> None:
    good = add_nd(sandbox, "Ada Lovelace", "ada@acme.example")
    bad = add_nd(sandbox, "X Y", "not-an-email@")
    add_sf(sandbox, "Grace", "Hopper", "grace@techcorp.example")
    config = write_config(tmp_path / "c.yaml", tmp_path / "state.db", sandbox.pair_config("main"))

    result = sync(config)
    assert result.code == 1, result
    assert re.search(r"^pair main \(run \w+\): partial$", result.out, re.M), result
    to_crm = summary_row(result.out, "main", "nexadesk->crm")
    assert (to_crm["created"], to_crm["failed"]) == (1, 1), result
    assert summary_row(result.out, "main", "crm->nexadesk")["created"] == 1
    # The bad record is named with its reason; the good ones are on both sides.
    assert bad in result.err and "INVALID_EMAIL_ADDRESS" in result.err, result
    assert {lead["Email"] for lead in sandbox.salesforce.leads()} == {
        "ada@acme.example", "grace@techcorp.example",
    }  # fmt: skip
    assert len(sandbox.nexadesk.leads()) == 3
    with StateStore(f"sqlite:///{tmp_path / 'state.db'}") as store:
        assert store.links_by_nexadesk("main", [good])[good].crm_id
        assert [e.record_id for e in store.open_errors("main")] == [bad]


def test_dry_run_prints_the_plan_and_writes_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    nd_id = add_nd(sandbox, "Ada Lovelace", "ada@acme.example")
    sf_id = add_sf(sandbox, "Grace", "Hopper", "grace@techcorp.example")
    state = tmp_path / "state.db"
    config = write_config(tmp_path / "c.yaml", state, sandbox.pair_config("main"))
    nd_before, sf_before = sandbox.nexadesk.leads(), sandbox.salesforce.leads()

    result = sync(config, "--dry-run")
    assert result.code == 0, result
    assert "plan for pair main:" in result.out
    who = r"Ada Lovelace <ada@acme\.example>"
    assert re.search(rf"^  create crm +\(copy of {nd_id}\) {who}$", result.out, re.M), result
    who = r"Grace Hopper <grace@techcorp\.example>"
    assert re.search(rf"^  create nexadesk +\(copy of {sf_id}\) {who}$", result.out, re.M), result
    assert "why: new in nexadesk" in result.out and "why: new in crm" in result.out
    assert re.search(r"nexadesk->crm +would create 1 +update 0 +delete 0", result.out), result
    assert re.search(r"crm->nexadesk +would create 1 +update 0 +delete 0", result.out), result
    assert "created" not in result.out  # no summary of writes made: none were

    # It read both sides, and wrote to neither, nor to the store.
    assert sandbox.nexadesk.counts["list"] >= 1
    assert sandbox.salesforce.counts["query"] + sandbox.salesforce.counts["queryAll"] >= 1
    assert writes(sandbox) == {}
    assert sandbox.nexadesk.leads() == nd_before
    assert sandbox.salesforce.leads() == sf_before
    with StateStore(f"sqlite:///{state}") as store:
        assert store.link_count("main", include_lost=True) == 0
        for side in ("nexadesk", "crm", "reps"):
            assert store.get_cursor("main", side) is None
        assert store.last_runs("main") == []
        assert store.open_errors("main") == []
        assert store.open_intents("main") == []
    assert state_files(state)  # opened (so the plan could read links), but left empty
