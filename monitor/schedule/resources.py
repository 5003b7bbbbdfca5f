"""What each crawl thread works with: its own database connection, the classifier, the shared fetcher.

A SQLite connection is not shared across threads mid-transaction, so every worker thread opens its
own; the classifier and the fetcher are shared (one model in memory; one set of per-host pacing and
robots.txt caches for all sources). The job lifecycle lives in monitor/schedule/scheduler.py.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import sqlite_utils

import db
from db.state import SCORER_ERROR_KEY, SCORER_REFUSED_KEY, delete_state, set_state
from monitor.config import Settings

if TYPE_CHECKING:
    from monitor.crawl.fetch import Fetcher
    from monitor.crawl.offload import ParseWorkers

log = logging.getLogger("monitor.scheduler")

SCORER_RETRY_SECONDS = 300


def default_scorer(on_refused: Callable[[dict | None], None] | None = None) -> Any:
    """The registry's active classifier, followed as versions are promoted; without one, items are stored unscored.
    `on_refused` hears when a promoted model is refused, and when that ends (see ActiveScorer)."""
    try:
        from monitor.scoring import ActiveScorer

        return ActiveScorer(on_refused=on_refused)
    except (ImportError, OSError, ValueError) as exc:
        log.warning("classifier not available: items will be stored unscored (%s)", exc)
        return None


class WorkerResources:
    """Per-thread connections, the lazily loaded scorer and the shared fetcher, and their closing."""

    def __init__(self, db_path: str, *, scorer: Any = None, scorer_factory: Callable[[], Any] | None = None,
                 pacer_factory: Callable[[Settings], Any] | None = None):
        """`pacer_factory`: the per-host politeness of each new fetcher, when not the fetcher's own
        (a `monitor worker` shares it with the other workers through PostgreSQL)."""
        self.db_path = db_path
        self._pacer_factory = pacer_factory
        self._scorer = scorer
        self._scorer_factory = scorer_factory or (lambda: default_scorer(on_refused=self._record_refusal))
        self._scorer_retry_at = 0.0
        self._lock = threading.Lock()  # the scorer and the fetcher
        self._fetcher: Fetcher | None = None
        self._fetcher_settings: Settings | None = None
        self._old_fetchers: list[Fetcher] = []
        self._parsers: ParseWorkers | None = None
        self._local = threading.local()
        self._connections: list[sqlite_utils.Database] = []
        self._connections_lock = threading.Lock()
        self._owners: dict[int, int] = {}
        self._busy_long: set[int] = set()

    def database(self) -> sqlite_utils.Database:
        """This thread's connection to the database, opened once per thread."""
        database = getattr(self._local, "database", None)
        if database is None:
            database = db.connect(self.db_path, migrate_schema=False)
            self._local.database = database
            with self._connections_lock:
                self._connections.append(database)
                self._owners[id(database)] = threading.get_ident()
        return database

    def open_migrated(self) -> sqlite_utils.Database:
        """At start: this thread's connection, opened with the migrations applied (once, here)."""
        database = db.connect(self.db_path)
        self._local.database = database
        with self._connections_lock:
            self._connections.append(database)
        return database

    @contextlib.contextmanager
    def long_running(self) -> Iterator[None]:
        """Mark this thread busy with a long job (report, retrain): close() leaves its connection open."""
        with self._connections_lock:
            self._busy_long.add(threading.get_ident())
        try:
            yield
        finally:
            with self._connections_lock:
                self._busy_long.discard(threading.get_ident())

    def fetcher(self, settings: Settings) -> Fetcher:
        """The fetcher shared by every crawl, so per-host pacing and robots.txt caches span all sources;
        replaced (the old one kept for in-flight crawls) when the settings change on reload."""
        with self._lock:
            if self._fetcher is None or self._fetcher_settings != settings:
                from monitor.crawl.fetch import Fetcher

                if self._fetcher is not None:
                    self._old_fetchers.append(self._fetcher)  # in-flight crawls may still use it
                pacer = self._pacer_factory(settings) if self._pacer_factory is not None else None
                self._fetcher = Fetcher(settings, pacer=pacer)
                self._fetcher_settings = copy.deepcopy(settings)
            return self._fetcher

    def parsers(self, settings: Settings) -> ParseWorkers:
        """The parse helper processes shared by every crawl (monitor.crawl.offload; started on the first
        feed that changed); replaced when `parse_processes` changes on reload."""
        from monitor.crawl.offload import ParseWorkers, processes_for

        with self._lock:
            wanted = processes_for(settings, scheduled=True)
            if self._parsers is None or self._parsers.processes != wanted:
                if self._parsers is not None:
                    self._parsers.close()  # a crawl still using it parses in its own thread
                self._parsers = ParseWorkers(wanted)
            return self._parsers

    def stop_idle_parsers(self) -> int:
        """Stop the parse helpers no crawl is using (they start again when a feed needs one)."""
        with self._lock:
            parsers = self._parsers
        return parsers.stop_idle() if parsers is not None else 0

    def scorer(self) -> Any:
        """The classifier, loaded on first use.

        If it cannot be loaded the crawl goes on unscored (losing items would be worse than
        storing them unscored) and the load is retried every few minutes; the error is kept in
        service_state 'scorer_error' so /health and the sources page show it.
        """
        with self._lock:
            if self._scorer is None and self._scorer_factory is not None \
                    and time.monotonic() >= self._scorer_retry_at:
                try:
                    self._scorer = self._scorer_factory()
                except Exception as exc:  # noqa: BLE001 - see docstring
                    self._scorer_retry_at = time.monotonic() + SCORER_RETRY_SECONDS
                    message = f"{type(exc).__name__}: {exc}"[:500]
                    log.error("classifier could not be loaded; storing items unscored", extra={"error": message})
                    set_state(self.database(), SCORER_ERROR_KEY, message)
                else:
                    self._scorer_factory = None
                    delete_state(self.database(), SCORER_ERROR_KEY)
            return self._scorer

    def _record_refusal(self, detail: dict | None) -> None:
        """Keep the scorer's refusal of a promoted model (or its end) in service_state, where /health
        reads it (db.state.scorer_problem); called in whichever thread noticed it, on that thread's connection."""
        if detail is None:
            delete_state(self.database(), SCORER_REFUSED_KEY)
        else:
            set_state(self.database(), SCORER_REFUSED_KEY,
                      json.dumps({**detail, "at": db.utcnow()}, ensure_ascii=False))

    def close(self) -> None:
        """Close the fetchers and every connection but those of threads still in a long job."""
        for fetcher in [self._fetcher, *self._old_fetchers]:
            if fetcher is not None:
                try:
                    fetcher.close()
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass
        self._fetcher, self._old_fetchers = None, []
        with self._lock:
            parsers, self._parsers = self._parsers, None
        if parsers is not None:
            parsers.close()
        with self._connections_lock:
            keep = [d for d in self._connections if self._owners.get(id(d)) in self._busy_long]
            for database in self._connections:
                if database in keep:
                    continue
                try:
                    database.conn.close()
                except Exception:  # noqa: BLE001
                    pass
            self._connections = keep
