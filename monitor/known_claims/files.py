"""`monitor claims import FILE`: a CSV or JSONL of debunked claims, one per row.

Columns: `claim` (the claim's text), `url` (the rebuttal, http or https), `verdict` (as the fact-checker
words it: "Sai sự thật", "False"), optional `language` (vi, en, fr...), `date` (ISO 8601 or dd/mm/yyyy)
and `publisher`. A bad row is reported with its line and field and the others are imported; a row the CSV
reader cannot parse (a field past its size limit) is one of those. A file that is no text at all (binary,
a device, larger than MAX_FILE_BYTES) is refused whole, in one line, before anything is read into the
library.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from db.known_claims import NewClaim
from monitor.crawl.sources.html import parse_loose_date
from monitor.text.charset import decode_bytes
from monitor.text.times import parse_time

REQUIRED = ("claim", "url", "verdict")
OPTIONAL = ("language", "date", "publisher")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z]{2,4})?$")
MAX_CLAIM = 2000
MAX_VERDICT = 200
MAX_FILE_BYTES = 200 * 1024 * 1024  # a million claims is ~150 MB of CSV; more is not a claims file


class NotClaimsFile(ValueError):
    """The file cannot be a claims file at all (a folder, a device, binary, too large): one line says why."""


@dataclass
class ClaimRows:
    """The rows read from a file: claims to add, one message per rejected row, how many rows there were."""

    claims: list[NewClaim] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rows: int = 0


def _value(row: dict, name: str) -> str:
    value = row.get(name)
    return value.strip() if isinstance(value, str) else ""


def claim_of_row(row: dict, where: str, origin: str = "import") -> tuple[NewClaim | None, str | None]:
    """One row as a claim, or the message naming its line and the field at fault."""
    row = {str(k).strip().lower().lstrip("\ufeff"): v for k, v in row.items() if k is not None}
    for name in (*REQUIRED, *OPTIONAL):  # JSON may hold numbers, lists, objects: "5" is no claim, nor a verdict
        if row.get(name) is not None and not isinstance(row[name], str):
            return None, f"{where}: field '{name}' must be text, got {type(row[name]).__name__}"
    for name in REQUIRED:
        if not _value(row, name):
            return None, f"{where}: field '{name}' is missing or empty"
    text, url, verdict = _value(row, "claim"), _value(row, "url"), _value(row, "verdict")
    if len(text) > MAX_CLAIM:
        return None, f"{where}: field 'claim' is longer than {MAX_CLAIM} characters"
    if not url.lower().startswith(("http://", "https://")) or any(c.isspace() for c in url):
        return None, f"{where}: field 'url': {url[:80]!r} is not an http(s) URL"
    if len(verdict) > MAX_VERDICT:
        return None, f"{where}: field 'verdict' is longer than {MAX_VERDICT} characters"
    language = _value(row, "language").lower() or None
    if language and not _LANGUAGE.match(language):
        return None, f"{where}: field 'language': {language[:20]!r} is not a language code (vi, en, fr...)"
    raw_date, claim_date = _value(row, "date"), None
    if raw_date:
        moment = parse_time(raw_date) or parse_loose_date(raw_date)
        if moment is None:
            return None, f"{where}: field 'date': {raw_date[:40]!r} is not a date (use ISO 8601 or dd/mm/yyyy)"
        claim_date = moment.date().isoformat()
    return NewClaim(text=text, verdict=verdict, origin=origin, url=url, language=language, claim_date=claim_date,
                    publisher=_value(row, "publisher") or None), None


def read_claims(path: str | Path) -> ClaimRows:
    """Parse a .csv or .jsonl file of claims (the format from the extension, else from the content)."""
    path = Path(path)
    text = _text_of(path)
    result = ClaimRows()
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith("{"):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except ValueError as exc:
                result.rows += 1
                result.errors.append(f"{where}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                result.rows += 1
                result.errors.append(f"{where}: expected a JSON object per line")
                continue
            _add(result, row, where)
        return result
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        result.errors.append(f"{path}:1: the header row is not readable CSV ({exc})")
        return result
    if not fieldnames:
        result.errors.append(f"{path}:1: empty file or no header row")
        return result
    missing = [name for name in REQUIRED if name not in {str(f).strip().lower().lstrip("\ufeff") for f in reader.fieldnames}]
    if missing:
        result.errors.append(f"{path}:1: no column {', '.join(repr(m) for m in missing)} in the header row"
                             f" (expected {', '.join(REQUIRED)}; optional {', '.join(OPTIONAL)})")
        return result
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return result
        except csv.Error as exc:  # e.g. a field past the reader's size limit: that row, not the whole file
            result.rows += 1
            result.errors.append(f"{path}:{reader.reader.line_num}: not a readable CSV row ({exc})")
            continue
        _add(result, row, f"{path}:{reader.line_num}")


def _text_of(path: Path) -> str:
    """The file's text (charset detected as for a crawled page), or NotClaimsFile saying why it is none."""
    if path.is_dir():
        raise NotClaimsFile(f"{path} is a folder; give a .csv or .jsonl file")
    if path.exists() and not path.is_file():
        raise NotClaimsFile(f"{path} is not a regular file; give a .csv or .jsonl file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise NotClaimsFile(f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it")
    data = path.read_bytes()
    text = decode_bytes(data)
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\n\r")
    if "\x00" in text or controls > len(text[:65536]) // 100:
        raise NotClaimsFile(f"{path} is not a text file (binary content); give a UTF-8 .csv or .jsonl file")
    return text


def _add(result: ClaimRows, row: dict, where: str) -> None:
    result.rows += 1
    claim, error = claim_of_row(row, where)
    if error:
        result.errors.append(error)
    else:
        result.claims.append(claim)
