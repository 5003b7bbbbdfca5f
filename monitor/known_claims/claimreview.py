"""schema.org ClaimReview, as fact-checkers publish it, read into claims for the library.

Fact-checkers (and Google's Fact Check Tools) mark a fact-check with JSON-LD:
``{"@type": "ClaimReview", "claimReviewed": "...", "reviewRating": {"alternateName": "Sai"}, "url": ...,
"author": {"name": ...}, "datePublished": ...}``, in a ``<script type="application/ld+json">`` of the
article page, or in a feed item's content. Objects are found anywhere in the JSON (top level, lists,
``@graph``, nested under ``review``); a review without ``claimReviewed`` text says nothing to match and
is skipped, as is one whose url is not http(s). The verdict is the rating's ``alternateName`` (the
fact-checker's own word), else its ``name``, else "ratingValue/bestRating".

The JSON comes from someone else's page, so everything is bounded: blocks and their size, nesting (JSON
nested deeper than Python's recursion limit is skipped, never raised into the crawl of the source),
reviews per page (MAX_REVIEWS), and the length of the verdict and the publisher.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

from db.known_claims import NewClaim
from monitor.text.times import parse_time

_SCRIPT = re.compile(r"<script\b[^>]*\btype\s*=\s*[\"']?application/ld\+json[\"']?[^>]*>(.*?)</script\s*>",
                     re.IGNORECASE | re.DOTALL)
MAX_BLOCKS = 20  # JSON-LD blocks read per page: a page is not a database dump
MAX_BLOCK_BYTES = 500_000
MAX_DEPTH = 12
MAX_REVIEWS = 50  # ClaimReviews taken from one page: a fact-check states one claim, a hub page a few dozen
MAX_FIELD = 200  # verdict, publisher: a word or a name
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?")


def _objects(node: Any, depth: int = 0) -> Iterator[dict]:
    """Every JSON object in `node`, depth-first (bounded: the JSON comes from someone else's page)."""
    if depth > MAX_DEPTH:
        return
    if isinstance(node, dict):
        yield node
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _objects(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value, depth + 1)


def _is_claim_review(obj: dict) -> bool:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.rsplit("/", 1)[-1] == "ClaimReview" for k in kinds)


def _text(value: Any) -> str:
    """A JSON-LD value as plain text: a string, the first string of a list, or an object's name."""
    if isinstance(value, list):
        value = next((v for v in value if _text(v)), "")
    if isinstance(value, dict):
        value = value.get("name") or value.get("alternateName") or ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return ""
    return " ".join(html.unescape(str(value)).split())


def _verdict(rating: Any) -> str:
    if isinstance(rating, list):
        rating = rating[0] if rating else {}
    if not isinstance(rating, dict):
        return _text(rating)
    for key in ("alternateName", "name"):
        if _text(rating.get(key)):
            return _text(rating.get(key))
    value, best = _text(rating.get("ratingValue")), _text(rating.get("bestRating"))
    return f"{value}/{best}" if value and best else value


def _claim_text(value: Any) -> str:
    """`claimReviewed` as text: a string (or a list's first, or an object's name), never a number or a
    boolean — "5" or "inf" is no claim, and a short one would match half the queue."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), "")
    if isinstance(value, dict):
        value = value.get("name") or value.get("text") or ""
    return _text(value) if isinstance(value, str) else ""


def _url(value: Any, fallback: str | None) -> str | None:
    url = _text(value) if not isinstance(value, dict) else _text(value.get("@id") or value.get("url"))
    url = url or fallback or ""
    ok = url.lower().startswith(("http://", "https://")) and not any(c.isspace() for c in url) and len(url) <= 2000
    return url if ok else None


def _date(value: Any) -> str | None:
    moment = parse_time(_text(value)) if _text(value) else None
    return moment.date().isoformat() if moment else None


def _language(value: Any) -> str | None:
    code = _text(value).lower()
    return code if _LANGUAGE.fullmatch(code) else None


def claims_in_jsonld(data: Any, page_url: str | None = None) -> list[NewClaim]:
    """The ClaimReviews in parsed JSON-LD, as claims (origin 'claimreview'); the review's url, else the
    page's, is the rebuttal."""
    found: list[NewClaim] = []
    for obj in _objects(data):
        if len(found) >= MAX_REVIEWS:
            break
        if not _is_claim_review(obj):
            continue
        text = _claim_text(obj.get("claimReviewed"))
        url = _url(obj.get("url"), page_url)
        if not text or not url:
            continue
        publisher = (_text(obj.get("author")) or _text(obj.get("publisher")))[:MAX_FIELD]
        verdict = _verdict(obj.get("reviewRating"))[:MAX_FIELD]
        found.append(NewClaim(text=text, verdict=verdict or "ClaimReview",
                              origin="claimreview", url=url, language=_language(obj.get("inLanguage")),
                              claim_date=_date(obj.get("datePublished")), publisher=publisher or None))
    return found


def review_markup(page: str) -> str:
    """Only the JSON-LD blocks of a page that holds a ClaimReview ("" otherwise): what the crawl keeps of
    an article page for `claims_in_html`, instead of the whole page."""
    if not page or "claimreview" not in page.lower():
        return ""
    return "\n".join(match.group(0) for match in _SCRIPT.finditer(page))


def claims_in_html(page: str, page_url: str | None = None) -> list[NewClaim]:
    """The ClaimReviews of an HTML page or fragment (a feed item's content). Unreadable JSON is skipped:
    one broken block must not hide the others."""
    if not page or "ld+json" not in page.lower():
        return []
    found: list[NewClaim] = []
    for block in _SCRIPT.findall(page)[:MAX_BLOCKS]:
        if len(block) > MAX_BLOCK_BYTES or len(found) >= MAX_REVIEWS:
            continue
        try:
            data = json.loads(block.strip().removeprefix("<!--").removesuffix("-->"))
        except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the interpreter's limit
            continue
        found += claims_in_jsonld(data, page_url)[:MAX_REVIEWS - len(found)]
    return found
