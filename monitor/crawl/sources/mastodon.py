"""Mastodon public timelines (hashtag or account) through the JSON API, with Link-header pagination.

`url` in feeds.yaml may be the page a person sees or the API URL:
  https://mastodon.social/tags/vietnam            → /api/v1/timelines/tag/vietnam
  https://mastodon.social/@someone                → /api/v1/accounts/lookup, then /accounts/:id/statuses
  https://mastodon.social/api/v1/timelines/...    → used as is
`max_pages` (default 1) follows `Link: <…>; rel="next"` for older posts.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from monitor.crawl.fetch import FetchResult
from monitor.crawl.sources import Parsed, ParseError, json_body, walk_pages
from monitor.domain import RawItem
from monitor.text.html import html_to_text
from monitor.text.times import parse_time

ACCEPT = "application/json"
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def api_url(url: str) -> tuple[str, str | None]:
    """(API URL, account to look up first or None) for a Mastodon URL."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    path = parts.path.rstrip("/")
    if path.startswith("/api/"):
        return url, None
    match = re.fullmatch(r"/tags/([^/]+)", path)
    if match:
        return f"{base}/api/v1/timelines/tag/{match.group(1)}?limit=40", None
    match = re.fullmatch(r"/@([^/]+)", path)
    if match:
        return f"{base}/api/v1/accounts/lookup?acct={quote(match.group(1))}", match.group(1)
    if path in ("", "/public", "/public/local"):
        return f"{base}/api/v1/timelines/public?limit=40" + ("&local=true" if path.endswith("local") else ""), None
    raise ParseError(f"not a Mastodon timeline URL: {url} (use https://host/tags/NAME or https://host/@user)")


def next_page(result: FetchResult) -> str | None:
    match = _LINK_NEXT.search(result.headers.get("link", ""))
    return match.group(1) if match else None


def status_item(status: dict) -> RawItem | None:
    """One status as a raw item; a boost becomes the boosted post (the story), noting who boosted it."""
    if not isinstance(status, dict):
        return None
    extra: dict[str, Any] = {}
    if isinstance(status.get("reblog"), dict):
        extra["boosted_by"] = (status.get("account") or {}).get("acct")
        status = status["reblog"]
    parts = []
    if status.get("spoiler_text"):
        parts.append(f"<p>{status['spoiler_text']}</p>")
    parts.append(status.get("content") or "")
    for media in status.get("media_attachments") or []:
        if isinstance(media, dict) and media.get("description"):
            parts.append(f"<p>[{media.get('type', 'media')}: {media['description']}]</p>")
    card = status.get("card")
    if isinstance(card, dict) and card.get("title"):
        parts.append(f"<p>{card['title']}</p>")
        extra["link"] = card.get("url")
    text = "\n".join(parts)
    if not html_to_text(text):
        return None
    account = status.get("account") or {}
    url = status.get("url") or status.get("uri")
    return RawItem(guid=str(status.get("uri") or url or status.get("id")), title="", text=text, url=url,
                   author=account.get("acct") or account.get("username"),
                   published=parse_time(status.get("created_at")), language=status.get("language"), extra=extra)


def parse(result: FetchResult | bytes, source: Any = None) -> list[RawItem]:
    """Statuses of a timeline page (a JSON list), or of a single status / a context object."""
    data = json_body(result, "Mastodon")
    if isinstance(data, dict) and "error" in data:
        raise ParseError(f"Mastodon API error: {data['error']}")
    if isinstance(data, dict) and ("ancestors" in data or "descendants" in data):
        statuses = list(data.get("ancestors") or []) + list(data.get("descendants") or [])
    elif isinstance(data, dict) and "content" in data:
        statuses = [data]
    elif isinstance(data, list):
        statuses = data
    else:
        raise ParseError("not a Mastodon timeline: expected a JSON list of statuses")
    return Parsed([item for item in (status_item(s) for s in statuses) if item is not None])


def collect(fetcher, source, row: dict) -> tuple[FetchResult, list[RawItem] | None]:
    """Fetch the timeline (account lookup first if needed) and up to max_pages pages (a later page that
    fails keeps the earlier ones: `walk_pages`)."""
    url, account = api_url(source.url)
    if account is not None:
        lookup = fetcher.fetch(url, accept=ACCEPT)
        try:
            account_id = json.loads(lookup.body)["id"]
        except (ValueError, KeyError, TypeError):
            raise ParseError(f"Mastodon account {account} not found at {url}") from None
        parts = urlsplit(url)
        url = f"{parts.scheme}://{parts.netloc}/api/v1/accounts/{account_id}/statuses?limit=40&exclude_replies=true"
    first = fetcher.fetch(url, etag=row.get("etag"), last_modified=row.get("last_modified"), accept=ACCEPT)
    if first.not_modified or (row.get("body_hash") and row["body_hash"] == first.body_hash):
        first.not_modified = True
        return first, None
    return walk_pages(fetcher, first, parse(first, source), int(source.options.get("max_pages") or 1), next_page,
                      lambda page: parse(page, source), accept=ACCEPT)
