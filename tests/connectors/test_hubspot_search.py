"""The search walk: complete past the 10,000-result cap, through a bulk edit that gave
20,000 contacts one timestamp, at the configured search rate, waiting out 429s."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta

import pytest
from _hubspot_env import Sandbox
from known_ids import Known

from nexasync.connectors._hs_rate import RateLimiter, rate_limit_wait
from nexasync.connectors.hubspot import HubSpotApiError


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.close()


def test_a_backlog_past_the_search_cap_is_read_completely(sandbox: Sandbox) -> None:
    ids = sandbox.emulator.seed(10_450, seed=3)
    start = sandbox.time.now() - timedelta(days=1)
    for n, id in enumerate(ids):  # changed one after another, a millisecond apart
        sandbox.emulator.set_lastmodified([id], start + timedelta(milliseconds=n))
    connector = sandbox.connector()

    records = list(connector.pull(None, Known()))
    seen = [r.id for r in records]

    assert len(seen) == len(set(seen))  # each once, across windows
    assert set(seen) == set(ids)
    stamps = [r.modified_at for r in records]
    assert stamps == sorted(stamps)  # oldest change first
    # One request per 200 contacts, plus the query that starts the second window.
    assert connector.stats["search"] <= math.ceil(len(ids) / 200) + 1


def _then_one_instant(sandbox: Sandbox, n: int, *, apart: int, seed: int) -> list[str]:
    """``n`` contacts: the first ``apart`` changed a millisecond apart, the rest at one
    later instant (a bulk edit)."""
    ids = sandbox.emulator.seed(n, seed=seed)
    start = sandbox.time.now() - timedelta(days=1)
    for k, id in enumerate(ids[:apart]):
        sandbox.emulator.set_lastmodified([id], start + timedelta(milliseconds=k))
    sandbox.emulator.set_lastmodified(ids[apart:], start + timedelta(hours=1))
    return ids


def test_a_window_that_reads_all_its_query_matched_ends_the_walk(sandbox: Sandbox) -> None:
    # Exactly the cap, the newest 1,000 at one timestamp: the window's total says it
    # read everything, so no second window re-reads the contacts of its last timestamp.
    ids = _then_one_instant(sandbox, 10_000, apart=9_000, seed=6)
    connector = sandbox.connector()

    seen = [r.id for r in connector.pull(None, Known())]

    assert sorted(seen) == sorted(ids)
    assert connector.stats["search"] == 50


def test_a_bulk_edit_met_inside_a_window_is_not_read_twice(sandbox: Sandbox) -> None:
    # A first read: 4,000 changes a millisecond apart, then 10,000 at one instant. The
    # window meets the instant on its 21st page, which it fills alone: a count says
    # 10,000 share it, so the walk goes by id from there instead of filling the window
    # with 6,000 of them and reading those again by id.
    ids = _then_one_instant(sandbox, 14_000, apart=4_000, seed=7)
    connector = sandbox.connector()

    seen = [r.id for r in connector.pull(None, Known())]

    assert len(seen) == len(set(seen)) and set(seen) == set(ids)
    # 20 pages before the instant, its first page, the count, 50 pages by id, and the
    # query after it: the bound (70) plus 3.
    assert connector.stats["search"] == 20 + 1 + 1 + 50 + 1


def test_a_bulk_edit_of_20000_contacts_at_one_instant_is_read_completely(
    sandbox: Sandbox,
) -> None:
    before = sandbox.contact(lastname="Before")
    ids = sandbox.emulator.seed(20_100, seed=4)
    bulk = sandbox.time.now() + timedelta(seconds=10)
    sandbox.emulator.set_lastmodified(ids, bulk)
    sandbox.time.advance(seconds=20)
    after = sandbox.contact(lastname="After")
    sandbox.time.advance(seconds=1)
    sandbox.emulator.update_contact(before, phone="1")  # now newer than the bulk edit
    connector = sandbox.connector()

    # The incremental pull that meets the bulk edit: 20,100 contacts at one timestamp.
    cursor = {"watermark": "2024-05-01T11:00:00.000Z", "archived_checked": None, "merged": []}
    pull = connector.pull(cursor, Known())
    seen = [r.id for r in pull]

    assert len(seen) == len(set(seen))
    assert set(seen) == {*ids, before, after}
    # The first page shows the bulk edit and a count query sizes it; the walk by id
    # (two windows) and the rest: about one request per 200 contacts.
    assert connector.stats["search"] <= math.ceil(len(ids) / 200) + 5
    assert pull.cursor is not None and pull.cursor["watermark"] == "2024-05-01T12:00:23.000Z"


def test_searches_keep_to_the_configured_rate() -> None:
    # The emulator counts searches on the same clock and refuses a fourth in one second.
    box = Sandbox(search_rate=3)
    try:
        box.emulator.seed(1_000, seed=5)
        connector = box.connector(search_rate=3)
        records = list(connector.pull(None, Known()))
        assert len(records) == 1_000
        assert connector.stats["search"] == 5  # five pages, none refused and sent again
        assert box.time.monotonic() >= 1.0  # it waited rather than being refused
    finally:
        box.close()


def test_a_429_is_waited_out_as_retry_after_says(sandbox: Sandbox) -> None:
    sandbox.contact(lastname="X")
    connector = sandbox.connector()
    sandbox.emulator.faults.add("429", match="search", retry_after=7)

    records = list(connector.pull(None, Known()))

    assert len(records) == 1
    assert connector.stats["search"] == 2
    assert 7.0 in sandbox.time.sleeps


def test_a_search_429_without_retry_after_waits_a_second_and_others_the_window(
    sandbox: Sandbox,
) -> None:
    sandbox.contact(lastname="X")
    connector = sandbox.connector()
    sandbox.emulator.faults.add("429", match="search", retry_after=None)
    assert len(list(connector.pull(None, Known()))) == 1
    assert sandbox.time.sleeps == [1.0]

    sandbox.emulator.faults.add("429", match="batch_archive", retry_after=None)
    assert connector.delete(["1"])[0].ok
    assert sandbox.time.sleeps[-1] == 10.0  # the ten-second window


def test_a_search_limit_lower_than_configured_is_honoured() -> None:
    box = Sandbox(search_rate=1)  # the account's budget is spent by someone else too
    try:
        box.emulator.seed(1_000, seed=6)
        connector = box.connector(search_rate=5)
        records = list(connector.pull(None, Known()))
        assert len(records) == 1_000
        assert connector.stats["search"] > 5  # refused ones sent again after waiting
        assert box.time.sleeps.count(1.0) >= 4
    finally:
        box.close()


def test_rate_limits_that_do_not_lift_fail_the_pull_with_a_reason(sandbox: Sandbox) -> None:
    sandbox.emulator.limits.daily_limit = 0
    with pytest.raises(HubSpotApiError) as info:
        list(sandbox.connector().pull(None, Known()))
    assert info.value.status == 429 and info.value.retryable and not info.value.transient
    assert "daily" in str(info.value)


def test_rate_limiter_allows_the_rate_in_any_second() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = RateLimiter(4.5, clock=lambda: now[0], sleep=sleep)
    starts = []
    for _ in range(10):
        limiter.acquire()
        starts.append(now[0])
    assert starts[:4] == [0.0] * 4 and starts[4] == pytest.approx(1.02)
    assert starts[8] == pytest.approx(2.04)
    slow = RateLimiter(0.5, clock=lambda: now[0], sleep=sleep)
    slow.acquire()
    at = now[0]
    slow.acquire()
    assert now[0] - at == pytest.approx(2.02)


def test_rate_limiter_on_a_large_clock_does_not_stall_on_rounding() -> None:
    # Seconds since some epoch: start + period - now can land a hair above zero after
    # sleeping exactly that long, and a fake clock never moves by a hair.
    now = [1_714_564_800.123]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(40):
        limiter.acquire()
    assert len(sleeps) == 9 and now[0] - 1_714_564_800.123 == pytest.approx(9.18)


def test_rate_limit_wait() -> None:
    assert rate_limit_wait(3, "SECONDLY", 10_000) == 3
    assert rate_limit_wait(None, "SECONDLY", None) == 1.0
    assert rate_limit_wait(None, "TEN_SECONDLY_ROLLING", 10_000) == 10.0
    assert rate_limit_wait(None, None, None) == 10.0
