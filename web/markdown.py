"""A small Markdown renderer for the model cards (classifiers/card.py writes them): headings, paragraphs,
lists, pipe tables, fenced code and inline `code`, **bold**, *emphasis* and [links](https://…).

No Markdown library is installed and the cards use only this subset. By default every text is HTML-escaped
(the API docs: a `<b>` in the spec is shown as written). With `raw_html`, HTML in the text passes through as
in CommonMark (a card written as HTML keeps its formatting). Either way the result goes through the nh3
allow-list (web.render.sanitize) before a template shows it, so a card is never trusted: a `<script>` is
dropped, an `onerror` or a `javascript:` href is removed; code spans and blocks are always escaped.
"""

from __future__ import annotations

import html
import re

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|(\d+)[.)])\s+(.*)$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^\s)]+)\)")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_HTML_BLOCK = re.compile(r"^\s*</?[A-Za-z][A-Za-z0-9-]*[\s>/]")


def to_html(text: str | None, *, heading_offset: int = 0, raw_html: bool = False) -> str:
    """The text as HTML; `heading_offset` moves headings down (a card's `#` under the page's own h2),
    `raw_html` lets HTML in the text through (see the module docstring)."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
        elif line.lstrip().startswith("```"):
            index = _code_block(lines, index, out)
        elif heading := _HEADING.match(line):
            level = min(len(heading.group(1)) + heading_offset, 6)
            out.append(f"<h{level}>{inline(heading.group(2), raw_html=raw_html)}</h{level}>")
            index += 1
        elif line.lstrip().startswith("|") and index + 1 < len(lines) and _TABLE_RULE.match(lines[index + 1]):
            index = _table(lines, index, out, raw_html)
        elif _LIST_ITEM.match(line):
            index = _list(lines, index, out, raw_html)
        elif raw_html and _HTML_BLOCK.match(line):
            index = _html_block(lines, index, out)
        else:
            index = _paragraph(lines, index, out, raw_html)
    return "\n".join(out)


def inline(text: str, *, raw_html: bool = False) -> str:
    """Escape (unless `raw_html`), then mark up: `code` spans first (always escaped, nothing inside them
    formatted), then links (http and https only), bold, emphasis."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick stays a backtick
        parts[-2:] = ["`".join(parts[-2:])]
    rendered = []
    for number, part in enumerate(parts):
        if number % 2:
            rendered.append(f"<code>{html.escape(part)}</code>")
            continue
        if raw_html:
            part = _LINK.sub(lambda m: f'<a href="{html.escape(m.group(2), quote=True)}">{m.group(1)}</a>', part)
        else:
            part = html.escape(part, quote=True)
            part = _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', part)
        part = _STRONG.sub(r"<strong>\1</strong>", part)
        rendered.append(_EMPHASIS.sub(r"<em>\1</em>", part))
    return "".join(rendered)


def _code_block(lines: list[str], index: int, out: list[str]) -> int:
    body = []
    index += 1
    while index < len(lines) and not lines[index].lstrip().startswith("```"):
        body.append(lines[index])
        index += 1
    out.append(f"<pre><code>{html.escape(chr(10).join(body))}</code></pre>")
    return index + 1


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [cell.strip() for cell in line.split("|")]


def _table(lines: list[str], index: int, out: list[str], raw_html: bool) -> int:
    head = "".join(f"<th>{inline(cell, raw_html=raw_html)}</th>" for cell in _cells(lines[index]))
    rows = []
    index += 2
    while index < len(lines) and lines[index].lstrip().startswith("|"):
        rows.append("<tr>" + "".join(f"<td>{inline(cell, raw_html=raw_html)}</td>" for cell in _cells(lines[index]))
                    + "</tr>")
        index += 1
    out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return index


def _list(lines: list[str], index: int, out: list[str], raw_html: bool) -> int:
    ordered = bool(_LIST_ITEM.match(lines[index]).group(1))  # type: ignore[union-attr]
    items: list[str] = []
    while index < len(lines):
        match = _LIST_ITEM.match(lines[index])
        if match:
            items.append(match.group(2))
        elif lines[index].startswith((" ", "\t")) and lines[index].strip() and items:
            items[-1] += " " + lines[index].strip()  # a wrapped item continues indented
        else:
            break
        index += 1
    tag = "ol" if ordered else "ul"
    out.append(f"<{tag}>" + "".join(f"<li>{inline(item, raw_html=raw_html)}</li>" for item in items) + f"</{tag}>")
    return index


def _html_block(lines: list[str], index: int, out: list[str]) -> int:
    """Raw HTML up to the next blank line, as CommonMark passes it (nh3 then decides what stays)."""
    body = []
    while index < len(lines) and lines[index].strip():
        body.append(lines[index])
        index += 1
    out.append("\n".join(body))
    return index


def _paragraph(lines: list[str], index: int, out: list[str], raw_html: bool) -> int:
    body = [lines[index].strip()]  # the first line always: whatever did not start a block starts a paragraph
    index += 1
    while index < len(lines) and lines[index].strip() and not (
            lines[index].lstrip().startswith(("```", "|")) or _HEADING.match(lines[index])
            or _LIST_ITEM.match(lines[index])):
        body.append(lines[index].strip())
        index += 1
    out.append(f"<p>{inline(' '.join(body), raw_html=raw_html)}</p>")
    return index
