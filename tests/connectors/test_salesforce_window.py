"""The overlap window after a burst: a window larger than a page is checked with one
aggregate query, changes cost the pages they fill, and what the count shows missing
(a late commit, a purge) makes the window be read again."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from _salesforce_env import Sandbox, by_id
from known_ids import Known

from nexasync.connectors._sf_window import MAX_IDS, Window
from nexasync.connectors.base import Pull, Record
from nexasync.connectors.salesforce import SalesforceConnector

BURST = 450  # three pages of 200


def _connector(sandbox: Sandbox) -> SalesforceConnector:
    return sandbox.connector(query_batch_size=200, overlap_seconds=300)


def _cost(sandbox: Sandbox, connector: SalesforceConnector, pull: Pull) -> tuple[
        dict[str, Record], Counter[str]]:
    """The pull's records and the data requests it made."""
    before = Counter(connector.stats)
    records = by_id(pull)
    spent = Counter(connector.stats)
    spent.subtract(before)
    return records, Counter({k: n for k, n in spent.items() if n and k != "login"})


def _after_burst(sandbox: Sandbox) -> tuple[SalesforceConnector, list[str], Pull]:
    ids = sandbox.emulator.seed(BURST)
    connector = _connector(sandbox)
    first = connector.pull(None, Known(ids))
    list(first)
    return connector, ids, first


def _commit_late(sandbox: Sandbox, read: Pull, behind: timedelta) -> str:
    """A lead stamped ``behind`` the watermark of ``read``, committed after that read;
    the clock then goes on 30 seconds past where it was."""
    watermark = datetime.fromisoformat(read.cursor["watermark"])  # type: ignore[index]
    now = sandbox.clock.now
    sandbox.clock.now = watermark - behind
    late = sandbox.emulator.add_lead(LastName="Late", Company="Slow Tx")
    sandbox.clock.now = now + timedelta(seconds=30)
    return late


def test_a_burst_larger_than_a_page_is_remembered_and_an_idle_cycle_costs_one_request(
    sandbox: Sandbox,
) -> None:
    connector, ids, first = _after_burst(sandbox)
    window = Window.load(first.cursor["window"])  # type: ignore[index]
    assert window is not None and window.count == BURST and window.ids == set(ids)

    for _ in range(2):  # the window stays: every later idle cycle is one request too
        sandbox.clock.advance(seconds=30)
        pull = connector.pull(first.cursor, Known(ids))
        records, spent = _cost(sandbox, connector, pull)
        assert records == {} and spent == Counter({"queryAll": 1})
        assert pull.cursor == first.cursor


def test_changes_after_a_burst_cost_the_probe_and_their_own_page(sandbox: Sandbox) -> None:
    connector, ids, first = _after_burst(sandbox)
    sandbox.clock.advance(seconds=30)
    for lead in ids[:5]:
        sandbox.emulator.update_lead(lead, Phone="+1 555 0100")
    new = sandbox.lead(LastName="New")

    pull = connector.pull(first.cursor, Known(ids))
    records, spent = _cost(sandbox, connector, pull)

    assert set(records) == {*ids[:5], new}
    assert spent == Counter({"queryAll": 2})  # the probe, then one page of changes
    window = Window.load(pull.cursor["window"])  # type: ignore[index]
    assert window is not None and window.count == BURST + 1 and new in (window.ids or ())

    # And the cycle after is idle again.
    _, spent = _cost(sandbox, connector, connector.pull(pull.cursor, Known([*ids, new])))
    assert spent == Counter({"queryAll": 1})


def test_a_change_after_a_burst_within_one_second_costs_one_page(sandbox: Sandbox) -> None:
    # SOQL compares stamps to the second: the watermark's second, three pages here,
    # matches the read of what changed after it. Read newest first, it is never paged.
    sandbox.clock.advance(seconds=0.5)
    ids = [sandbox.lead(LastName=f"Same Second {i}") for i in range(BURST)]
    connector = _connector(sandbox)
    first = connector.pull(None, Known(ids))
    list(first)
    sandbox.clock.advance(seconds=30)
    sandbox.emulator.update_lead(ids[7], Phone="+1 555 0107")
    new = sandbox.lead(LastName="New")

    pull = connector.pull(first.cursor, Known(ids))
    records, spent = _cost(sandbox, connector, pull)

    assert set(records) == {ids[7], new}
    assert spent == Counter({"queryAll": 2})  # the probe, then one page of changes
    _, spent = _cost(sandbox, connector, connector.pull(pull.cursor, Known([*ids, new])))
    assert spent == Counter({"queryAll": 1})


def test_a_late_commit_inside_the_window_is_read_by_the_next_cycle(sandbox: Sandbox) -> None:
    connector, ids, first = _after_burst(sandbox)
    # A transaction stamped two minutes before our newest row commits after our read.
    late = _commit_late(sandbox, first, timedelta(minutes=2))

    pull = connector.pull(first.cursor, Known(ids))
    records, spent = _cost(sandbox, connector, pull)

    # The window is read again: its rows come back (the engine drops them as echoes).
    assert set(records) == {*ids, late}
    assert records[late].fields["visitor_name"] == "Late"
    assert spent == Counter({"queryAll": 2, "query_more": 2})  # the probe, the window
    window = Window.load(pull.cursor["window"])  # type: ignore[index]
    assert window is not None and window.count == BURST + 1
    _, spent = _cost(sandbox, connector, connector.pull(pull.cursor, Known([*ids, late])))
    assert spent == Counter({"queryAll": 1})


