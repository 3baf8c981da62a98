"""``nexasync errors list`` and ``nexasync errors retry``: whole cycles of the real
command against the sandbox, with writes the emulators really refuse."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from _cli_helpers import Result, add_nd, add_sf, run, sync, write_config, writes

from nexasync.sandbox import Sandbox
from nexasync.store.store import StateStore

SF_CREATES = ("collections_create", "collections_upsert", "upsert")


def errors(config: Path, *args: str) -> Result:
    return run("--config", str(config), "errors", *args)


def listed(out: str) -> dict[int, list[str]]:
    """``errors list`` output: error id -> its block of lines (the header first)."""
    blocks: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in out.splitlines():
        head = re.match(r"^error (\d+) ", line)
        if head:
            current = blocks.setdefault(int(head.group(1)), [])
        if current is not None:
            current.append(line)
    return blocks


def field(block: list[str], name: str) -> str:
    (line,) = [ln for ln in block if ln.strip().startswith(f"{name}:")]
    return line.split(":", 1)[1].strip()


def absolute(text: str) -> datetime:
    (stamp,) = re.findall(r"\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)", text)
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def sf_creates(sandbox: Sandbox) -> int:
    return sum(sandbox.salesforce.counts[k] for k in SF_CREATES)


def test_a_refused_create_is_listed_waits_its_backoff_and_retries_on_demand(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Salesforce refuses a lead owned by an inactive user: a real, fixable failure.
    user = sandbox.salesforce.add_user("rita@acme.example", "Rita Rep", is_active=False)
    rep = sandbox.nexadesk.add_rep("Rita", "Rep", "rita@acme.example")
    bad = add_nd(sandbox, "Ada Lovelace", "ada@acme.example", assigned_rep_id=rep)
    add_nd(sandbox, "Alan Turing", "alan@acme.example")
    pair = sandbox.pair_config("main", crm={"rep_map": {rep: user}})
    config = write_config(tmp_path / "c.yaml", tmp_path / "state.db", pair)

    first = sync(config)
    assert first.code == 1, first
    assert errors(config, "list", "--pair", "nope").code != 0
    shown = errors(config, "list")
    assert shown.code == 0, shown
    assert shown.out.startswith("1 open record error\n"), shown
    ((error_id, block),) = listed(shown.out).items()
    assert block[0] == f"error {error_id} [pair main] create in salesforce of nexadesk record {bad}"
    assert field(block, "reason").startswith("INACTIVE_OWNER_OR_USER"), shown
    assert re.match(r"1 \(first seen \S+Z, last seen \S+Z\)$", field(block, "attempts")), shown
    next_retry = field(block, "next retry")
    assert next_retry.startswith("in "), shown
    retry_at = absolute(next_retry)
    assert retry_at > datetime.now(timezone.utc).replace(microsecond=0)

    # Within its backoff, a cycle leaves the record alone.
    sandbox.salesforce.reset_counts()
    second = sync(config)
    if datetime.now(timezone.utc) < retry_at:
        assert sf_creates(sandbox) == 0, (second, writes(sandbox))
        assert field(listed(errors(config, "list").out)[error_id], "attempts").startswith("1 ")

    # The cause is fixed; retry makes it due, and the next cycle writes it.
    sandbox.salesforce.set_user_active(user, True)
    retried = errors(config, "retry", str(error_id))
    assert retried.code == 0, retried
    assert f"error {error_id}: due now, the next cycle" in retried.out, retried
    due = errors(config, "list")
    assert field(listed(due.out)[error_id], "next retry").startswith("due now"), due
    third = sync(config)
    assert third.code == 0, third
    ada = [lead for lead in sandbox.salesforce.leads() if lead["Email"] == "ada@acme.example"]
    assert [lead["OwnerId"][:15] for lead in ada] == [user[:15]]

    assert errors(config, "list").out == "no open record errors\n"
    everything = errors(config, "list", "--all")
    assert everything.out.startswith("0 open record errors, 1 resolved\n"), everything
    block = listed(everything.out)[error_id]
    assert block[0].endswith(f"of nexadesk record {bad} (resolved)"), everything
    assert field(block, "resolved").endswith("Z)"), everything
    with StateStore(f"sqlite:///{tmp_path / 'state.db'}") as store:
        (resolved,) = store.list_errors("main", include_resolved=True)
        assert resolved.resolved_at is not None and resolved.id == error_id

    # Retrying what is resolved does nothing, and says so.
    again = errors(config, "retry", str(error_id))
    assert again.code == 1 and "already resolved" in again.out, again


def test_retry_of_an_unknown_id_fails_and_changes_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    user = sandbox.salesforce.add_user("rita@acme.example", "Rita Rep", is_active=False)
    rep = sandbox.nexadesk.add_rep("Rita", "Rep", "rita@acme.example")
    add_nd(sandbox, "Ada Lovelace", "ada@acme.example", assigned_rep_id=rep)
    pair = sandbox.pair_config("main", crm={"rep_map": {rep: user}})
    config = write_config(tmp_path / "c.yaml", tmp_path / "state.db", pair)
    assert sync(config).code == 1
    (error_id,) = listed(errors(config, "list").out)

    missing = errors(config, "retry", str(error_id), "4242")
    assert missing.code == 1, missing
    assert "no record error with id 4242" in missing.err, missing
    assert field(listed(errors(config, "list").out)[error_id], "next retry").startswith("in ")
    assert errors(config, "retry", "--pair", "nope", "--all").code != 0
    assert "name the error IDs" in errors(config, "retry").err
    both = errors(config, "retry", "--all", str(error_id))
    assert both.code == 2 and "not both" in both.err, both

    everything = errors(config, "retry", "--all")
    assert everything.code == 0, everything
    assert f"error {error_id}: due now" in everything.out, everything


def test_an_unreadable_record_is_not_retried_but_explained(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Title holds the amount here; a word in it cannot be read as one.
    sf_id = add_sf(sandbox, "Grace", "Hopper", "grace@techcorp.example")
    sandbox.salesforce.update_lead(sf_id, Title="lots")
    pair = sandbox.pair_config("main", crm={"fields": {"expected_billing_amount": "Title"}})
    config = write_config(tmp_path / "c.yaml", tmp_path / "state.db", pair)
    assert sync(config).code == 1

    ((error_id, block),) = listed(errors(config, "list").out).items()
    assert block[0] == f"error {error_id} [pair main] read of salesforce record {sf_id}"
    assert "could not convert" in field(block, "reason")
    assert field(block, "next retry") == "when the record changes in salesforce (fix it there)"
    told = errors(config, "retry", str(error_id))
    assert told.code == 1, told
    assert "Fix the record in salesforce" in told.out, told
    assert "reads it again when it changes" in told.out, told

    # Fixed at the source, it is read again, synced, and its error is over.
    sandbox.salesforce.update_lead(sf_id, Title="5000")
    assert sync(config).code == 0
    amounts = [
        lead["expected_billing_amount"]
        for lead in sandbox.nexadesk.leads()
        if lead["visitor_email"] == "grace@techcorp.example"
    ]
    assert amounts == [5000]
    assert errors(config, "list").out == "no open record errors\n"
    assert "(resolved)" in errors(config, "list", "--all").out
