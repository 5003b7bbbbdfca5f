"""Per-host politeness shared by every crawl worker (PostgreSQL only; migration 002_workers).

Three rules must hold across all workers on all machines, as the in-process HostPacer keeps them in one:
- host_delay: two requests to a host start at least this far apart. `reserve_start` books the next start
  time in the host's row under SELECT … FOR UPDATE, in a transaction of its own that lasts milliseconds,
  and answers how long to wait for it; times are the server's clock, so skewed machines agree;
- Retry-After: `hold_off` pushes the host's next start (and its hold) to the time the server named;
- host_concurrency: at most N requests in flight, as N session advisory locks per host (`try_slot`).
  A lock dies with its connection, so a worker killed mid-request never leaves a slot taken.
"""

from __future__ import annotations

from typing import Any

from db import transaction

SLOT_CLASS = 0x6D6F6E01  # first key of the two-key advisory locks: a space apart from the bigint keys


def reserve_start(database: Any, host: str, delay: float, deadline_seconds: float) -> tuple[float, float]:
    """Book the next request start to `host`: (seconds to wait for it, seconds of Retry-After hold left).

    The booking is made only when the start is within `deadline_seconds`; otherwise nothing changes and
    the caller gives up (the wait returned is then the one it would have had)."""
    with transaction(database, exclusive=False) as conn:
        conn.execute("INSERT INTO host_slots (host) VALUES (?) ON CONFLICT (host) DO NOTHING", (host,))
        wait, held = conn.execute(
            "SELECT GREATEST(EXTRACT(EPOCH FROM next_at - clock_timestamp()), 0)::float8,"
            " GREATEST(EXTRACT(EPOCH FROM held_until - clock_timestamp()), 0)::float8"
            " FROM host_slots WHERE host = ? FOR UPDATE", (host,)).fetchone()
        if wait <= deadline_seconds:
            conn.execute(
                "UPDATE host_slots SET requests = requests + 1,"
                " next_at = GREATEST(next_at, clock_timestamp()) + make_interval(secs => ?::float8)"
                " WHERE host = ?", (float(delay), host))
    return float(wait), float(held)


def confirm_start(database: Any, host: str, delay: float) -> None:
    """At the moment a booked request really starts, after waiting for its time: the next start is at least
    `delay` from now. A wait overrun (a busy machine wakes a thread late) would otherwise leave this request
    closer than `delay` to the next one, booked from the time this one should have started."""
    database.conn.execute(
        "UPDATE host_slots SET next_at = GREATEST(next_at, clock_timestamp() + make_interval(secs => ?::float8))"
        " WHERE host = ?", (float(delay), host))


def hold_off(database: Any, host: str, seconds: float) -> None:
    """After a 429/503 with Retry-After: no worker asks the host before then."""
    database.conn.execute(
        "INSERT INTO host_slots (host, next_at, held_until)"
        " VALUES (?, clock_timestamp() + make_interval(secs => ?::float8),"
        " clock_timestamp() + make_interval(secs => ?::float8))"
        " ON CONFLICT (host) DO UPDATE SET next_at = GREATEST(host_slots.next_at, excluded.next_at),"
        " held_until = GREATEST(host_slots.held_until, excluded.held_until)",
        (host, float(seconds), float(seconds)))


def try_slot(database: Any, host: str, slot: int) -> bool:
    """Take concurrency slot `slot` of `host` on this connection, if free (never waits)."""
    return bool(database.conn.execute("SELECT pg_try_advisory_lock(?::int, hashtext(?::text || '#' || ?::text))",
                                      (SLOT_CLASS, host, str(slot))).fetchone()[0])


def release_slot(database: Any, host: str, slot: int) -> None:
    database.conn.execute("SELECT pg_advisory_unlock(?::int, hashtext(?::text || '#' || ?::text))",
                          (SLOT_CLASS, host, str(slot)))


def host_state(database: Any, host: str) -> dict | None:
    """The host's row (next_at, held_until, requests): for tests and `monitor status`."""
    rows = list(database.query("SELECT host, next_at, held_until, requests FROM host_slots WHERE host = ?", [host]))
    return rows[0] if rows else None
