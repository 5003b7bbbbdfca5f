"""Evidence capture: fetch an item's page again and keep the response as a WARC file beside the database.

Posts are deleted quickly; a confirmation or an escalation is worth little later if nobody can show what
the post said. So at confirm and escalate (after the decision is committed, in the background, so the
decision is never slowed or failed by a slow site) and on demand, the page is fetched again through the
crawler's own Fetcher (timeouts, deadline, body cap, redirects, SSRF guard: one HTTP client, one policy),
and the request and response are written as a gzipped WARC pair (`warcio`) to
<db>.evidence/<item id>/<UTC time>-<sha256 prefix>.warc.gz. The database row (db.evidence) holds the file's
sha256, its size, the time, who and why, and a plain-text rendering of the page; a failed capture holds the
reason instead. `monitor audit verify` re-hashes every file (verify below).
"""

from __future__ import annotations

import hashlib
import http
import io
import logging
import os
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

import db
import db.evidence
from monitor.config import Settings
from monitor.crawl.fetch import Fetcher, FetchError, FetchResult
from monitor.domain import Action, Status

log = logging.getLogger("monitor.evidence")

ACCEPT = "text/html,application/xhtml+xml,*/*;q=0.5"
MAX_TEXT = 200_000  # the plain-text rendering kept in the database (the WARC keeps everything)
MAX_PENDING = 500  # captures waiting in the background queue; beyond that one is recorded as refused
# Response headers that describe the bytes on the wire, not the decoded body the Fetcher hands back.
_WIRE_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


def folder(db_path: str | Path) -> Path:
    """<db>.evidence: captures lie beside the database they belong to (and move with it in a backup). A
    PostgreSQL database has no file to lie beside: its captures go to MONITOR_STATE_DIR/<dbname>.evidence,
    the folder its signed checkpoints share (db/checkpoints.py), which every machine that decides must reach."""
    if db.is_url(str(db_path)):
        from db.checkpoints import STATE_DIR_ENV
        from db.postgres import database_name

        state = os.environ.get(STATE_DIR_ENV)
        if not state:
            raise ValueError(f"on PostgreSQL evidence captures need a folder: set {STATE_DIR_ENV}")
        return Path(state).expanduser() / f"{database_name(str(db_path))}.evidence"
    return Path(f"{db_path}.evidence")


def file_of(db_path: str | Path, relative: str) -> Path | None:
    """The capture file a stored relative path names, or None if it would lie outside the evidence folder
    (a tampered row must not make the app serve, or verify hash, any other file)."""
    base = folder(db_path).resolve()
    target = (base / relative).resolve()
    return target if target.is_relative_to(base) and target != base else None


def reason_for(action: str) -> str | None:
    """Why a decision triggers a capture ("confirm", "escalate"), or None when it does not."""
    try:
        status = Action(action).new_status
    except ValueError:
        return None
    return {Status.CONFIRMED: "confirm", Status.ESCALATED: "escalate"}.get(status)


def error_kind(error: FetchError) -> str:
    """The failure's kind for the item page: refused address, timeout, too large, HTTP error, or other."""
    text = error.reason.lower()
    if error.status is not None and error.status >= 400:
        return "http"
    if text.startswith(("refused", "bad url")) or "private networks" in text:
        return "refused"
    if "timeout" in text or "deadline" in text:
        return "timeout"
    if "larger than" in text:
        return "too_large"
    return "other"


def _http_headers(result: FetchResult) -> list[tuple[str, str]]:
    headers = [(k, v) for k, v in result.headers.items() if k.lower() not in _WIRE_HEADERS]
    return [*headers, ("Content-Length", str(len(result.body)))]


