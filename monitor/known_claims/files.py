"""`monitor claims import FILE`: a CSV or JSONL of debunked claims, one per row.

Columns: `claim` (the claim's text), `url` (the rebuttal, http or https), `verdict` (as the fact-checker
words it: "Sai sự thật", "False"), optional `language` (vi, en, fr...), `date` (ISO 8601 or dd/mm/yyyy)
and `publisher`. A bad row is reported with its line and field and the others are imported.
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


@dataclass
class ClaimRows:
    """The rows read from a file: claims to add, one message per rejected row, how many rows there were."""

    claims: list[NewClaim] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rows: int = 0


def _value(row: dict, name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value).strip()


def claim_of_row(row: dict, where: str, origin: str = "import") -> tuple[NewClaim | None, str | None]:
    """One row as a claim, or the message naming its line and the field at fault."""
    row = {str(k).strip().lower().lstrip("\ufeff"): v for k, v in row.items() if k is not None}
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
    text = decode_bytes(path.read_bytes())
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
    if not reader.fieldnames:
        result.errors.append(f"{path}:1: empty file or no header row")
        return result
    missing = [name for name in REQUIRED if name not in {str(f).strip().lower().lstrip("\ufeff") for f in reader.fieldnames}]
    if missing:
        result.errors.append(f"{path}:1: no column {', '.join(repr(m) for m in missing)} in the header row"
                             f" (expected {', '.join(REQUIRED)}; optional {', '.join(OPTIONAL)})")
        return result
    for row in reader:
        _add(result, row, f"{path}:{reader.line_num}")
    return result


def _add(result: ClaimRows, row: dict, where: str) -> None:
    result.rows += 1
    claim, error = claim_of_row(row, where)
    if error:
        result.errors.append(error)
    else:
        result.claims.append(claim)
