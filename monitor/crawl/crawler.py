"""One crawl pass: fetch → parse by kind → pipeline.ingest → source health, for one source or all.

A bad source never raises out of here: every failure becomes a CrawlResult with status
"error" and a reason naming what failed, recorded on the source so `monitor status` shows it,
and after `max_failures` consecutive failures the source is paused until someone resumes it.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

import db
from db.items import is_stored
from db.sources import ensure_source, find_source, finish_run, paused_names, set_paused, start_run, sync_sources
from monitor import storage
from monitor.config import FeedsConfig, Settings, SourceConfig
from monitor.crawl.fetch import Fetcher, FetchError, FetchResult
from monitor.crawl.offload import ParseWorkers, processes_for
from monitor.crawl.sources import Parsed, ParseError, article, parser_for
from monitor.known_claims.claimreview import review_markup
from monitor.known_claims.harvest import harvest
from monitor.pipeline import IngestResult, PreparedTexts, ingest, ingest_many
from monitor.pipeline.flag_budget import FlagBudget, from_settings
from monitor.pipeline.places import sync_jurisdiction
from monitor.pipeline.signals import jurisdiction_of
from monitor.schedule.locks import claim_run_on, recover_interrupted_runs, release_run
from monitor.text.charset import decode_bytes
from monitor.text.html import html_to_text
from monitor.text.urls import canonical_url

log = logging.getLogger("monitor.crawl")

FULL_TEXT_PER_PASS = 30
# One ingest at a time per process: normalising is pure Python (the GIL serialises it anyway), and
# SQLite's busy handler polls with sleeps of up to 100 ms, so writer threads queueing on a Python
# lock hand over at once instead of sleeping through free slots. Fetching stays fully concurrent.
# A crawl run's own records (start_run, finish_run) take the same lock: queued on SQLite's busy handler
# behind the group writer, 32 workers slept through its gaps (28-41 s summed in a 30 s cold pass), did
# not fetch meanwhile, and the writer then sat idle waiting for feeds.
_INGEST_LOCK = threading.Lock()
# Most raw items one group write takes (a few hundred: one model call and one commit for them all,
# while a transaction stays well under a second).
GROUP_MAX_ITEMS = 400


class _Pending:
    __slots__ = ("database", "row", "raws", "prepared", "result", "done")

    def __init__(self, database: sqlite_utils.Database, row: dict, raws: list,
                 prepared: PreparedTexts | None = None) -> None:
        self.database, self.row, self.raws, self.prepared = database, row, raws, prepared
        self.result: IngestResult | Exception | None = None
        self.done = False


class GroupIngester:
    """Group commit for one crawl pass: feeds that arrive while a group is being written go in the next.

    A worker with parsed items queues them and then waits for the writer lock; whoever holds it
    ingests everything queued so far in one `ingest_many` call (one scorer call, one transaction)
    with its own connection, so the others usually find their feed already stored when their turn
    comes. Fetching stays fully concurrent; only writing is one-at-a-time, as before, but the
    per-feed costs (model call, commit, lock hand-over) are paid once per group. All feeds of one
    ingester must go to the same database file.
    """

    def __init__(self, scorer: Any, max_items: int = GROUP_MAX_ITEMS, flag_budget: FlagBudget | None = None,
                 jurisdiction: frozenset[str] = frozenset()) -> None:
        self.scorer = scorer
        self.flag_budget = flag_budget
        self.jurisdiction = jurisdiction
        self.max_items = max_items
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()

    def ingest(self, database: sqlite_utils.Database, row: dict, raws: list,
               prepared: PreparedTexts | None = None) -> IngestResult:
        pending = _Pending(database, row, raws, prepared)
        with self._queue_lock:
            self._queue.append(pending)
        while not pending.done:
            with self._writer, _INGEST_LOCK:
                if pending.done:
                    break
                group = self._take()
                try:
                    results: list = ingest_many(database, [(p.row, p.raws, p.prepared) for p in group], self.scorer,
                                                flag_budget=self.flag_budget, jurisdiction=self.jurisdiction)
                except BaseException as exc:  # never leave a queued feed waiting for a result
                    results = [exc if isinstance(exc, Exception) else RuntimeError(f"ingest interrupted: {exc!r}")
                               for _ in group]
                    raise
                finally:
                    for member, result in zip(group, results, strict=True):
                        member.result, member.done = result, True
        if isinstance(pending.result, Exception):
            raise pending.result
        assert pending.result is not None
        return pending.result

    def _take(self) -> list[_Pending]:
        """The queued feeds up to max_items raw items (always at least one)."""
        with self._queue_lock:
            taken = items = 0
            while taken < len(self._queue) and (taken == 0 or items < self.max_items):
                items += len(self._queue[taken].raws)
                taken += 1
            group, self._queue = self._queue[:taken], self._queue[taken:]
        return group


@dataclass
class CrawlResult:
    source: str
    status: str  # "ok" | "not_modified" | "error" | "paused"
    found: int = 0
    new: int = 0
    seen: int = 0
    error: str | None = None
    http_status: int | None = None
    duration: float = 0.0
    flagged: int = 0
    retry_after: float | None = None
    paused_now: bool = False
    storage_full: bool = False  # the storage refused a write (disk full): back off everything, not one source
    # The source's own polling hints, for the scheduler: feed TTL (from the parser), HTTP cache lifetime.
    ttl_seconds: int | None = None
    cache_seconds: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _source_row(database: sqlite_utils.Database, source: SourceConfig) -> dict:
    found = find_source(database, source.name)
    if found is None:
        ensure_source(database, source.name, source.kind, source.url, source.language)
        found = find_source(database, source.name)
    row = dict(found)
    row["timezone"] = source.timezone
    row["language"] = source.language
    row["content_kind"] = source.content_kind  # kept in feeds.yaml only; item_kind reads it from the row
    return row


def _fetch_and_parse(fetcher: Fetcher, source: SourceConfig, row: dict,
                     parsers: ParseWorkers | None = None) -> tuple[FetchResult, list | None]:
    """Fetch the source (conditionally) and parse it (in a helper process when `parsers` has one); items
    None when unchanged."""
    parser = parser_for(source.kind)
    collect = getattr(parser, "collect", None)
    if collect is not None:
        # Kinds that need more than one request (pagination, article pages) drive the fetcher themselves.
        return collect(fetcher, source, row)
    result = fetcher.fetch(source.url, etag=row.get("etag"), last_modified=row.get("last_modified"),
                           accept=getattr(parser, "ACCEPT", None),
                           check_robots=getattr(parser, "RESPECT_ROBOTS", False))
    if result.not_modified:
        return result, None
    if row.get("body_hash") and row["body_hash"] == result.body_hash:
        # Some servers send a fresh ETag with identical bytes: the body hash catches them.
        result.not_modified = True
        return result, None
    if parsers is not None:
        return result, parsers.parse(source.kind, result, source, row.get("id"))
    return result, parser.parse(result, source)


def _is_known(database: sqlite_utils.Database, source_id: int, raw) -> bool:
    """Whether the raw item is stored already (same guid in the source, or same canonical URL)."""
    return is_stored(database, source_id, raw.guid, canonical_url(raw.url))


def enrich_full_text(database: sqlite_utils.Database, fetcher: Fetcher, row: dict, raws: list) -> int:
    """Fetch and extract the article page of each new item (robots.txt respected); returns pages used.

    Items already stored are skipped, so a feed is not re-downloaded article by article every pass.
    A page that fails keeps the feed's summary: a missing article must not lose the item, and one
    bad link (a control character, a broken redirect) costs only its own full text. The failures
    are noted on the run, through the parsed list's warning (the source stays "ok"). An entry whose
    link keeps a #fragment (a live blog's update, a post anchored on a shared page) is one of several
    on its page, so the page is not its text and is not fetched.
    """
    used = 0
    failed: list[str] = []
    for raw in raws:
        if used >= FULL_TEXT_PER_PASS or not raw.url or _is_known(database, row["id"], raw):
            continue
        if "#" in (canonical_url(raw.url) or ""):
            continue
        try:
            page = fetcher.fetch(raw.url, accept="text/html,application/xhtml+xml", check_robots=True,
                                 max_bytes=min(fetcher.settings.max_body_bytes, 5 * 1024 * 1024))
        except FetchError as exc:
            raw.extra["full_text_error"] = exc.reason
            failed.append(exc.reason)
            continue
        page_html = decode_bytes(page.body, page.charset)
        text, published = article.extract(page_html, page.final_url)
        if markup := review_markup(page_html):  # a fact-check's ClaimReview, for the library (harvest)
            raw.extra["claim_review_html"] = markup
        used += 1
        if len(text) > len(html_to_text(raw.text)):
            raw.extra.setdefault("summary", raw.text)
            raw.text = text
        if raw.published is None and published is not None:
            raw.published = published
    if failed and isinstance(raws, Parsed):
        raws.note(f"full text not read for {len(failed)} of {len(raws)} items, feed summary kept: "
                  + "; ".join(failed[:3]) + ("; …" if len(failed) > 3 else ""))
    return used


def crawl_source(database: sqlite_utils.Database, source: SourceConfig, settings: Settings, scorer: Any,
                 fetcher: Fetcher | None = None, ingester: GroupIngester | None = None,
                 parsers: ParseWorkers | None = None) -> CrawlResult:
    """Crawl one source and record the run; never raises for a bad source.

    With an `ingester` (a crawl pass), the items are written in a group with other sources' items.
    With `parsers` (a pass's or the scheduler's), the feed is parsed and its items' texts prepared in a
    helper process (monitor.crawl.offload); the rest is the same.
    When the storage refuses writes (a full disk), the result says so (`storage_full`) and the
    source's etag / last-modified / body hash stay where they were, so the next pass fetches again
    what could not be stored.
    """
    started = time.monotonic()
    begun = _begin_run(database, source)
    if isinstance(begun, CrawlResult):
        begun.duration = round(time.monotonic() - started, 3)
        return begun
    row, run_id, owner = begun
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(settings)
    result = CrawlResult(source=source.name, status="error")
    fetch_state: dict | None = None
    try:
        fetched, raws = _fetch_and_parse(fetcher, source, row, parsers)
        result.http_status, result.cache_seconds = fetched.status, fetched.cache_seconds
        result.ttl_seconds = getattr(raws, "ttl_seconds", None)
        if raws is None:
            result.status = "not_modified"
        else:
            result.found = len(raws)
            if source.options.get("full_text"):
                enrich_full_text(database, fetcher, row, raws)
            harvest(database, raws, source_name=source.name, role=getattr(source, "role", None), language=source.language)
            prepared = parsers.prepare(raws, row) if parsers is not None else None
            if ingester is not None:
                ingested = ingester.ingest(database, row, raws, prepared)
            else:
                with _INGEST_LOCK:
                    ingested = ingest(database, row, raws, scorer, from_settings(settings),
                                      jurisdiction=jurisdiction_of(settings), prepared=prepared)
            result.new, result.seen, result.flagged = ingested.new, ingested.seen, ingested.flagged
            result.status = "ok"
            result.error = getattr(raws, "warning", None)  # recovered from a malformed feed: say so
            fetch_state = {"etag": fetched.etag, "last_modified": fetched.last_modified,
                           "body_hash": fetched.body_hash if fetched.body else None}
    except FetchError as exc:
        result.error, result.http_status, result.retry_after = exc.reason, exc.status, exc.retry_after
    except ParseError as exc:
        result.error = f"{exc} (from {source.url})"
    except Exception as exc:  # noqa: BLE001 - a crawler bug on one source must not stop the pass
        if storage.cannot_write(exc):
            result.error, result.storage_full = storage.failed(database, exc), True
        else:
            log.exception("crawl of %s failed", source.name)
            result.error = f"internal error: {type(exc).__name__}: {exc}"[:500]
    finally:
        if own_fetcher:
            fetcher.close()
    result.duration = round(time.monotonic() - started, 3)
    try:
        _record_run(database, run_id, row, result, fetch_state, settings)
    finally:
        release_run(database_path(database), owner)
    return result


def _begin_run(database: sqlite_utils.Database,
               source: SourceConfig) -> tuple[dict, int, str | None] | CrawlResult:
    """The source's row, a new crawl run and its owner (see `claim_run`), or the result that ends the
    crawl before any fetch: the source is paused, or the run cannot even be recorded (a full disk:
    nothing fetched could be stored, so the host is not asked)."""
    try:
        row = _source_row(database, source)
        if row.get("paused"):
            return CrawlResult(source=source.name, status="paused",
                               error=f"paused after {row.get('consecutive_failures', 0)} consecutive failures"
                                     f" (last error: {row.get('last_error')}); resume with `monitor sources"
                                     f" resume {source.name}`")
        path = database_path(database)
        owner = claim_run_on(database)
        try:
            with _INGEST_LOCK:
                run_id = start_run(database, row["id"], owner=owner)
            return row, run_id, owner
        except BaseException:
            release_run(path, owner)
            raise
    except Exception as exc:
        if not storage.cannot_write(exc):
            raise
        return CrawlResult(source=source.name, status="error", error=storage.failed(database, exc),
                           storage_full=True)


def _record_run(database: sqlite_utils.Database, run_id: int, row: dict, result: CrawlResult,
                fetch_state: dict | None, settings: Settings) -> None:
    """Close the run and update the source's health; pause the source after too many failures of its own.

    A full disk is not the source's fault: it never counts towards pausing, and a success clears it.
    """
    try:
        with _INGEST_LOCK:
            finish_run(database, run_id, row["id"], status=result.status, http_status=result.http_status,
                       found=result.found, new=result.new, seen=result.seen, error=result.error,
                       fetch_state=fetch_state)
        if result.status == "error" and not result.storage_full:
            failures = int(row.get("consecutive_failures") or 0) + 1
            if settings.max_failures and failures >= settings.max_failures:
                with _INGEST_LOCK:
                    set_paused(database, row["id"], True)
                result.paused_now = True
                log.warning("source %s paused after %d consecutive failures", result.source, failures)
        elif result.status in ("ok", "not_modified"):
            storage.recovered(database)
    except Exception as exc:  # noqa: BLE001
        if storage.cannot_write(exc):
            message = storage.failed(database, exc)
            if not result.storage_full:  # the items may be stored; only the run's record is missing
                log.warning("could not record the crawl run of %s: %s", result.source, message)
        else:
            log.exception("could not record crawl run for %s", result.source)


def database_path(database: sqlite_utils.Database | str | Path) -> str | None:
    """File path of a database (None for in-memory), so worker threads can open their own connections."""
    if isinstance(database, (str, Path)):
        return str(database)
    return db.file_path(database)


def interleave_hosts(sources: list[SourceConfig]) -> list[SourceConfig]:
    """Round-robin over hosts, so workers spread across hosts instead of queueing on one host's pacing."""
    by_host: dict[str, list[SourceConfig]] = {}
    for source in sources:
        by_host.setdefault((urlsplit(source.url).hostname or "").lower(), []).append(source)
    queues = list(by_host.values())
    ordered: list[SourceConfig] = []
    for round_no in range(max(len(q) for q in queues)):
        ordered.extend(q[round_no] for q in queues if round_no < len(q))
    return ordered


