"""The crawls in flight: submitted to the pool but not started, and running.

The heartbeat reports them (queue depth), stop() waits for the running ones, tests wait for both.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator


class InFlight:
    """Counts of waiting and running crawls behind one condition, so a waiter wakes as a crawl ends."""

    def __init__(self) -> None:
        self._idle = threading.Condition(threading.Lock())
        self._waiting = 0
        self._running = 0
        self._finished = 0

    def submitted(self) -> None:
        """APScheduler handed a crawl to the pool."""
        with self._idle:
            self._waiting += 1

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Around one crawl: it leaves the queue and counts as running until the block ends."""
        with self._idle:
            # May go below zero for a moment: APScheduler announces a submission after handing
            # the run to the pool, so a quick run can start before its "submitted" event.
            self._waiting -= 1
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                self._finished += 1
                self._idle.notify_all()

    def counts(self) -> tuple[int, int]:
        """(running, waiting) now; waiting never below zero."""
        with self._idle:
            return self._running, max(self._waiting, 0)

    def finished(self) -> int:
        """Crawls that have ended since start (however they ended)."""
        with self._idle:
            return self._finished

    def wait(self, timeout: float, *, queued_too: bool = False) -> bool:
        """Wait up to `timeout` s until no crawl is running (and, with `queued_too`, none is waiting);
        True when that happened."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._running > 0 or (queued_too and self._waiting > 0):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True
