"""Listing record errors and making them due now (``nexasync errors``), on each backend."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from nexasync.store.store import StateStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def test_list_errors_open_first_then_resolved(store: StateStore) -> None:
    store.record_error("p", "crm", "late", "update", "x", now=T0 + timedelta(hours=1))
    store.record_error("p", "crm", "soon", "update", "x", now=T0)
    store.record_error("p", "crm", "fixed1", "create", "x", now=T0)
    store.record_error("p", "crm", "fixed2", "create", "x", now=T0)
    store.record_error("q", "crm", "other", "update", "x", now=T0)
    store.resolve_errors("p", "crm", ["fixed1"])
    store.resolve_errors("p", "crm", ["fixed2"])

    assert [e.record_id for e in store.list_errors("p")] == ["soon", "late"]
    everything = store.list_errors("p", include_resolved=True)
    assert [e.record_id for e in everything][:2] == ["soon", "late"]
    assert {e.record_id for e in everything[2:]} == {"fixed1", "fixed2"}
    assert all(e.resolved_at is not None for e in everything[2:])
    assert len(store.list_errors()) == 3
    ids = [e.id for e in everything]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    by_id = store.errors_by_id([ids[0], ids[-1], 10**9])
    assert set(by_id) == {ids[0], ids[-1]}
    assert by_id[ids[0]].record_id == "soon"


def test_retry_makes_open_write_errors_due_and_keeps_their_count(store: StateStore) -> None:
    store.record_error("p", "crm", "c1", "update", "x", now=T0)
    store.record_error("p", "crm", "c1", "update", "x", now=T0 + timedelta(minutes=1))
    store.record_error("p", "crm", "r1", "read", "unreadable", now=T0)
    store.record_error("p", "crm", "done", "update", "x", now=T0)
    store.record_error("q", "crm", "c9", "update", "x", now=T0)
    store.resolve_errors("p", "crm", ["done"])
    errors = {e.record_id: e for e in store.list_errors(include_resolved=True)}
    now = T0 + timedelta(minutes=2)

    chosen = [errors[k].id or 0 for k in ("c1", "r1", "done")]
    (retried,) = store.retry_errors(chosen, now=now)
    assert (retried.record_id, retried.next_retry_at, retried.attempts) == ("c1", now, 2)
    after = {e.record_id: e for e in store.list_errors(include_resolved=True)}
    assert after["r1"].next_retry_at == errors["r1"].next_retry_at
    assert after["done"].resolved_at is not None
    assert after["c9"].next_retry_at == errors["c9"].next_retry_at

    # --all of one pair
    assert [e.record_id for e in store.retry_errors(pair="q", now=now)] == ["c9"]
    assert store.retry_errors([], now=now) == []
    with pytest.raises(ValueError, match="timezone"):
        store.retry_errors(now=datetime(2024, 1, 1))


def test_a_retried_error_offers_its_pending_link_again(store: StateStore) -> None:
    from nexasync.store.store import Link

    (held,) = store.save_links(
        [Link(None, "p", "n1", None, {}, {}, None, None, None, pending={"crm": {"deleted": True}})]
    )
    store.record_error("p", "crm", "n1", "create", "refused", now=T0)
    assert store.pending_links("p", now=T0 + timedelta(seconds=1)) == []
    store.retry_errors(now=T0 + timedelta(seconds=1))
    assert store.pending_links("p", now=T0 + timedelta(seconds=2)) == [held]


def test_read_errors_resolve_when_the_record_reads_fine(store: StateStore) -> None:
    store.record_error("p", "crm", "r1", "read", "bad", now=T0)
    store.record_error("p", "crm", "r2", "read", "bad", now=T0)
    store.record_error("p", "crm", "r1", "update", "bad", now=T0)
    store.record_error("p", "nexadesk", "r1", "read", "bad", now=T0)
    assert store.resolve_read_errors("p", "crm", []) == 0
    assert store.resolve_read_errors("p", "crm", iter(["r1", "x"])) == 1
    still = {(e.side, e.record_id, e.op) for e in store.open_errors("p")}
    assert still == {("crm", "r2", "read"), ("crm", "r1", "update"), ("nexadesk", "r1", "read")}