def _pass_parsers(settings: Settings, sources: int, path: str | None) -> ParseWorkers:
    """A pass's parse helpers: worth their start-up (~0.3 s) for several feeds, not for one (nor in memory)."""
    return ParseWorkers(0 if sources < 2 or path is None else processes_for(settings))


def crawl_sources(database: sqlite_utils.Database | str | Path, config: FeedsConfig, scorer: Any,
                  only: str | None = None, fetcher: Fetcher | None = None,
                  parsers: ParseWorkers | None = None) -> list[CrawlResult]:
    """One pass over every enabled, not-paused source (or just `only`), concurrently.

    Each worker thread opens its own connection (sqlite3 connections belong to one thread); the fetcher
    (per-host pacing, robots.txt caches) and the parse helpers (`settings: parse_processes`) are shared.
    """
    path = database_path(database)
    main_db = db.connect(path) if isinstance(database, (str, Path)) else database
    settings = config.settings
    sync_sources(main_db, config.sources)
    sync_jurisdiction(main_db, jurisdiction_of(settings))  # feeds.yaml's jurisdiction changed: re-mark items
    recover_interrupted_runs(main_db)  # runs a killed `monitor crawl` left open; live ones are kept
    if only is not None:
        try:
            chosen = [config.source(only)]
        except KeyError:
            if main_db is not database:
                main_db.conn.close()
            names = ", ".join(s.name for s in config.sources) or "none"
            raise KeyError(f"no source named '{only}' in {config.path} (sources: {names})") from None
    else:
        paused = set(paused_names(main_db))
        chosen = [s for s in config.sources if s.enabled and s.name not in paused]
    if not chosen:
        if main_db is not database:
            main_db.conn.close()
        return []
    chosen = interleave_hosts(chosen)
    own_fetcher, own_parsers = fetcher is None, parsers is None
    fetcher = fetcher or Fetcher(settings)
    parsers = parsers or _pass_parsers(settings, len(chosen), path)
    ingester = GroupIngester(scorer, flag_budget=from_settings(settings), jurisdiction=jurisdiction_of(settings))
    local = threading.local()
    connections: list[sqlite_utils.Database] = []
    lock = threading.Lock()

    def connection() -> sqlite_utils.Database:
        if path is None:
            return main_db
        if not hasattr(local, "db"):
            local.db = db.connect(path, migrate_schema=False)
            with lock:
                connections.append(local.db)
        return local.db

    refused: list[str] = []  # the storage refused a write: the disk is shared, so the pass stops fetching

    def run(source: SourceConfig) -> CrawlResult:
        if refused:
            return CrawlResult(source=source.name, status="error", error=f"not fetched: {refused[0]}",
                               storage_full=True)
        try:
            result = crawl_source(connection(), source, settings, scorer, fetcher, ingester, parsers)
        except Exception as exc:  # noqa: BLE001 - e.g. the database itself failing for this worker
            log.exception("crawl of %s failed outside the source", source.name)
            result = CrawlResult(source=source.name, status="error", error=f"internal error: {exc}"[:500],
                                 storage_full=storage.cannot_write(exc))
        if result.storage_full:
            refused.append(result.error or storage.REASON)
        return result

    try:
        workers = 1 if path is None else max(1, min(settings.workers, len(chosen)))
        if workers == 1:
            results = [run(source) for source in chosen]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crawl") as pool:
                results = list(pool.map(run, chosen))
    finally:
        if own_fetcher:
            fetcher.close()
        if own_parsers:
            parsers.close()
        for conn in connections:
            conn.conn.close()
        if main_db is not database:
            main_db.conn.close()
    return results