def write_warc(target: Path, result: FetchResult, user_agent: str, when: datetime) -> tuple[str, int]:
    """Write the response and its request as a gzipped WARC file at `target`; return (sha256, size).

    The body is the one the Fetcher decoded (gzip undone, capped), so the wire headers that described the
    encoded bytes are replaced by the decoded length. Written to a temporary file and renamed, so a crash
    leaves no half file under a final name."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    parts = urlsplit(result.final_url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    date = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        phrase = http.HTTPStatus(result.status).phrase
    except ValueError:
        phrase = ""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            writer = WARCWriter(out, gzip=True)
            response = writer.create_warc_record(
                result.final_url, "response", payload=io.BytesIO(result.body), length=len(result.body),
                http_headers=StatusAndHeaders(f"{result.status} {phrase}".strip(), _http_headers(result),
                                              protocol="HTTP/1.1"),
                warc_headers_dict={"WARC-Date": date})
            request = writer.create_warc_record(
                result.final_url, "request", payload=io.BytesIO(b""), length=0,
                http_headers=StatusAndHeaders(f"GET {path} HTTP/1.1", [
                    ("Host", parts.netloc), ("User-Agent", user_agent), ("Accept", ACCEPT),
                    ("Accept-Encoding", "gzip, deflate")], is_http_request=True),
                warc_headers_dict={"WARC-Date": date,
                                   "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")})
            writer.write_record(response)
            writer.write_record(request)
        data = Path(temporary).read_bytes()
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest(), len(data)


def plain_text(result: FetchResult) -> str:
    """The page as text: the article extractor's main text, else the whole page's text (monitor.text.html)."""
    from monitor.crawl.sources import article
    from monitor.text.charset import decode_bytes
    from monitor.text.html import html_to_text

    decoded = decode_bytes(result.body, result.charset)
    if result.content_type in ("text/html", "application/xhtml+xml", ""):
        text = article.extract(decoded, result.final_url)[0] or html_to_text(decoded)
    else:
        text = decoded if result.content_type.startswith("text/") else ""
    return text[:MAX_TEXT]


def capture(database: sqlite_utils.Database, settings: Settings, *, item_id: int, url: str, user_id: int | None,
            why: str, fetcher: Fetcher | None = None, deadline: float | None = None) -> int:
    """Fetch `url` again and record the capture (or why it failed); return the capture's id."""
    db_path = db.location(database)
    if db_path is None:
        raise ValueError("evidence needs a database file (captures lie beside it)")
    fields: dict[str, Any] = {"item_id": item_id, "url": url, "user_id": user_id, "why": why}
    own = fetcher is None
    fetcher = fetcher or Fetcher(settings)
    try:
        result = fetcher.fetch(url, accept=ACCEPT, max_bytes=settings.evidence_max_bytes, deadline=deadline)
        when = datetime.now(UTC)
        body_hash = hashlib.sha256(result.body).hexdigest()
        name = f"{when.strftime('%Y%m%dT%H%M%SZ')}-{body_hash[:12]}.warc.gz"
        relative = f"{item_id}/{name}"
        target = folder(db_path) / relative
        if target.exists():  # the same page captured twice in one second: keep both
            relative = f"{item_id}/{name[:-8]}-{os.urandom(3).hex()}.warc.gz"
            target = folder(db_path) / relative
        sha, size = write_warc(target, result, fetcher.user_agent, when)
        fields.update(final_url=result.final_url, http_status=result.status, path=relative, sha256=sha, size=size,
                      captured_at=db.to_iso(when), text=plain_text(result))
    except FetchError as error:
        fields.update(final_url=error.url, http_status=error.status, captured_at=db.utcnow(),
                      error_kind=error_kind(error), error=error.reason[:1000])
    except OSError as error:  # the evidence folder cannot be written: recorded, never raised into a decision
        fields.update(captured_at=db.utcnow(), error_kind="other",
                      error=f"cannot write the evidence file: {error.strerror or error}")
    finally:
        if own:
            fetcher.close()
    return db.evidence.record(database, fields)


# --- in the background, after a decision -------------------------------------------------------------

_executor: ThreadPoolExecutor | None = None
_pending: set[Future] = set()
_lock = threading.Lock()


def _run(db_path: str, settings: Settings, jobs: list[tuple[int, str]], user_id: int | None, why: str) -> None:
    database = db.connect(db_path, migrate_schema=False)
    try:
        with Fetcher(settings) as fetcher:  # one client for the batch: its pacing spaces copies on one host
            for item_id, url in jobs:
                try:
                    capture(database, settings, item_id=item_id, url=url, user_id=user_id, why=why, fetcher=fetcher)
                except Exception:  # noqa: BLE001 - one bad capture must not stop the others
                    log.exception("evidence capture of item %s failed", item_id)
    finally:
        database.conn.close()


def capture_later(db_path: str, settings: Settings, jobs: list[tuple[int, str]], *, user_id: int | None,
                  why: str) -> Future | None:
    """Queue captures of (item id, url) pairs, run one batch at a time on a background thread; returns at
    once, so the decision that asked is already answered. None when there is nothing to do."""
    global _executor
    jobs = [(item_id, url) for item_id, url in jobs if url]
    if not jobs:
        return None
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence")
        if sum(1 for f in _pending if not f.done()) >= MAX_PENDING:
            log.warning("evidence queue full: %d capture batch(es) of %s not started", len(jobs), why)
            return None
        future = _executor.submit(_run, db_path, settings, jobs, user_id, why)
        _pending.add(future)
        future.add_done_callback(_pending.discard)
    return future


def wait_idle(timeout: float = 30.0) -> bool:
    """Wait for every queued capture to finish (tests; a clean shutdown); False if some are still running."""
    with _lock:
        pending = list(_pending)
    return not wait(pending, timeout=timeout).not_done


# --- verification -----------------------------------------------------------------------------------

def verify(database: sqlite_utils.Database) -> tuple[int, list[str]]:
    """(captures checked, problems): every stored WARC file must exist and still hash to its recorded sha256."""
    db_path = db.location(database)
    checked, problems = 0, []
    for row in db.evidence.stored_files(database):
        checked += 1
        target = file_of(db_path, row["path"]) if db_path else None
        if target is None or not target.is_file():
            problems.append(f"evidence {row['id']} (item {row['item_id']}): file {row['path']} is missing")
            continue
        with target.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if digest != row["sha256"]:
            problems.append(f"evidence {row['id']} (item {row['item_id']}): file {row['path']} was changed"
                            f" (sha256 {digest[:16]}…, recorded {row['sha256'][:16]}…)")
    return checked, problems
