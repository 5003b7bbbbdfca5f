"""Source parsers: one module per kind, each `parse(result, source) -> list[RawItem]`.

Parsers never touch the network or the database, so they are tested on recorded bytes.
A response that is not what the kind expects raises `ParseError` with a reason, which the
crawl records on the source (a 404 HTML page is an error, not "0 new items").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from importlib import import_module
from types import ModuleType
from typing import Any

from monitor.crawl.response import FetchError, FetchResult
from monitor.domain import SOURCE_KINDS


class ParseError(ValueError):
    """The fetched bytes are not what this source kind reads; the message names what was found."""


class Parsed(list):
    """Items a parser found, plus a warning when it had to recover from a malformed document.

    The crawl records the warning on the run and the source stays "ok": something was read, and
    what could not be (a malformed part, an article page, a later page) is said, not hidden.
    `ttl_seconds` is the document's own "poll me at most this often" (an RSS <ttl>), a hint the
    crawl hands on to the scheduler.
    """

    def __init__(self, items=(), warning: str | None = None, ttl_seconds: int | None = None):
        super().__init__(items)
        self.warning = warning
        self.ttl_seconds = ttl_seconds

    def note(self, warning: str) -> None:
        """Add a partial failure to the warning, after any earlier one."""
        self.warning = f"{self.warning}; {warning}" if self.warning else warning


def walk_pages(fetcher: Any, first: FetchResult, items: list, pages: int,
               next_url: Callable[[FetchResult], str | None], parse_page: Callable[[FetchResult], list],
               **fetch_options: Any) -> tuple[FetchResult, Parsed]:
    """Follow a paged source from its `first` page (already parsed into `items`) up to `pages` pages.

    A later page that cannot be fetched or read ends the walk without losing the pages before it:
    their items are kept, the failure is noted on them (the run shows it, the source stays "ok"),
    and the first page comes back without its cache validators (ETag, Last-Modified, body), so the
    next pass does not take an unchanged first page for "nothing new" and walks every page again.
    """
    items = items if isinstance(items, Parsed) else Parsed(items)
    page = first
    for number in range(2, pages + 1):
        following = next_url(page)
        if not following:
            break
        try:
            page = fetcher.fetch(following, **fetch_options)
            more = parse_page(page)
        except (FetchError, ParseError) as exc:
            where = "" if following in str(exc) else f" ({following})"
            items.note(f"page {number} not read, {len(items)} items from earlier pages kept: {exc}{where}")
            headers = {k: v for k, v in first.headers.items() if k not in ("etag", "last-modified")}
            return replace(first, headers=headers, body=b""), items
        if not more:
            break
        items.extend(more)
    return first, items


def json_body(result: FetchResult | bytes, api: str) -> object:
    """The JSON document of an API response (a BOM tolerated), or ParseError naming the API."""
    body = result.body if isinstance(result, FetchResult) else bytes(result)
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"not a {api} API response: invalid JSON ({str(exc)[:100]})") from None


def parser_for(kind: str) -> ModuleType:
    """The module that reads a source kind (one of `SOURCE_KINDS`: monitor/crawl/sources/<kind>.py)."""
    if kind not in SOURCE_KINDS:
        raise KeyError(f"no parser for source kind '{kind}'")
    return import_module(f"monitor.crawl.sources.{kind}")
