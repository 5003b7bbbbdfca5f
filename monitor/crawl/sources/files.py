"""Posts collected by hand: CSV or JSONL files with at least `text`, optionally url, author, time, source, title.

Every bad row is reported with the file and line and the rest still import, so a spreadsheet
with one broken line loses nothing but that line (and says which).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from monitor.crawl.sources.html import parse_loose_date
from monitor.domain import RawItem
from monitor.text.charset import decode_bytes
from monitor.text.times import parse_time

TEXT_FIELDS = ("text", "content", "body", "message", "noi_dung")
URL_FIELDS = ("url", "link", "href")
TIME_FIELDS = ("time", "published", "published_at", "date", "created_at", "thoi_gian")
AUTHOR_FIELDS = ("author", "user", "account", "tac_gia")
SOURCE_FIELDS = ("source", "platform", "nguon")


@dataclass
class FileRows:
    """Raw items grouped by source name, plus one message per rejected line."""

    items: dict[str, list[RawItem]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    rows: int = 0


def _pick(row: dict, names: tuple[str, ...]) -> str:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def _row_item(row: dict, where: str) -> tuple[RawItem | None, str | None]:
    row = {str(k).strip().lower().lstrip("\ufeff"): v for k, v in row.items() if k is not None}
    text = _pick(row, TEXT_FIELDS)
    title = _pick(row, ("title", "tieu_de"))
    if not text and not title:
        return None, f"{where}: no text (expected a column named one of: {', '.join(TEXT_FIELDS)})"
    url = _pick(row, URL_FIELDS) or None
    if url and not url.startswith(("http://", "https://")):
        return None, f"{where}: url {url!r} is not an http(s) URL"
    raw_time = _pick(row, TIME_FIELDS)
    published = None
    if raw_time:
        published = parse_time(raw_time) or parse_loose_date(raw_time)
        if published is None:
            return None, f"{where}: time {raw_time!r} is not a date (use ISO 8601 or dd/mm/yyyy HH:MM)"
    from classifiers.model import KINDS

    kind = _pick(row, ("kind", "loai")).lower()
    if kind and kind not in KINDS:
        return None, f"{where}: field 'kind': unknown kind {kind!r} (expected one of: {', '.join(KINDS)})"
    guid = _pick(row, ("id", "guid")) or url or "sha256:" + hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
    return RawItem(guid=guid, title=title, text=text, url=url, author=_pick(row, AUTHOR_FIELDS) or None,
                   published=published, language=_pick(row, ("language", "lang")) or None,
                   extra={"kind": kind} if kind else {}), None


def read_rows(path: str | Path, default_source: str = "manual-import") -> FileRows:
    """Parse a .csv or .jsonl/.ndjson file; the format comes from the extension, else from the content."""
    path = Path(path)
    text = decode_bytes(path.read_bytes())
    result = FileRows()
    is_json = path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith("{")
    if is_json:
        numbered = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
        for number, line in numbered:
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except ValueError as exc:
                result.errors.append(f"{where}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                result.errors.append(f"{where}: expected a JSON object per line")
                continue
            _add(result, row, where, default_source)
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            result.errors.append(f"{path}:1: empty file or no header row")
            return result
        for row in reader:
            _add(result, row, f"{path}:{reader.line_num}", default_source)
    return result


def _add(result: FileRows, row: dict, where: str, default_source: str) -> None:
    result.rows += 1
    item, error = _row_item(row, where)
    if error:
        result.errors.append(error)
        return
    lowered = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    source = _pick(lowered, SOURCE_FIELDS) or default_source
    result.items.setdefault(source, []).append(item)
