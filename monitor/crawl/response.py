"""What a fetch gives (FetchResult) or how it failed (FetchError), without the fetcher's network stack.

Parsers read these and nothing else of the fetcher, so the parse helper processes (monitor.crawl.offload)
import this module and not httpx; monitor.crawl.fetch re-exports both.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


class FetchError(Exception):
    """A fetch that failed, with a reason a person can act on ("HTTP 404 from https://…")."""

    def __init__(self, reason: str, *, status: int | None = None, url: str | None = None,
                 retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.url = url
        self.retry_after = retry_after


@dataclass
class FetchResult:
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float
    not_modified: bool = False
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None

    @property
    def body_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def cache_seconds(self) -> int | None:
        """How long the server says this response stays fresh: a polling hint for the scheduler."""
        return cache_seconds(self.headers)


_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.I)


def cache_seconds(headers: dict[str, str], now: datetime | None = None) -> int | None:
    """Freshness lifetime from Cache-Control max-age (or Expires − Date); None if the server says nothing."""
    lowered = {k.lower(): v for k, v in headers.items()}
    control = lowered.get("cache-control", "")
    if re.search(r"no-cache|no-store|must-revalidate", control, re.I) and "max-age" not in control.lower():
        return None
    match = _MAX_AGE.search(control)
    if match:
        return int(match.group(1)) or None
    if lowered.get("expires"):
        try:
            expires = parsedate_to_datetime(lowered["expires"])
            base = parsedate_to_datetime(lowered["date"]) if lowered.get("date") else (now or datetime.now(UTC))
            seconds = (expires - base).total_seconds()
        except (TypeError, ValueError, IndexError):
            return None
        return int(seconds) if seconds > 0 else None
    return None
