"""Exit 2 on a bad configuration (the key named on stderr, nothing touched), exit 3
when the state store cannot be opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _cli_helpers import run, write_config

from nexasync.sandbox import Sandbox


def _unknown_key(pair: dict[str, Any]) -> None:
    pair["crm"]["extrnal_id_field"] = pair["crm"].pop("external_id_field")


def _bad_delete_policy(pair: dict[str, Any]) -> None:
    pair["deletes"] = {"crm_to_nexadesk": "shred"}


@pytest.mark.parametrize(
    ("breaks", "expected"),
    [
        (_unknown_key, ["pairs[0].crm.extrnal_id_field: unknown key", "external_id_field"]),
        (_bad_delete_policy, ["pairs[0].deletes.crm_to_nexadesk", "'shred'", "mark_lost"]),
    ],
    ids=["unknown key", "bad delete policy"],
)
def test_bad_config_exits_2_names_the_key_and_touches_nothing(
    sandbox: Sandbox, tmp_path: Path, breaks: Any, expected: list[str]
) -> None:
    sandbox.nexadesk.add_lead(visitor_name="Ada Lovelace", visitor_email="ada@acme.example")
    pair = sandbox.pair_config("main")
    breaks(pair)
    state = tmp_path / "state.db"
    config = write_config(tmp_path / "c.yaml", state, pair)

    result = run("--config", str(config), "sync", "--once")
    assert result.code == 2, result
    assert result.out == "", result
    for part in expected:
        assert part in result.err, result
    assert str(config) in result.err
    assert "Traceback" not in result.err
    assert not list(tmp_path.glob("state.db*")), "the state store was created"
    assert sandbox.nexadesk.total == 0, dict(sandbox.nexadesk.counts)
    assert sandbox.salesforce.total == 0, dict(sandbox.salesforce.counts)


def test_a_state_store_that_cannot_be_opened_exits_3(sandbox: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "no-such-dir" / "state.db"
    config = write_config(tmp_path / "c.yaml", state, sandbox.pair_config("main"))
    result = run("--config", str(config), "sync", "--once")
    assert result.code == 3, result
    assert "cannot open the state store" in result.err, result
    assert "Traceback" not in result.err
    assert sandbox.nexadesk.total == 0 and sandbox.salesforce.total == 0
