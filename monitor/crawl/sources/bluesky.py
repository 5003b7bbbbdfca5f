"""Bluesky public author feed through the public AppView API (no login).

`url` may be a profile page (https://bsky.app/profile/HANDLE) or the XRPC URL
(https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed?actor=HANDLE).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from monitor.crawl.fetch import FetchResult
from monitor.crawl.sources import Parsed, ParseError, json_body
from monitor.domain import RawItem
from monitor.text.times import parse_time

ACCEPT = "application/json"
PUBLIC_API = "https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed"


def api_url(url: str) -> str:
    parts = urlsplit(url)
    if "/xrpc/" in parts.path:
        return url
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) >= 2 and segments[0] == "profile":
        return f"{PUBLIC_API}?actor={quote(segments[1])}&limit=50&filter=posts_no_replies"
    raise ParseError(f"not a Bluesky profile URL: {url} (use https://bsky.app/profile/HANDLE)")


def post_url(post: dict) -> str | None:
    uri = post.get("uri") or ""
    handle = (post.get("author") or {}).get("handle")
    if uri.startswith("at://") and "/app.bsky.feed.post/" in uri and handle:
        return f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[1]}"
    return None


def parse(result: FetchResult | bytes, source: Any = None) -> list[RawItem]:
    data = json_body(result, "Bluesky")
    if not isinstance(data, dict) or not isinstance(data.get("feed"), list):
        message = data.get("message") if isinstance(data, dict) else None
        raise ParseError(f"not a Bluesky author feed{': ' + message if message else ''}")
    items = []
    for entry in data["feed"]:
        post = entry.get("post") if isinstance(entry, dict) else None
        if not isinstance(post, dict):
            continue
        record = post.get("record") or {}
        text = record.get("text") or ""
        embed = post.get("embed") or {}
        external = embed.get("external") if isinstance(embed, dict) else None
        if isinstance(external, dict) and external.get("title"):
            text += f"\n{external['title']}\n{external.get('description', '')}"
        if not text.strip():
            continue
        author = post.get("author") or {}
        reason = entry.get("reason") or {}
        extra = {"reposted_by": (reason.get("by") or {}).get("handle")} if "Repost" in str(reason.get("$type")) else {}
        langs = record.get("langs") or []
        items.append(RawItem(guid=post.get("uri") or post.get("cid") or text[:64], title="", text=text,
                             url=post_url(post), author=author.get("handle"),
                             published=parse_time(record.get("createdAt") or post.get("indexedAt")),
                             language=langs[0] if langs else None, extra=extra))
    return Parsed(items)


def collect(fetcher, source, row: dict) -> tuple[FetchResult, list[RawItem] | None]:
    url = api_url(source.url)
    result = fetcher.fetch(url, etag=row.get("etag"), last_modified=row.get("last_modified"), accept=ACCEPT)
    if result.not_modified or (row.get("body_hash") and row["body_hash"] == result.body_hash):
        result.not_modified = True
        return result, None
    return result, parse(result, source)
