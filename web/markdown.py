"""Markdown for the model cards (classifiers/card.py writes them) and the API docs' descriptions:
markdown-it-py, CommonMark with pipe tables.

By default HTML in the text is escaped (the API docs: a `<b>` in the spec is shown as written). With
`raw_html`, HTML passes through as CommonMark allows (a card written as HTML keeps its formatting). Either way
the result goes through the nh3 allow-list (web.render.sanitize) before a template shows it, so a card is never
trusted: a `<script>` is dropped and an `onerror` removed; markdown-it itself refuses `javascript:` links, and
code spans and blocks are always escaped.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

_ESCAPED = MarkdownIt("commonmark", {"html": False}).enable("table")
_RAW_HTML = MarkdownIt("commonmark", {"html": True}).enable("table")


def to_html(text: str | None, *, heading_offset: int = 0, raw_html: bool = False) -> str:
    """The text as HTML; `heading_offset` moves headings down (a card's `#` under the page's own h2),
    `raw_html` lets HTML in the text through (see the module docstring)."""
    md = _RAW_HTML if raw_html else _ESCAPED
    tokens = md.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + heading_offset, 6)}"
    return md.renderer.render(tokens, md.options, {})


def inline(text: str | None, *, raw_html: bool = False) -> str:
    """One line of Markdown (code, emphasis, links) as HTML, without a paragraph around it."""
    return (_RAW_HTML if raw_html else _ESCAPED).renderInline(text or "")
