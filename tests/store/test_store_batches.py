"""Batch writes of the state store: order, all-or-nothing and stored forms of the
executemany paths (links, intents, events), on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from nexasync.lead import to_json
from nexasync.logs import register_secrets
from nexasync.store.store import Link, LinkConflict, StateStore, StoreError

UTC = timezone.utc


def link(nexadesk_id: str | None, crm_id: str | None, **base: object) -> Link:
    fields = base or {"visitor_name": f"Lead {nexadesk_id or crm_id}"}
    return Link(None, "p", nexadesk_id, crm_id, dict(fields), dict(fields), None, None, None)


def stored(store: StateStore) -> list[tuple[int, str | None, str | None, str | None]]:
    """(id, nexadesk_id, crm_id, nexadesk_version) of every link of pair p, by id."""
    return [(s.id or 0, s.nexadesk_id, s.crm_id, s.nexadesk_version) for s in store.iter_links("p")]


def raw(store: StateStore, sql: str, **params: object) -> list[tuple]:
    with store._engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def test_a_mixed_batch_returns_ids_in_the_order_given(store: StateStore) -> None:
    old = store.save_links([link(f"n{i}", None) for i in range(600)])
    # Existing links in reverse id order, new ones between them, across chunk bounds.
    batch: list[Link] = []
    for i, prior in enumerate(reversed(old)):
        batch.append(replace(prior, nexadesk_version=f"v{i}"))
        if i % 3 == 0:
            batch.append(link(f"new{i}", f"c{i}"))
    saved = store.save_links(batch)
    assert [s.nexadesk_id for s in saved] == [b.nexadesk_id for b in batch]
    for given, got in zip(batch, saved):
        if given.id is not None:
            assert got.id == given.id
    new_ids = [s.id for s, b in zip(saved, batch) if b.id is None]
    assert len(set(new_ids)) == 200 and not set(new_ids) & {o.id for o in old}
    # Each returned link is the stored one, read back.
    assert all(store.link_by_id(s.id or 0) == s for s in saved)
    assert store.link_count("p") == 800


def test_returned_links_are_what_reading_gives(store: StateStore) -> None:
    base = {"tags": ("vip", "eu"), "pair_of": ("a", "b"), "n": 1.5, "none": None}
    pending = {"crm": {"fields": {"tags": ["x"], "visitor_name": "A"}, "version": "7"}}
    (saved,) = store.save_links([replace(link("n1", "c1", **base), pending=pending)])
    read = store.links_by_nexadesk("p", ["n1"])["n1"]
    assert saved == read
    # Tags in canonical form (a tuple), any other tuple as JSON keeps it (a list).
    assert read.base_crm == {"tags": ("vip", "eu"), "pair_of": ["a", "b"], "n": 1.5, "none": None}
    fields = {"tags": ("x",), "visitor_name": "A"}
    assert read.pending == {"crm": {"fields": fields, "version": "7"}}


def test_json_columns_keep_their_stored_form(store: StateStore) -> None:
    base = {"visitor_name": "Zoë", "tags": ("a", "b"), "amount": 10}
    store.save_links([link("n1", "c1", **base), link("n2", None)])
    rows = raw(
        store,
        "SELECT CAST(base_crm AS TEXT), pending IS NULL FROM links WHERE nexadesk_id = :id",
        id="n1",
    )
    assert rows == [(json.dumps(to_json(base)), True)]  # no pending: SQL NULL, not JSON null
    store.add_intents("p", "crm", "create", [("n1", base)])
    assert raw(store, "SELECT CAST(payload AS TEXT) FROM intents") == [(json.dumps(to_json(base)),)]


def test_updates_stamp_updated_at(store: StateStore) -> None:
    (saved,) = store.save_links([link("n1", "c1")])
    before = datetime.now(UTC)
    store.save_links([replace(saved, crm_version="c2")])
    (stamp,) = raw(store, "SELECT updated_at FROM links")[0]
    if isinstance(stamp, str):  # SQLite keeps naive UTC text
        stamp = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= stamp.astimezone(UTC) <= datetime.now(UTC)


def test_a_conflict_deep_in_a_batch_saves_nothing(store: StateStore) -> None:
    (taken,) = store.save_links([link("n0", "c-taken")])
    others = store.save_links([link(f"u{i}", None) for i in range(3)])
    before = stored(store)
    batch = [replace(o, nexadesk_version="changed") for o in others]
    batch += [link(f"n{i}", f"c{i}") for i in range(1, 300)]
    batch.insert(250, link("n-late", "c-taken"))
    with pytest.raises(LinkConflict) as info:
        store.save_links(batch)
    assert info.value.conflicts == [
        f"pair 'p': crm_id 'c-taken' of a new link is already linked by link {taken.id}"
    ]
    assert stored(store) == before  # neither the updates nor the inserts before it


def test_updates_clashing_with_each_other_save_nothing(store: StateStore) -> None:
    a, b = store.save_links([link("n1", "c1"), link("n2", "c2")])
    with pytest.raises(LinkConflict, match="'c9' is in 2 links"):
        store.save_links([replace(a, crm_id="c9"), link("n3", "c3"), replace(b, crm_id="c9")])
    kept = store.links_by_nexadesk("p", ["n1", "n2", "n3"])
    assert {k: v.crm_id for k, v in kept.items()} == {"n1": "c1", "n2": "c2"}


def test_a_missing_link_id_refuses_the_whole_batch(store: StateStore) -> None:
    a, gone = store.save_links([link("n1", "c1"), link("n2", "c2")])
    store.delete_links([gone.id or 0])
    before = stored(store)
    with pytest.raises(StoreError, match=f"do not exist.*{gone.id}") as info:
        store.save_links([replace(a, nexadesk_version="v2"), link("n3", None), gone])
    assert not isinstance(info.value, LinkConflict)
    assert stored(store) == before


def test_one_link_listed_twice_stores_and_returns_its_last_version(store: StateStore) -> None:
    (a,) = store.save_links([link("n1", "c1")])
    first, last = store.save_links([replace(a, crm_id="c2"), replace(a, crm_id="c3")])
    assert first == last and last.crm_id == "c3"
    assert store.link_by_id(a.id or 0) == last


def test_event_details_and_error_reasons_are_scrubbed(store: StateStore) -> None:
    register_secrets(["s3cret-store-batch-token"])
    store.start_run("p", "r1")
    store.add_events("r1", "p", [("n1", None, "create crm", "sent token s3cret-store-batch-token")])
    store.record_error("p", "crm", "n1", "create", "401 for s3cret-store-batch-token")
    (event,) = store.events_for("n1")
    assert event.detail == "sent token ***" and event.at.tzinfo is not None
    (error,) = store.open_errors("p")
    assert error.reason == "401 for ***"


def test_naive_times_are_refused(store: StateStore) -> None:
    store.save_links([replace(link("n1", "c1"), pending={"crm": {"deleted": True}})])
    with pytest.raises(Exception, match="naive datetime"):
        store.pending_links("p", now=datetime(2024, 1, 1))


def test_concurrent_writers_get_the_ids_of_their_own_rows(store_url: str) -> None:
    # Two processes' stores inserting batches at once into one database: every id
    # handed back names the row that was saved with it.
    stores = [StateStore(store_url), StateStore(store_url)]
    saved: list[list[Link]] = [[], []]

    def write(n: int) -> None:
        for b in range(20):
            batch = [link(f"w{n}-{b}-{i}", None) for i in range(50)]
            saved[n].extend(stores[n].save_links(batch))

    try:
        threads = [threading.Thread(target=write, args=(n,)) for n in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        got = saved[0] + saved[1]
        assert len(got) == 2000 and len({s.id for s in got}) == 2000
        assert all(stores[0].link_by_id(s.id or 0) == s for s in got)
    finally:
        for s in stores:
            s.close()
