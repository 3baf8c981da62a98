"""The per-pair lock: one holder at a time per pair and store, whatever the backend,
and never left behind by a holder that died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from nexasync.store.store import PairLocked, StateStore

HOLD = textwrap.dedent(
    """
    import sys
    from nexasync.store.store import StateStore
    store = StateStore(sys.argv[1])
    with store.pair_lock("p1"):
        print("held", flush=True)
        sys.stdin.read()  # until the test kills us
    """
)


def _holder(url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_holder_is_refused_and_told_who_holds_it(store: StateStore, store_url: str) -> None:
    other = StateStore(store_url)
    try:
        with store.pair_lock("p1"):
            with pytest.raises(PairLocked) as refused, other.pair_lock("p1"):
                pass
            assert refused.value.pair == "p1"
            assert str(os.getpid()) in refused.value.holder
            # Other pairs are independent.
            with other.pair_lock("p2"):
                pass
        # Released on leaving the block.
        with other.pair_lock("p1"):
            pass
    finally:
        other.close()


def test_lock_of_a_killed_process_is_released(store: StateStore, store_url: str) -> None:
    proc = _holder(store_url)
    try:
        with pytest.raises(PairLocked) as refused, store.pair_lock("p1"):
            pass
        assert str(proc.pid) in refused.value.holder
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        with store.pair_lock("p1"):
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_in_memory_store_locks_within_the_process() -> None:
    store = StateStore("sqlite://")
    try:
        with store.pair_lock("p1"), pytest.raises(PairLocked), store.pair_lock("p1"):
            pass
        with store.pair_lock("p1"):
            pass
    finally:
        store.close()
