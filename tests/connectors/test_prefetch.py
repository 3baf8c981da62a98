"""Reading ahead keeps a full read's order, its errors and its logging context, and a
reader that stops early stops the fetching."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator

import pytest

from nexasync.connectors._prefetch import prefetched

WHO = contextvars.ContextVar("who", default="nobody")


def test_pages_arrive_in_order_with_the_readers_context() -> None:
    seen: list[tuple[int, str, str]] = []

    def source() -> Iterator[int]:
        for n in range(50):
            seen.append((n, WHO.get(), threading.current_thread().name))
            yield n

    WHO.set("cycle-7")
    assert list(prefetched(source())) == list(range(50))
    assert {who for _, who, _ in seen} == {"cycle-7"}
    # Fetched in a thread of its own, not the reader's.
    assert {name for _, _, name in seen} == {"nexasync-prefetch"}


def test_an_error_is_raised_where_its_page_would_have_been() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ConnectionError("page 3 failed")

    got: list[int] = []
    with pytest.raises(ConnectionError, match="page 3 failed"):
        for page in prefetched(source()):
            got.append(page)
    assert got == [1, 2]


def test_a_reader_that_stops_early_stops_the_fetching() -> None:
    fetched: list[int] = []

    def source() -> Iterator[int]:
        for n in range(1000):
            fetched.append(n)
            yield n

    reader = prefetched(source())
    assert next(reader) == 0
    reader.close()  # joins the fetching thread
    # At most two pages beyond the one read: one handed over, one being fetched.
    assert len(fetched) <= 3
