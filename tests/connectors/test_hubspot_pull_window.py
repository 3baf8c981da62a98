"""The cost of later pulls after a burst of writes (a window bigger than a search
page), and what stays correct while they skip re-reading it: changes the search
index shows late, archives (beside creates that keep the count), merges, the owners
list carried between processes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from _hubspot_env import Sandbox, by_id
from known_ids import Known

from nexasync.connectors.base import Pull

BURST = 250  # more than a search page (200)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.close()


def _burst(sandbox: Sandbox) -> tuple[list[str], Pull, Known]:
    """A burst of contacts created at once, read by a first pull (overlap 300 s)."""
    ids = [sandbox.emulator.add_contact(lastname=f"Burst {i}") for i in range(BURST)]
    sandbox.time.advance(seconds=1)
    first = sandbox.connector(overlap_seconds=300).pull(None, Known())
    assert len(list(first)) == BURST
    return ids, first, Known(ids)


def _pull(sandbox: Sandbox, cursor: object, known: Known) -> tuple[Pull, list, dict]:
    sandbox.time.advance(seconds=5)
    sandbox.emulator.reset_counts()
    pull = sandbox.connector(overlap_seconds=300).pull(cursor, known)  # a new process
    records = list(pull)
    json.dumps(pull.cursor)  # stored as JSON by the engine
    return pull, records, dict(sandbox.emulator.counts)


def test_right_after_a_burst_an_idle_pull_is_two_searches(sandbox: Sandbox) -> None:
    _, first, known = _burst(sandbox)
    idle, records, counts = _pull(sandbox, first.cursor, known)
    # The newest page (live total: none archived) and the window's count: nothing late.
    assert records == [] and counts == {"search": 2}
    again, records, counts = _pull(sandbox, idle.cursor, known)
    assert records == [] and counts == {"search": 2}
    assert len(json.dumps(again.cursor)) < 1000  # the burst's ids are one range


def test_changes_after_a_burst_cost_their_page_and_the_count(sandbox: Sandbox) -> None:
    ids, first, known = _burst(sandbox)
    sandbox.time.advance(seconds=1)
    for id in ids[:3]:
        sandbox.emulator.update_contact(id, phone="+1 555")
    created = sandbox.contact(lastname="New")
    pull, records, counts = _pull(sandbox, first.cursor, known)
    assert sorted(r.id for r in records) == sorted([*ids[:3], created])
    assert counts == {"search": 2}
    _, records, counts = _pull(sandbox, pull.cursor, Known([*ids, created]))
    assert records == [] and counts == {"search": 2}


@pytest.mark.parametrize(
    ("changed", "apart", "per_instant"),
    [(400, 0.01, 1), (430, 0.01, 1), (430, 0.0, 1), (400, 0.001, 15)],
)
def test_more_changes_than_a_page_are_read_without_repeating_the_page(
    sandbox: Sandbox, changed: int, apart: float, per_instant: int
) -> None:
    ids, first, known = _burst(sandbox)
    sandbox.time.advance(seconds=1)
    for n, id in enumerate(ids):  # every contact of the burst, then new ones
        if n % per_instant == 0:  # 15: a fast edit, ties that the page edge cuts into
            sandbox.time.advance(seconds=apart)  # 0: a bulk edit, every change one instant
        sandbox.emulator.update_contact(id, phone=f"+1 555 {n}")
    extra = [sandbox.contact(lastname=f"Extra {n}") for n in range(changed - BURST)]
    pull, records, counts = _pull(sandbox, first.cursor, known)
    assert sorted(r.id for r in records) == sorted([*ids, *extra])
    # The newest page, the older changes after the watermark (only those: the walk
    # stops before the page it would repeat), and the window's count; a walk page all
    # of one instant is also sized by a count (a bulk edit may pass the search cap).
    walk = -(-(changed - 200) // 200)
    assert counts == {"search": 1 + walk + 1 + (1 if apart == 0 else 0)}


def test_a_late_change_inside_a_big_window_is_read_next_pull(sandbox: Sandbox) -> None:
    ids, first, known = _burst(sandbox)
    # Committed before a newer change, searchable only after it was read.
    sandbox.emulator.store.hold_search_index()
    sandbox.time.advance(seconds=1)
    late = sandbox.contact(lastname="Late")
    newer = sandbox.contact(lastname="Newer")
    sandbox.emulator.store.release_search_index([newer])
    second, records, _ = _pull(sandbox, first.cursor, known)
    assert [r.id for r in records] == [newer]

    sandbox.emulator.store.release_search_index()
    known = Known([*ids, newer])
    third, records, counts = _pull(sandbox, second.cursor, known)
    # On the newest page: read, and the window's count agrees.
    assert [r.id for r in records] == [late] and counts == {"search": 2}
    assert third.cursor["watermark"] == second.cursor["watermark"]


def test_a_late_change_behind_a_page_of_newer_ones_is_seen_by_the_count(
    sandbox: Sandbox,
) -> None:
    ids, first, known = _burst(sandbox)
    sandbox.emulator.store.hold_search_index()
    sandbox.time.advance(seconds=1)
    late = sandbox.contact(lastname="Late")
    sandbox.time.advance(seconds=1)
    for id in ids[:200]:  # a page of newer changes hides it from the newest page
        sandbox.emulator.update_contact(id, phone="+1 555")
    sandbox.emulator.store.release_search_index(ids[:200])
    second, records, _ = _pull(sandbox, first.cursor, known)
    assert {r.id for r in records} == set(ids[:200])

    sandbox.emulator.store.release_search_index()
    third, records, counts = _pull(sandbox, second.cursor, known)
    # The window holds one more than remembered: it is read again, and the late
    # create found (the contacts read again are unchanged: the sync writes nothing).
    assert late in {r.id for r in records} and not any(r.deleted for r in records)
    assert counts["search"] > 2
    _, records, counts = _pull(sandbox, third.cursor, Known([*ids, late]))
    assert records == [] and counts == {"search": 2}


def test_a_contact_changed_twice_late_is_read_once_the_window_settles(
    sandbox: Sandbox,
) -> None:
    ids, first, known = _burst(sandbox)
    sandbox.emulator.store.hold_search_index()
    sandbox.time.advance(seconds=1)
    sandbox.emulator.update_contact(ids[0], phone="+1 555")  # no count can see this one
    newer = sandbox.contact(lastname="Newer")
    sandbox.emulator.store.release_search_index([newer])
    second, _, _ = _pull(sandbox, first.cursor, known)
    sandbox.emulator.store.release_search_index()
    known = Known([*ids, newer])
    third, records, counts = _pull(sandbox, second.cursor, known)
    assert records == [] and counts == {"search": 2}

    sandbox.time.advance(minutes=10)  # two overlaps: the window settles
    fourth, records, _ = _pull(sandbox, third.cursor, known)
    assert by_id(records)[ids[0]].fields["visitor_phone"] == "+1 555"
    # Read in full once, the window starts afresh: back to one search.
    _, records, counts = _pull(sandbox, fourth.cursor, known)
    assert records == [] and counts == {"search": 1}


def test_an_archive_beside_a_create_is_a_deletion(sandbox: Sandbox) -> None:
    ids, first, known = _burst(sandbox)
    sandbox.time.advance(seconds=1)
    sandbox.emulator.archive_contact(ids[5])
    created = sandbox.contact(lastname="New")  # the live count is what it was
    pull, records, counts = _pull(sandbox, first.cursor, known)
    assert [(r.id, r.deleted) for r in records] == [(created, False), (ids[5], True)]
    # One more than expected from the create read: the archived contacts are listed,
    # and the known one found is confirmed gone.
    assert counts == {"search": 2, "list_archived": 1, "batch_read": 1}
    _, records, counts = _pull(sandbox, pull.cursor, Known([*ids[:5], *ids[6:], created]))
    assert records == [] and counts == {"search": 2}


def test_an_archive_in_a_small_window_beside_a_late_create(sandbox: Sandbox) -> None:
    a, b = sandbox.contact(lastname="A"), sandbox.contact(lastname="B")
    connector = sandbox.connector(overlap_seconds=300)
    first = connector.pull(None, Known())
    list(first)
    sandbox.emulator.store.hold_search_index()
    sandbox.time.advance(seconds=1)
    late = sandbox.contact(lastname="Late")
    sandbox.emulator.store.release_search_index()
    sandbox.emulator.archive_contact(a)  # the count is unchanged, and so is the window's
    records = list(connector.pull(first.cursor, Known([a, b])))
    assert [(r.id, r.deleted) for r in records] == [(late, False), (a, True)]


def test_a_merge_after_a_burst_relinks_and_is_not_a_deletion(sandbox: Sandbox) -> None:
    ids, first, known = _burst(sandbox)
    sandbox.time.advance(seconds=1)
    sandbox.emulator.merge(ids[1], ids[2])
    pull, records, counts = _pull(sandbox, first.cursor, known)
    assert [(r.id, r.merged_ids, r.deleted) for r in records] == [(ids[1], (ids[2],), False)]
    # One contact fewer, explained by the merge the survivor names: nothing to list.
    assert "list_archived" not in counts
    _, records, _ = _pull(sandbox, pull.cursor, Known([*ids[:2], *ids[3:]]))
    assert records == []


def test_the_owners_list_is_carried_to_the_next_process(sandbox: Sandbox) -> None:
    owner = sandbox.emulator.add_owner("rep@example.com")
    ada = sandbox.contact(lastname="Ada", hubspot_owner_id=owner)
    cursor: object = None
    loads = []
    for _ in range(3):  # three processes, one cycle each
        sandbox.emulator.reset_counts()
        connector = sandbox.connector(rep_by_email=True)
        connector.set_rep_directory({"rep-1": "rep@example.com"})
        pull = connector.pull(cursor, Known())
        assert by_id(pull)[ada].fields["assigned_rep_id"] == "rep-1"
        cursor = pull.cursor
        loads.append(sandbox.emulator.counts.get("owners", 0))
        sandbox.time.advance(minutes=1)
        cursor = json.loads(json.dumps(cursor))
        cursor["watermark"] = None  # read ada again: her owner is resolved each time
    assert loads == [1, 0, 0]

    sandbox.time.advance(minutes=10)  # too old to trust: listed again
    connector = sandbox.connector(rep_by_email=True)
    connector.set_rep_directory({"rep-1": "rep@example.com"})
    sandbox.emulator.reset_counts()
    list(connector.pull(cursor, Known()))
    assert sandbox.emulator.counts.get("owners") == 1
