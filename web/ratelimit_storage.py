"""`monitordb://`: a `limits` storage whose counters live in the app's own database (db/ratelimits.py).

Several `monitor serve` processes behind one PostgreSQL database must count failed logins together, or
an attacker spreads guesses over the processes and each sees only its share. `limits` offers Redis,
Memcached and MongoDB, none of which a PostgreSQL installation runs; the database all processes already
share holds the counters instead. Fixed windows only (the app's strategy): one row per key.

Flask-Limiter builds the storage from RATELIMIT_STORAGE_URI = "monitordb://" with
RATELIMIT_STORAGE_OPTIONS = {"database": <the app's DATABASE>} (create_app sets both on PostgreSQL).
Inside a request the counters go through the request's own connection (web.get_db): no connection of
their own per process or thread; outside one (a health check, a test) a short-lived connection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flask import current_app, has_app_context
from limits.storage import Storage

import db
import db.ratelimits

SCHEME = "monitordb"


class DatabaseStorage(Storage):
    """Fixed-window counters in the `rate_limits` table of the database named by the `database` option."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *, database: str = "",
                 **options: Any) -> None:
        if not database:
            raise ValueError(f"{SCHEME}:// needs the database: RATELIMIT_STORAGE_OPTIONS = {{'database': ...}}")
        super().__init__(uri, wrap_exceptions, **options)
        self.target = str(database)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return db.Error

    @contextlib.contextmanager
    def _database(self) -> Iterator[Any]:
        if has_app_context() and str(current_app.config.get("DATABASE")) == self.target:
            from web import get_db

            yield get_db()
            return
        database = db.connect(self.target, migrate_schema=False)
        try:
            yield database
        finally:
            database.conn.close()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self._database() as database:
            return db.ratelimits.incr(database, key, expiry, amount)

    def get(self, key: str) -> int:
        with self._database() as database:
            return db.ratelimits.get(database, key)

    def get_expiry(self, key: str) -> float:
        with self._database() as database:
            return db.ratelimits.expires_at(database, key)

    def check(self) -> bool:
        try:
            with self._database() as database:
                return db.ratelimits.reachable(database)
        except db.Error:
            return False

    def reset(self) -> int | None:
        with self._database() as database:
            return db.ratelimits.reset(database)

    def clear(self, key: str) -> None:
        with self._database() as database:
            db.ratelimits.clear(database, key)
