"""Intake outside the crawl: a file of hand-collected posts, or one URL/text reported from the web UI.

Both go through `pipeline.ingest`, the one write path, so imported and reported items are
normalised, deduplicated, clustered and scored exactly like crawled ones. A reported URL is
fetched through the same Fetcher as any source: an address on the internal network is refused
(the web form is the classic server-side request forgery door).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from db.items import find_existing
from db.sources import ensure_source, get_source
from monitor.config import Settings
from monitor.crawl.fetch import Fetcher, FetchError
from monitor.crawl.sources import article, files
from monitor.domain import RawItem
from monitor.pipeline import ingest, normalise
from monitor.pipeline.flag_budget import FlagBudget, from_settings
from monitor.pipeline.signals import jurisdiction_of
from monitor.text.charset import decode_bytes

REPORT_SOURCE = "web-report"
IMPORT_SOURCE = "manual-import"
MAX_REPORT_TEXT = 50_000


@dataclass
class ImportResult:
    rows: int = 0
    new: int = 0
    seen: int = 0
    flagged: int = 0
    errors: list[str] = field(default_factory=list)
    by_source: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ReportResult:
    item_id: int | None
    new: bool
    flagged: bool = False
    error: str | None = None  # why the page could not be read (the report is still stored)

    def to_dict(self) -> dict:
        return asdict(self)


def _source_row(database: sqlite_utils.Database, name: str, kind: str, url: str) -> dict:
    source_id = ensure_source(database, name, kind, url)
    return dict(get_source(database, source_id))


def import_file(database: sqlite_utils.Database, path: str | Path, scorer: Any, *,
                default_source: str = IMPORT_SOURCE, timezone: str | None = None,
                flag_budget: FlagBudget | None = None, jurisdiction: frozenset[str] = frozenset()) -> ImportResult:
    """Import a CSV/JSONL file: each `source` value becomes (or reuses) a source of kind 'import'.

    Rows that name their item kind (`kind`: post, article or comment, carried in RawItem.extra) are
    scored with that kind's calibration; the others as posts, like every imported source.
    `flag_budget` (settings.flag_budget) flags them under the same daily budget as crawled items, and
    `jurisdiction` (signals.jurisdiction_of) marks those about the committee's province as crawled ones are."""
    rows = files.read_rows(path, default_source)
    result = ImportResult(rows=rows.rows, errors=list(rows.errors))
    for name, raws in rows.items.items():
        row = _source_row(database, name, "import", f"file:{Path(path).name}")
        if timezone:
            row["timezone"] = timezone
        result.by_source[name] = 0
        for kind, group in _by_kind(raws).items():
            ingested = ingest(database, {**row, "content_kind": kind}, group, scorer, flag_budget,
                              jurisdiction=jurisdiction)
            result.new += ingested.new
            result.seen += ingested.seen
            result.flagged += ingested.flagged
            result.by_source[name] += ingested.new
    return result


def _by_kind(raws: list[RawItem]) -> dict[str | None, list[RawItem]]:
    """One source's rows split by their item kind (None: not given), in file order within each kind:
    ingest scores a batch with one kind per source."""
    groups: dict[str | None, list[RawItem]] = {}
    for raw in raws:
        groups.setdefault(raw.extra.get("kind") or None, []).append(raw)
    return groups


def _title_of(html: str) -> str:
    from monitor.text.html import parse_html

    soup = parse_html(html[:200_000])
    for selector, attribute in (('meta[property="og:title"]', "content"), ("title", None), ("h1", None)):
        node = soup.select_one(selector)
        if node is not None:
            value = node.get(attribute) if attribute else node.get_text(" ", strip=True)
            if value:
                return str(value).strip()
    return ""


def submit_report(database: sqlite_utils.Database, scorer: Any, settings: Settings, *, url: str | None = None,
                  text: str | None = None, submitted_by: str | None = None,
                  fetcher: Fetcher | None = None) -> ReportResult:
    """Store a suspicious link or pasted text reported by a user; return the item (new or already known).

    The URL's page is fetched and its main text extracted; when that fails the report is stored
    anyway with what the user gave, and `error` says why the page could not be read.
    """
    url = (url or "").strip() or None
    text = (text or "").strip()[:MAX_REPORT_TEXT]
    if not url and not text:
        raise ValueError("give a link or paste the text of the post")
    if url and not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) link: {url}")
    title, body, error, published = "", text, None, None
    if url:
        own = fetcher is None
        fetcher = fetcher or Fetcher(settings)
        try:
            page = fetcher.fetch(url, accept="text/html,application/xhtml+xml,*/*;q=0.5",
                                 max_bytes=min(settings.max_body_bytes, 5 * 1024 * 1024))
            html = decode_bytes(page.body, page.charset)
            title = _title_of(html)
            extracted, published = article.extract(html, page.final_url)
            if extracted and not text:
                body = extracted
            elif extracted:
                body = f"{text}\n\n{extracted}"
        except FetchError as exc:
            error = exc.reason
        finally:
            if own:
                fetcher.close()
        if not title and not body:
            title = url
    guid = url or "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()
    raw = RawItem(guid=guid, title=title, text=body, url=url, author=submitted_by, published=published)
    row = _source_row(database, REPORT_SOURCE, "report", "web:report")
    ingested = ingest(database, row, [raw], scorer, from_settings(settings), jurisdiction=jurisdiction_of(settings))
    if ingested.new_ids:
        return ReportResult(item_id=ingested.new_ids[0], new=True, flagged=bool(ingested.flagged), error=error)
    item = normalise(raw, zone=settings.timezone)
    existing = find_existing(database.conn, row["id"], item.guid, item.canonical_url, item.content_hash)
    return ReportResult(item_id=existing, new=False, error=error)
