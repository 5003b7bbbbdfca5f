"""Per-host politeness held in PostgreSQL, behind the interface of the fetcher's in-process HostPacer.

HostPacer keeps host_delay, host_concurrency and Retry-After in one process's memory: right for one
`monitor run`, wrong for several `monitor worker`s, each of which would pace a host on its own and ask it
N times as often. PgHostPacer keeps the same three rules in the database (db.hosts says how), so the
workers on every machine together ask a host no more than one process would.

Each pacer owns one connection (its concurrency slots are session advisory locks on it), shared by the
worker's crawl threads under a lock: every statement on it takes milliseconds.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import db
from db import hosts
from monitor.crawl.fetch import FetchError

log = logging.getLogger("monitor.distributed")

SLOT_POLL_SECONDS = 0.05  # how often a thread waiting for a free connection to a host asks again


class PgHostPacer:
    """host_delay / host_concurrency / Retry-After across processes: acquire, release, hold_off as HostPacer."""

    def __init__(self, url: str, delay: float, concurrency: int):
        self.url = url
        self.delay = max(0.0, float(delay))
        self.concurrency = max(1, int(concurrency))
        self._lock = threading.Lock()  # the connection: one statement at a time
        self._database: Any = None
        self._held: dict[str, set[int]] = {}  # host → slots this process holds (advisory locks are re-entrant)
        self._mine = threading.local()  # host → the slots this thread holds, in the order taken

    def _connection(self) -> Any:
        if self._database is None or self._database.conn.closed:
            self._database = db.connect(self.url, migrate_schema=False)
            self._held = {}  # the slots of a lost connection were dropped with it
        return self._database

    def _call(self, function, *args: Any) -> Any:
        """Run a db.hosts function on the pacer's connection; reconnect once if the connection was lost."""
        with self._lock:
            try:
                return function(self._connection(), *args)
            except db.OperationalError:
                log.warning("politeness connection lost; reconnecting", exc_info=True)
                self._close_locked()
                return function(self._connection(), *args)

    def _take_slot(self, host: str) -> int | None:
        with self._lock:
            database = self._connection()  # first: a new connection starts with no slots held
            held = self._held.setdefault(host, set())
            for slot in range(self.concurrency):
                if slot not in held and hosts.try_slot(database, host, slot):
                    held.add(slot)
                    return slot
        return None

    def _give_slot(self, host: str, slot: int) -> None:
        with self._lock:
            held = self._held.get(host, set())
            if slot in held:
                held.discard(slot)
                try:
                    hosts.release_slot(self._connection(), host, slot)
                except db.OperationalError:  # the connection died: its locks went with it
                    self._close_locked()

    def acquire(self, host: str, deadline: float) -> None:
        """Wait for a free slot of `host` and for its next start time, unless that is past `deadline`
        (time.monotonic()); FetchError then, naming a Retry-After hold when that is why."""
        while (slot := self._take_slot(host)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FetchError(f"deadline exceeded waiting for a free connection to {host}")
            time.sleep(min(SLOT_POLL_SECONDS, left))
        try:
            wait, held = self._call(hosts.reserve_start, host, self.delay, max(deadline - time.monotonic(), 0.0))
        except BaseException:
            self._give_slot(host, slot)
            raise
        if wait > deadline - time.monotonic():
            self._give_slot(host, slot)
            if held and held >= wait - self.delay:
                raise FetchError(f"host {host} asked us to wait (Retry-After) until"
                                 f" {wait:.0f}s from now; not fetched in this pass")
            raise FetchError(f"deadline exceeded waiting for pacing slot on {host}")
        self._slots().setdefault(host, []).append(slot)
        if wait > 0:
            time.sleep(wait)
            try:
                self._call(hosts.confirm_start, host, self.delay)
            except BaseException:
                self.release(host)
                raise

    def _slots(self) -> dict[str, list[int]]:
        if not hasattr(self._mine, "slots"):
            self._mine.slots = {}
        return self._mine.slots

    def release(self, host: str) -> None:
        """Free the slot this thread took for `host` in `acquire`."""
        taken = self._slots().get(host)
        if taken:
            self._give_slot(host, taken.pop())

    def hold_off(self, host: str, seconds: float) -> None:
        """After a 429/503 with Retry-After: no worker anywhere asks the host before then."""
        self._call(hosts.hold_off, host, seconds)

    def _close_locked(self) -> None:
        if self._database is not None:
            self._database.close_quietly()
        self._database = None
        self._held = {}

    def close(self) -> None:
        with self._lock:
            self._close_locked()
