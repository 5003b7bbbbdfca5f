"""Public Telegram channels through their web preview page, https://t.me/s/<channel>.

The preview lists the latest ~20 posts as HTML (`tgme_widget_message`); service messages
("channel created", "pinned …") are not posts and are skipped.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from monitor.crawl.fetch import FetchResult
from monitor.crawl.sources import Parsed, ParseError, walk_pages
from monitor.domain import RawItem
from monitor.text.charset import decode_bytes
from monitor.text.html import clean_text, parse_html
from monitor.text.times import parse_time

ACCEPT = "text/html"
RESPECT_ROBOTS = True


def page_url(url: str) -> str:
    """https://t.me/name or t.me/s/name → the preview page https://t.me/s/name."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0] == "s":
        segments = segments[1:]
    if not segments or not re.fullmatch(r"[A-Za-z0-9_]{3,64}", segments[0]):
        raise ParseError(f"not a Telegram channel URL: {url} (use https://t.me/s/CHANNEL)")
    return f"{parts.scheme}://{parts.netloc}/s/{segments[0]}"


def _text(node) -> str:
    if node is None:
        return ""
    for br in node.find_all("br"):
        br.replace_with("\n")
    for emoji in node.select("i.emoji"):
        emoji.replace_with(emoji.get_text())
    return clean_text(node.get_text())


def parse(result: FetchResult | bytes, source: Any = None) -> list[RawItem]:
    if isinstance(result, FetchResult):
        html = decode_bytes(result.body, result.charset)
    else:
        html = decode_bytes(bytes(result))
    soup = parse_html(html)
    messages = soup.select(".tgme_widget_message[data-post]")
    if not messages and not soup.select(".tgme_channel_info, .tgme_no_messages_wrap, .tme_no_messages_found"):
        raise ParseError("not a Telegram channel page: no tgme_widget_message posts")
    items = []
    for message in messages:
        if "service_message" in (message.get("class") or []):
            continue
        post = message["data-post"]
        channel, _, number = post.partition("/")
        text_node = message.select_one(".tgme_widget_message_text")
        text = _text(text_node)
        preview = message.select_one(".link_preview_title")
        if preview is not None and not text:
            text = _text(preview)
        if not text:
            continue  # stickers, bare photos, polls without a question: nothing to read
        when = message.select_one(".tgme_widget_message_date time[datetime]") or message.select_one("time[datetime]")
        signed = message.select_one(".tgme_widget_message_from_author")
        owner = message.select_one(".tgme_widget_message_owner_name")
        forwarded = message.select_one(".tgme_widget_message_forwarded_from_name")
        views = message.select_one(".tgme_widget_message_views")
        meta = message.select_one(".tgme_widget_message_meta")
        extra = {"channel": channel, "views": views.get_text(strip=True) if views else None,
                 "edited": bool(meta and "edited" in meta.get_text())}
        if forwarded is not None:
            extra["forwarded_from"] = forwarded.get_text(strip=True)
        items.append(RawItem(
            guid=f"https://t.me/{post}", title="", text=text, url=f"https://t.me/{channel}/{number}",
            author=(signed.get_text(strip=True) if signed else (owner.get_text(strip=True) if owner else channel)),
            published=parse_time(when["datetime"]) if when else None, extra=extra))
    return Parsed(items)


def older_page(result: FetchResult) -> str | None:
    """URL of the page of older posts (`?before=ID`), if the page links one."""
    soup = parse_html(decode_bytes(result.body, result.charset))
    more = soup.select_one("a.tme_messages_more[data-before]") or soup.select_one('link[rel="prev"][href]')
    if more is None:
        return None
    href = more.get("href") or f"?before={more['data-before']}"
    return urljoin(result.final_url, href)


def collect(fetcher, source, row: dict) -> tuple[FetchResult, list[RawItem] | None]:
    """The newest page, and with `max_pages` older ones too (`?before=`; a page that fails keeps the
    newer ones: `walk_pages`)."""
    url = page_url(source.url)
    result = fetcher.fetch(url, etag=row.get("etag"), last_modified=row.get("last_modified"), accept=ACCEPT,
                           check_robots=True)
    if result.not_modified or (row.get("body_hash") and row["body_hash"] == result.body_hash):
        result.not_modified = True
        return result, None
    return walk_pages(fetcher, result, parse(result, source), int(source.options.get("max_pages") or 1), older_page,
                      lambda page: parse(page, source), accept=ACCEPT, check_robots=True)
