"""HTML to clean text: the visible text of a fragment, paragraphs kept as lines, in NFC.

Every stored item's body and title go through `html_to_text` or `clean_text`; `parse_html` is the
one tolerant BeautifulSoup the source readers share.
"""

from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from lxml import etree
from lxml import html as lxml_html

from classifiers.text import nfc

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_BLANKS = re.compile(r"[ \t\u00a0\u200b]+")
_NEWLINES = re.compile(r"\n\s*\n+")
_DROPPED_TAGS = frozenset({"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head"})
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "article", "section")


def html_to_text(markup: str | None) -> str:
    """Visible text of an HTML fragment, paragraphs kept as lines; scripts and styles dropped.

    lxml does the parsing (C, ~10x BeautifulSoup's html.parser — this runs on every stored item);
    markup lxml refuses falls back to BeautifulSoup.
    """
    if not markup:
        return ""
    if "<" not in markup and "&" not in markup:
        return clean_text(markup)
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return _html_to_text_soup(markup)
    etree.strip_tags(root, etree.Comment, etree.ProcessingInstruction)  # keeps their tails
    parts: list[str] = []
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = element.tag.lower() if isinstance(element.tag, str) else None
        if event == "start":
            if tag is None or tag in _DROPPED_TAGS:
                walker.skip_subtree()  # its "end" event still comes, and emits the tail
                continue
            if tag in _BLOCK_TAGS:
                parts.append("\n")
            if element.text:
                parts.append(element.text)
        else:
            if tag in _BLOCK_TAGS:
                parts.append("\n")
            if element is not root and element.tail:
                parts.append(element.tail)
    return clean_text("".join(parts))


def parse_html(markup: str | bytes) -> BeautifulSoup:
    """BeautifulSoup with the stdlib parser (tolerant of anything a hostile page sends), without bs4's
    warnings for short markup that looks like a URL or a file name (a title often does) and for XML
    read as HTML (a reported link that turns out to be a feed: its text is still what we want)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(markup, "html.parser")


def _html_to_text_soup(markup: str) -> str:
    soup = parse_html(markup)
    for tag in soup(list(_DROPPED_TAGS)):
        tag.decompose()
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    return clean_text(soup.get_text())


def clean_text(text: str | None) -> str:
    """NFC, collapsed spaces, at most one blank line between paragraphs, no control characters."""
    if not text:
        return ""
    # Control characters go before NFC: one between a letter and its combining mark would otherwise
    # leave the pair decomposed once removed.
    text = nfc(_CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))
    # One substitution over the whole text (blanks never include a newline), then strip each line.
    text = _BLANKS.sub(" ", text)
    if "\n" not in text:
        return text.strip()
    return _NEWLINES.sub("\n\n", "\n".join([line.strip() for line in text.split("\n")])).strip()