def test_a_late_commit_beside_a_normal_change_is_read_too(sandbox: Sandbox) -> None:
    connector, ids, first = _after_burst(sandbox)
    late = _commit_late(sandbox, first, timedelta(seconds=90))
    sandbox.emulator.update_lead(ids[0], Phone="+1 555 0199")

    records, _ = _cost(sandbox, connector, connector.pull(first.cursor, Known(ids)))

    assert {ids[0], late} <= set(records)
    assert records[ids[0]].fields["visitor_phone"] == "+1 555 0199"


def test_a_soft_delete_inside_the_window_is_seen(sandbox: Sandbox) -> None:
    connector, ids, first = _after_burst(sandbox)
    sandbox.clock.advance(seconds=30)
    sandbox.emulator.delete_lead(ids[7])

    pull = connector.pull(first.cursor, Known(ids))
    records, spent = _cost(sandbox, connector, pull)

    assert records == {ids[7]: Record(ids[7], deleted=True)}
    # queryAll counts the deleted row still: no re-read of the window.
    assert spent == Counter({"queryAll": 2})


def test_a_purge_inside_the_window_makes_it_be_read_again_once(sandbox: Sandbox) -> None:
    connector, ids, first = _after_burst(sandbox)
    sandbox.emulator.delete_lead(ids[3])
    sandbox.emulator.purge(ids[3])
    sandbox.clock.advance(seconds=30)

    pull = connector.pull(first.cursor, Known(ids))
    _, spent = _cost(sandbox, connector, pull)
    assert spent == Counter({"queryAll": 2, "query_more": 2})
    window = Window.load(pull.cursor["window"])  # type: ignore[index]
    assert window is not None and window.count == BURST - 1

    _, spent = _cost(sandbox, connector, connector.pull(pull.cursor, Known(ids)))
    assert spent == Counter({"queryAll": 1})


def test_when_the_newest_row_is_purged_the_watermark_steps_back_and_idle_is_one_again(
    sandbox: Sandbox,
) -> None:
    ids = sandbox.emulator.seed(BURST)
    newest = sandbox.lead(LastName="Newest")
    connector = _connector(sandbox)
    first = connector.pull(None, Known([*ids, newest]))
    list(first)
    sandbox.clock.advance(seconds=30)
    sandbox.emulator.delete_lead(newest)
    sandbox.emulator.purge(newest)

    pull = connector.pull(first.cursor, Known([*ids, newest]))
    list(pull)
    assert pull.cursor is not None and pull.cursor["watermark"] < first.cursor["watermark"]  # type: ignore[index]
    _, spent = _cost(sandbox, connector, connector.pull(pull.cursor, Known(ids)))
    assert spent == Counter({"queryAll": 1})


def test_a_window_too_large_to_remember_is_counted_and_read_again_on_change(
    sandbox: Sandbox,
) -> None:
    connector, ids, first = _after_burst(sandbox)
    cursor = dict(first.cursor or {})
    cursor["window"] = {**cursor["window"], "ids": None}  # as past MAX_IDS

    _, spent = _cost(sandbox, connector, connector.pull(cursor, Known(ids)))
    assert spent == Counter({"queryAll": 1})  # idle: the count alone answers

    sandbox.clock.advance(seconds=30)
    sandbox.emulator.update_lead(ids[1], Phone="+1 555 0142")
    records, spent = _cost(sandbox, connector, connector.pull(cursor, Known(ids)))
    assert set(records) == set(ids) and records[ids[1]].fields["visitor_phone"]
    assert spent == Counter({"queryAll": 2, "query_more": 2})


def test_an_unreadable_window_is_not_trusted(sandbox: Sandbox) -> None:
    connector, ids, first = _after_burst(sandbox)
    cursor = {**(first.cursor or {}), "window": {"start": "yesterday", "count": 1, "ids": "?"}}
    pull = connector.pull(cursor, Known(ids))
    _, spent = _cost(sandbox, connector, pull)
    assert spent == Counter({"queryAll": 1, "query_more": 2})  # read again, as before
    assert Window.load(pull.cursor["window"]) is not None  # type: ignore[index]


def test_a_small_window_is_read_whole_and_not_kept(sandbox: Sandbox) -> None:
    ids = sandbox.emulator.seed(150)
    connector = _connector(sandbox)
    first = connector.pull(None, Known(ids))
    list(first)
    assert first.cursor is not None and "window" not in first.cursor
    # A late change to a row already in the window: read whole, the window shows it.
    watermark = datetime.fromisoformat(first.cursor["watermark"])
    now = sandbox.clock.now
    sandbox.clock.now = watermark - timedelta(seconds=60)
    sandbox.emulator.update_lead(ids[2], Phone="+1 555 0123")
    sandbox.clock.now = now

    records, spent = _cost(sandbox, connector, connector.pull(first.cursor, Known(ids)))
    assert ids[2] in records and spent == Counter({"queryAll": 1})


def test_window_ids_past_the_cap_are_dropped_and_the_rest_round_trips() -> None:
    start = datetime.fromisoformat("2024-05-01T12:00:00+00:00")
    full = Window(start, MAX_IDS, {f"00Q{i:015d}" for i in range(MAX_IDS)})
    assert Window.load(full.dump()) == full
    assert full.grown({"00Q000000000000001"}).ids is not None  # already in it
    grown = full.grown({"00Qnew"})
    assert (grown.count, grown.ids) == (MAX_IDS + 1, None)  # counted still, ids let go
