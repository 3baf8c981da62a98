"""Read the next page while the current one is being processed.

A full read (a first sync) is a long chain of requests, each waiting on the API's
latency, with the work of turning a page into records in between. Fetching page
``k + 1`` in a thread while page ``k`` is converted hides that work behind the wait.

Only for reads that go to the end anyway: a reader that may stop early (a scan that
stops at its watermark) would pay for a page it never needed.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(pages: Iterable[T], ahead: int = 1) -> Iterator[T]:
    """The items of ``pages`` in order, each fetched while the one before is in use.

    The source runs in one thread of its own, with this thread's context (logging
    binds), at most ``ahead`` pages ahead plus the one it is fetching. Its errors are
    raised here, where the page would have been; a reader that stops early stops the
    fetching too.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
        except BaseException as exc:  # handed to the reader, who raises it
            put(_Failed(exc))
            return
        put(_END)

    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(produce,), daemon=True,
                              name="nexasync-prefetch")  # fmt: skip
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


__all__ = ["prefetched"]
