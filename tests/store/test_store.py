"""The state store, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from nexasync.connectors.base import KnownIds
from nexasync.store._engine import StoreUrlError, parse_url
from nexasync.store.store import Link, LinkConflict, StateStore, StoreError

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def link(
    nexadesk_id: str | None,
    crm_id: str | None,
    *,
    pair: str = "p",
    lost: str | None = None,
    base: dict | None = None,
) -> Link:
    base = base if base is not None else {"visitor_name": f"Lead {nexadesk_id or crm_id}"}
    return Link(
        id=None,
        pair=pair,
        nexadesk_id=nexadesk_id,
        crm_id=crm_id,
        base_nexadesk=dict(base),
        base_crm=dict(base),
        nexadesk_version="v1" if nexadesk_id else None,
        crm_version="c1" if crm_id else None,
        lost=lost,
    )


# links


def test_save_assigns_ids_and_updates_by_id(store: StateStore) -> None:
    saved = store.save_links([link("n1", "c1"), link("n2", None)])
    assert all(s.id is not None for s in saved)
    assert len({s.id for s in saved}) == 2

    first = replace(saved[0], crm_version="c2", base_crm={"visitor_name": "Renamed"})
    second = replace(saved[1], crm_id="c9")
    updated = store.save_links([first, second])
    assert [u.id for u in updated] == [s.id for s in saved]

    by_nd = store.links_by_nexadesk("p", ["n1", "n2", "missing"])
    assert set(by_nd) == {"n1", "n2"}
    assert by_nd["n1"].crm_version == "c2"
    assert by_nd["n1"].base_crm == {"visitor_name": "Renamed"}
    assert store.links_by_crm("p", ["c9"])["c9"].nexadesk_id == "n2"
    assert store.link_count("p") == 2


def test_update_of_a_deleted_link_is_refused(store: StateStore) -> None:
    (saved,) = store.save_links([link("n1", "c1")])
    assert saved.id is not None
    store.delete_links([saved.id])
    assert store.links_by_nexadesk("p", ["n1"]) == {}
    with pytest.raises(StoreError, match="do not exist"):
        store.save_links([replace(saved, crm_version="c2")])
    assert store.link_count("p", include_lost=True) == 0


def test_two_links_claiming_one_crm_id_conflict(store: StateStore) -> None:
    store.save_links([link("n1", "c1")])
    with pytest.raises(LinkConflict) as info:
        store.save_links([link("n3", "c3"), link("n2", "c1")])
    message = str(info.value)
    assert "'c1'" in message and "crm_id" in message and "'p'" in message
    # All or nothing: the valid link of the failed batch was not saved either.
    assert store.links_by_nexadesk("p", ["n3"]) == {}
    assert store.link_count("p") == 1


def test_one_id_twice_in_a_batch_conflicts(store: StateStore) -> None:
    with pytest.raises(LinkConflict, match="'n1' is in 2 links"):
        store.save_links([link("n1", "c1"), link("n1", "c2")])
    assert store.link_count("p") == 0


def test_unique_keys_are_per_pair_and_allow_many_blanks(store: StateStore) -> None:
    store.save_links([link("n1", "c1", pair="a"), link("n1", "c1", pair="b")])
    store.save_links([link("n2", None), link("n3", None), link(None, "c4"), link(None, "c5")])
    assert store.link_count("a") == 1 and store.link_count("b") == 1
    assert store.link_count("p") == 4


def test_a_link_may_hand_its_id_to_another_in_one_batch(store: StateStore) -> None:
    (old,) = store.save_links([link("n1", "c1")])
    store.save_links([replace(old, crm_id=None, lost="replaced"), link("n2", "c1")])
    assert store.links_by_crm("p", ["c1"])["c1"].nexadesk_id == "n2"


def test_json_round_trip(store: StateStore) -> None:
    base = {
        "visitor_name": "Zoë Ünal",
        "tags": ("enterprise", "vip"),
        "expected_billing_amount": 1234.5,
        "assigned_rep_id": None,
        "visitor_phone": "+1 555 0100",
    }
    store.save_links([link("n1", "c1", base={**base, "expected_billing_amount": 5000})])
    store.save_links([link("n2", "c2", base=base)])
    got = store.links_by_nexadesk("p", ["n1", "n2"])
    assert got["n2"].base_nexadesk == base
    assert got["n2"].base_crm["tags"] == ("enterprise", "vip")
    amount = got["n1"].base_crm["expected_billing_amount"]
    assert amount == 5000 and isinstance(amount, int)
    assert "assigned_rep_id" in got["n2"].base_crm  # blank (None) is kept, not dropped


def test_lost_links_are_kept_but_not_counted(store: StateStore) -> None:
    store.save_links([link("n1", "c1"), link("n2", "c2", lost="deleted in salesforce")])
    assert store.link_count("p") == 1
    assert store.link_count("p", include_lost=True) == 2
    assert store.links_by_crm("p", ["c2"])["c2"].lost == "deleted in salesforce"


def test_batched_lookups_and_streaming_cross_chunk_bounds(store: StateStore) -> None:
    n = 1203
    store.save_links([link(f"n{i}", f"c{i}") for i in range(n)])
    found = store.links_by_crm("p", (f"c{i}" for i in range(n)))
    assert len(found) == n and found["c1202"].nexadesk_id == "n1202"
    streamed = list(store.iter_links("p"))
    assert len(streamed) == n
    assert [s.id for s in streamed] == sorted(s.id for s in streamed if s.id is not None)
    assert len(list(store.iter_links("other"))) == 0


def test_links_for_id_finds_either_side_in_any_pair(store: StateStore) -> None:
    store.save_links([link("x", "c1", pair="a"), link("n2", "x", pair="b"), link("n3", "c3")])
    found = store.links_for_id("x")
    assert [(f.pair, f.nexadesk_id, f.crm_id) for f in found] == [
        ("a", "x", "c1"),
        ("b", "n2", "x"),
    ]


def test_known_ids(store: StateStore) -> None:
    store.save_links(
        [
            link("n1", "c1", base={"visitor_email": "a@x.io", "tags": ("t",)}),
            link("n2", None),
            link(None, "c3"),
            link("n4", "c4", lost="deleted in nexadesk"),
            link("n5", "c5", pair="other"),
        ]
    )
    crm: KnownIds = store.known_ids("p", "crm")
    nexadesk: KnownIds = store.known_ids("p", "nexadesk")
    assert crm.count() == 2 and sorted(crm) == ["c1", "c3"]
    assert nexadesk.count() == 2 and sorted(nexadesk) == ["n1", "n2"]
    assert "c1" in crm and "c4" not in crm and "c5" not in crm and "n1" not in crm
    assert 5 not in crm
    assert crm.base("c1") == {"visitor_email": "a@x.io", "tags": ("t",)}
    assert crm.base("c4") is None and crm.base("nope") is None
    # It is a live view: a link saved later shows up without asking again.
    store.save_links([link("n6", "c6")])
    assert "c6" in crm and crm.count() == 3


def test_pending_state_round_trips_and_waits_for_retry(store: StateStore) -> None:
    pending = {
        "nexadesk": {"fields": {"visitor_name": "A", "tags": ("b", "c")}, "version": "v2"},
        "crm": {"deleted": True},
    }
    held, plain, lost = store.save_links(
        [
            replace(link("n1", "c1"), pending=pending),
            link("n2", "c2"),
            replace(link("n3", "c3", lost="deleted in crm"), pending=pending),
        ]
    )
    assert held.id is not None and plain.id is not None
    assert store.link_by_id(held.id) == held
    assert held.pending == pending  # tags come back as a tuple, like the bases
    assert store.link_by_id(plain.id) == plain and plain.pending is None
    assert store.link_by_id(10**9) is None
    assert [p.id for p in store.pending_links("p")] == [held.id]

    # A failed write of c1 waits out its backoff before the link is offered again.
    store.record_error("p", "crm", "c1", "update", "validation", now=T0)
    assert store.pending_links("p", now=T0 + timedelta(seconds=59)) == []
    assert store.pending_links("p", now=T0 + timedelta(seconds=60)) == [held]
    store.record_error("q", "crm", "n1", "create", "other pair", now=T0)
    store.record_error("p", "crm", "n1", "create", "failed", now=T0)
    assert store.pending_links("p", now=T0 + timedelta(seconds=61)) == [held]
    store.resolve_errors("p", "crm", ["c1", "n1"])
    assert store.pending_links("p", now=T0) == [held]

    store.save_links([replace(held, pending=None)])
    assert store.pending_links("p") == []


# cursors and intents


def test_cursor_upsert(store: StateStore) -> None:
    assert store.get_cursor("p", "crm") is None
    store.set_cursor("p", "crm", {"since": "2024-05-01T00:00:00Z", "ids": [1, 2]})
    store.set_cursor("p", "crm", {"since": "2024-05-02T00:00:00Z"})
    store.set_cursor("p", "nexadesk", {"page": None})
    assert store.get_cursor("p", "crm") == {"since": "2024-05-02T00:00:00Z"}
    assert store.get_cursor("p", "nexadesk") == {"page": None}
    assert store.get_cursor("q", "crm") is None


def test_intents_are_idempotent(store: StateStore) -> None:
    store.add_intents("p", "crm", "create", [("n1", {"visitor_email": "a@x.io"})])
    (first,) = store.open_intents("p")
    store.add_intents(
        "p",
        "crm",
        "create",
        [("n1", {"visitor_email": "b@x.io", "tags": ("vip",)}), ("n2", {}), ("n2", {"x": 1})],
    )
    store.add_intents("p", "nexadesk", "create", [("c1", {})])
    store.add_intents("other", "crm", "create", [("n1", {})])
    intents = {(i.target, i.source_id): i for i in store.open_intents("p")}
    assert set(intents) == {("crm", "n1"), ("crm", "n2"), ("nexadesk", "c1")}
    n1 = intents[("crm", "n1")]
    assert n1.payload == {"visitor_email": "b@x.io", "tags": ("vip",)}
    assert n1.created_at == first.created_at
    assert intents[("crm", "n2")].payload == {"x": 1}

    store.clear_intents("p", "crm", "create", ["n1", "n2", "never-added"])
    assert [(i.target, i.source_id) for i in store.open_intents("p")] == [("nexadesk", "c1")]
    assert len(store.open_intents("other")) == 1


# runs


def test_a_new_run_marks_unfinished_runs_of_its_pair_crashed(store: StateStore) -> None:
    store.start_run("p", "r1")
    store.start_run("q", "q1")
    store.start_run("p", "r2")
    runs = {r.id: r for r in store.last_runs()}
    assert runs["r1"].status == "crashed" and runs["r1"].error
    assert runs["r2"].status == "running"
    assert runs["q1"].status == "running"

    store.finish_run("r2", "partial", {"created": 3, "errors": 1}, "1 record failed")
    (r2,) = store.last_runs("p", limit=1)
    assert r2.id == "r2" and r2.status == "partial"
    assert r2.summary == {"created": 3, "errors": 1} and r2.error == "1 record failed"
    assert r2.finished_at is not None and r2.finished_at >= r2.started_at
    assert r2.started_at.tzinfo is not None and r2.started_at.utcoffset() == timedelta(0)

    store.start_run("p", "r3")
    assert store.last_runs("p", limit=10)[1].status == "partial"  # finished runs stay
    assert [r.id for r in store.last_runs("p")] == ["r3", "r2", "r1"]


def test_run_bookkeeping_errors(store: StateStore) -> None:
    store.start_run("p", "r1")
    with pytest.raises(StoreError, match="already recorded"):
        store.start_run("p", "r1")
    with pytest.raises(StoreError, match="no run"):
        store.finish_run("nope", "ok", {})
    with pytest.raises(ValueError, match="status"):
        store.finish_run("r1", "running", {})


# record errors


def test_error_backoff_grows_and_is_capped(store: StateStore) -> None:
    delays = []
    for attempt in range(12):
        now = T0 + timedelta(hours=attempt)
        store.record_error("p", "crm", "c1", "update", f"failure {attempt}", now=now)
        (err,) = store.open_errors("p")
        assert err.attempts == attempt + 1 and err.last_seen == now
        delays.append(err.next_retry_at - now)
    assert delays[:4] == [timedelta(seconds=s) for s in (60, 120, 240, 480)]
    assert delays[-1] == timedelta(hours=6) and max(delays) == timedelta(hours=6)
    (err,) = store.open_errors("p")
    assert err.first_seen == T0 and err.reason == "failure 11"


def test_resolve_errors_and_recurrence(store: StateStore) -> None:
    store.record_error("p", "crm", "c1", "update", "bad", now=T0)
    store.record_error("p", "crm", "c1", "update", "bad", now=T0 + timedelta(minutes=2))
    store.record_error("p", "crm", "c1", "delete", "bad", now=T0)
    store.record_error("p", "crm", "c2", "update", "bad", now=T0)
    store.record_error("q", "crm", "c1", "update", "bad", now=T0)

    store.resolve_errors("p", "crm", ["c1"], op="update")
    still = {(e.pair, e.record_id, e.op) for e in store.open_errors()}
    assert still == {("p", "c1", "delete"), ("p", "c2", "update"), ("q", "c1", "update")}
    store.resolve_errors("p", "crm", ["c1", "c2"])
    assert [(e.pair, e.record_id) for e in store.open_errors()] == [("q", "c1")]

    # A new failure after a fix starts over instead of inheriting the old backoff.
    later = T0 + timedelta(days=3)
    store.record_error("p", "crm", "c1", "update", "bad again", now=later)
    (err,) = store.open_errors("p")
    assert (err.attempts, err.first_seen, err.resolved_at) == (1, later, None)
    assert err.next_retry_at == later + timedelta(seconds=60)


def test_error_times_must_be_aware(store: StateStore) -> None:
    with pytest.raises(ValueError, match="timezone"):
        store.record_error("p", "crm", "c1", "update", "x", now=datetime(2024, 1, 1))


def test_open_errors_are_soonest_retry_first(store: StateStore) -> None:
    store.record_error("p", "crm", "late", "update", "x", now=T0 + timedelta(hours=1))
    store.record_error("p", "crm", "soon", "update", "x", now=T0)
    assert [e.record_id for e in store.open_errors("p")] == ["soon", "late"]


# events


def test_events_for_is_newest_first_and_matches_either_id(store: StateStore) -> None:
    store.start_run("p", "r1")
    store.add_events("r1", "p", [("n1", None, "create", "new in nexadesk"), ("n2", "c2", "x", "")])
    store.add_events("r1", "p", [("n1", "c1", "link", "created in crm"), (None, "c1", "u", "a")])
    store.add_events("r1", "p", [])
    by_nd = store.events_for("n1")
    assert [e.action for e in by_nd] == ["link", "create"]
    assert [e.action for e in store.events_for("c1")] == ["u", "link"]
    assert [e.action for e in store.events_for("c1", limit=1)] == ["u"]
    assert by_nd[0].run_id == "r1" and by_nd[0].detail == "created in crm"
    assert by_nd[0].at.utcoffset() == timedelta(0)
    assert store.events_for("nobody") == []

    assert store.prune_history(datetime.now(UTC) + timedelta(seconds=1))["events"] == 4
    assert store.events_for("n1") == []


def test_prune_history_forgets_only_the_finished_past(store: StateStore) -> None:
    store.save_links([link("n1", "c1")])
    store.set_cursor("p", "crm", {"since": 1})
    store.start_run("p", "old")
    store.finish_run("old", "ok", {})
    store.start_run("q", "live")  # still running: kept whatever its age
    store.record_error("p", "crm", "c1", "update", "refused")
    store.record_error("p", "crm", "c2", "update", "refused")
    store.resolve_errors("p", "crm", ["c2"], "update")
    store.add_events("old", "p", [("n1", "c1", "create crm", "")])

    assert store.prune_history(datetime.now(UTC) - timedelta(days=1)) == {
        "events": 0, "runs": 0, "record_errors": 0,
    }  # fmt: skip
    gone = store.prune_history(datetime.now(UTC) + timedelta(seconds=1))
    assert gone == {"events": 1, "runs": 1, "record_errors": 1}
    assert [r.id for r in store.last_runs()] == ["live"]
    assert [e.record_id for e in store.open_errors("p")] == ["c1"]
    assert store.link_count("p") == 1
    assert store.get_cursor("p", "crm") == {"since": 1}


# backends


def test_state_survives_reopening(store_url: str) -> None:
    with StateStore(store_url) as first:
        first.save_links([link("n1", "c1")])
        first.set_cursor("p", "crm", {"since": 1})
    with StateStore(store_url) as second:
        assert second.link_count("p") == 1
        assert second.get_cursor("p", "crm") == {"since": 1}


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    path = tmp_path / "wal.db"
    with StateStore(f"sqlite:///{path}") as state:
        state.set_cursor("p", "crm", {})
        # WAL lets `status` read while a sync writes; it is a property of the file.
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            raw.execute("BEGIN IMMEDIATE")  # hold the write lock, as a running sync does
            assert state.get_cursor("p", "crm") == {}
            raw.rollback()


def test_in_memory_sqlite_keeps_one_database() -> None:
    with StateStore("sqlite://") as state:
        state.save_links([link("n1", "c1")])
        assert state.link_count("p") == 1


def test_store_urls() -> None:
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg2"
    assert parse_url("postgresql+psycopg2://u@h/db").get_backend_name() == "postgresql"
    with pytest.raises(StoreUrlError) as info:
        parse_url("mysql://user:s3cret@h/db")
    assert "s3cret" not in str(info.value)
    with pytest.raises(StoreUrlError) as info:
        parse_url("not a url s3cret")
    assert "s3cret" not in str(info.value)
