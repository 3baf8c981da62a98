"""Several pairs in one config: ``--pair``, separate state in one store, and a pair
that cannot run while the others do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _cli_helpers import (
    SANDBOX_SECRETS,
    add_nd,
    add_sf,
    run,
    summary_row,
    sync,
    write_config,
    writes,
)

from nexasync.sandbox import Sandbox

WRONG_PASSWORD = "Wr0ng-Pa55-Qz7x"


@dataclass
class TwoPairs:
    alpha: Sandbox
    beta: Sandbox
    config: Path
    state: Path


@pytest.fixture
def two_pairs(tmp_path: Path) -> Iterator[TwoPairs]:
    """Pairs alpha and beta over two sandboxes, with their state in one store."""
    with Sandbox(tmp_path / "a") as alpha, Sandbox(tmp_path / "b") as beta:
        add_nd(alpha, "Ada Lovelace", "ada@alpha.example")
        add_nd(alpha, "Alan Turing", "alan@alpha.example")
        add_nd(beta, "Barbara Liskov", "barbara@beta.example")
        add_sf(beta, "Bjarne", "Stroustrup", "bjarne@beta.example")
        state = tmp_path / "state.db"
        config = write_config(
            tmp_path / "c.yaml", state, alpha.pair_config("alpha"), beta.pair_config("beta")
        )
        yield TwoPairs(alpha, beta, config, state)


def test_pair_option_runs_only_that_pair(two_pairs: TwoPairs) -> None:
    only_beta = sync(two_pairs.config, "--pair", "beta")
    assert only_beta.code == 0, only_beta
    assert "pair beta " in only_beta.out and "pair alpha" not in only_beta.out, only_beta
    assert summary_row(only_beta.out, "beta", "nexadesk->crm")["created"] == 1
    assert summary_row(only_beta.out, "beta", "crm->nexadesk")["created"] == 1
    assert two_pairs.alpha.nexadesk.total == 0 and two_pairs.alpha.salesforce.total == 0
    assert len(two_pairs.beta.salesforce.leads()) == 2

    both = sync(two_pairs.config)
    assert both.code == 0, both
    assert summary_row(both.out, "alpha", "nexadesk->crm")["created"] == 2
    # beta's state was kept apart from alpha's: nothing new for it.
    beta_part = both.out.split("pair beta ", 1)[1]
    assert "nothing to do" in beta_part, both

    status = run("--config", str(two_pairs.config), "status")
    assert status.code == 0, status
    assert "pair alpha: 2 links (0 waiting for a retry, 0 lost)" in status.out, status
    assert "pair beta: 2 links (0 waiting for a retry, 0 lost)" in status.out, status
    alpha_part, beta_part = status.out.split("pair beta:", 1)
    assert len(re.findall(r"^  run \w+ ok ", alpha_part, re.M)) == 1, status
    assert len(re.findall(r"^  run \w+ ok ", beta_part, re.M)) == 2, status


def test_unknown_pair_is_a_usage_error(two_pairs: TwoPairs) -> None:
    for command in (["sync", "--once"], ["status"]):
        result = run("--config", str(two_pairs.config), *command, "--pair", "gamma")
        assert result.code == 2, result
        assert "Usage:" in result.err, result
        assert "no pair named 'gamma' (have: alpha, beta)" in result.err, result
        assert "Traceback" not in result.err
    for box in (two_pairs.alpha, two_pairs.beta):
        assert box.nexadesk.total == 0 and box.salesforce.total == 0


def test_a_pair_that_cannot_run_exits_3_and_the_others_still_sync(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    add_nd(sandbox, "Ada Lovelace", "ada@acme.example")
    good = sandbox.pair_config("good")
    bad = sandbox.pair_config("bad")
    bad["crm"] = {**bad["crm"], "auth": {**bad["crm"]["auth"], "password": WRONG_PASSWORD}}
    config = write_config(tmp_path / "c.yaml", tmp_path / "state.db", bad, good)

    result = sync(config, secrets=(*SANDBOX_SECRETS, WRONG_PASSWORD))
    assert result.code == 3, result
    assert re.search(r"^pair bad: FAILED: .*INVALID_LOGIN", result.out, re.M), result
    assert summary_row(result.out, "good", "nexadesk->crm")["created"] == 1
    assert [lead["Email"] for lead in sandbox.salesforce.leads()] == ["ada@acme.example"]
    # The failed pair wrote nothing: the one write is the good pair's batch to Salesforce.
    assert sum(writes(sandbox).values()) == 1, writes(sandbox)
