"""Listing pages without feeds: CSS selectors from feeds.yaml pick items, titles, links and dates.

    - name: baothanhhoa-thoi-su
      kind: html
      url: https://baothanhhoa.vn/thoi-su
      selectors: {item: "article.story", title: "h3 a", link: "h3 a", date: "time", text: ".sapo"}

`link` takes the element's href (relative links resolved against the page), `date` its
`datetime`/`title`/`content` attribute or text (ISO, RFC 822 or Vietnamese "dd/mm/yyyy HH:MM").
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from soupsieve import SelectorSyntaxError

from monitor.crawl.response import FetchResult
from monitor.crawl.sources import Parsed, ParseError
from monitor.domain import RawItem
from monitor.text.charset import decode_bytes
from monitor.text.html import clean_text, parse_html
from monitor.text.times import parse_time

ACCEPT = "text/html,application/xhtml+xml"
RESPECT_ROBOTS = True
REQUIRED = ("item", "title", "link")
_VI_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:\D+(\d{1,2})[:hg](\d{2}))?")
_TIME_FIRST = re.compile(r"(\d{1,2})[:hg](\d{2})\D+(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


def parse_loose_date(text: str | None) -> datetime | None:
    """Dates as listing pages print them; naive unless a zone is given (the source zone applies)."""
    if not text:
        return None
    text = text.strip()
    moment = parse_time(text)
    if moment is not None:
        return moment
    match = _TIME_FIRST.search(text)
    if match:
        hour, minute, day, month, year = (int(g) for g in match.groups())
    else:
        match = _VI_DATE.search(text)
        if not match:
            return None
        day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        hour, minute = int(match.group(4) or 0), int(match.group(5) or 0)
    try:
        return datetime(year, month, day, hour, minute)
    except ValueError:
        return None


def _selectors(source: Any) -> dict[str, str]:
    options = getattr(source, "options", None) or {}
    selectors = options.get("selectors") if isinstance(options, dict) else None
    name = getattr(source, "name", "?")
    if not isinstance(selectors, dict) or any(not selectors.get(key) for key in REQUIRED):
        raise ParseError(f"html source '{name}' needs selectors with item, title and link"
                         " (and optionally date, text) in feeds.yaml")
    return {str(k): str(v) for k, v in selectors.items()}


def _select_one(node, selector: str | None):
    if not selector:
        return None
    return node if selector in (".", ":scope") else node.select_one(selector)


def parse(result: FetchResult, source: Any) -> list[RawItem]:
    selectors = _selectors(source)
    html = decode_bytes(result.body, result.charset)
    if not html.strip():
        raise ParseError("not an HTML page: empty body")
    soup = parse_html(html)
    try:
        nodes = soup.select(selectors["item"])
    except SelectorSyntaxError as exc:
        raise ParseError(f"bad CSS selector for item: {selectors['item']!r} ({exc})") from None
    if not nodes:
        raise ParseError(f"no element matches item selector {selectors['item']!r} on {result.final_url}"
                         " (page layout changed?)")
    items = []
    seen: set[str] = set()
    for node in nodes:
        try:
            title_node = _select_one(node, selectors["title"])
            link_node = _select_one(node, selectors["link"])
            date_node = _select_one(node, selectors.get("date"))
            text_node = _select_one(node, selectors.get("text"))
        except SelectorSyntaxError as exc:
            raise ParseError(f"bad CSS selector in selectors: {exc}") from None
        href = link_node.get("href") if link_node is not None else None
        if not href or href.startswith(("javascript:", "#", "mailto:")):
            continue
        url = urljoin(result.final_url, href.strip())
        if url in seen:
            continue
        seen.add(url)
        title = clean_text(title_node.get_text(" ")) if title_node is not None else ""
        if not title and title_node is not None:
            title = clean_text(title_node.get("title") or "")
        text = clean_text(text_node.get_text("\n")) if text_node is not None else ""
        published = None
        if date_node is not None:
            published = parse_loose_date(date_node.get("datetime") or date_node.get("content")
                                         or date_node.get("title") or date_node.get_text(" "))
        if title or text:
            items.append(RawItem(guid=url, title=title, text=text, url=url, published=published))
    return Parsed(items)
