"""Source parsers: one module per kind, each `parse(result, source) -> list[RawItem]`.

Parsers never touch the network or the database, so they are tested on recorded bytes.
A response that is not what the kind expects raises `ParseError` with a reason, which the
crawl records on the source (a 404 HTML page is an error, not "0 new items").
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType


class ParseError(ValueError):
    """The fetched bytes are not what this source kind reads; the message names what was found."""


class Parsed(list):
    """Items a parser found, plus a warning when it had to recover from a malformed document."""

    def __init__(self, items=(), warning: str | None = None):
        super().__init__(items)
        self.warning = warning


def parser_for(kind: str) -> ModuleType:
    """The module that reads a source kind (rss, html, mastodon, bluesky, telegram)."""
    if kind not in ("rss", "html", "mastodon", "bluesky", "telegram"):
        raise KeyError(f"no parser for source kind '{kind}'")
    return import_module(f"monitor.sources.{kind}")
