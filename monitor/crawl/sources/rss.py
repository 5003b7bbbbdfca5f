"""RSS 0.9x/1.0/2.0, Atom and JSON Feed, parsed from bytes we fetched ourselves.

feedparser never fetches here: the fetcher owns all network policy. We hand it the
response headers so the HTTP charset and Content-Location take part in decoding and
relative-link resolution, exactly as if feedparser had fetched the feed itself.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from monitor.crawl.response import FetchResult
from monitor.crawl.sources import Parsed, ParseError
from monitor.domain import RawItem
from monitor.text.charset import declared_charset, decode_bytes, mostly_utf8
from monitor.text.times import parse_time

_UNSET: Any = object()
_sanitize_html: Any = _UNSET  # feedparser's, read by _sanitizer() on first use (None: there is none)


def _feedparser() -> Any:
    """feedparser, imported when a feed is parsed: a crawl whose feeds are parsed in helper processes
    (monitor.crawl.offload) does not load it (~10 MB) in its own."""
    import feedparser

    return feedparser


def _sanitizer() -> Any:
    global _sanitize_html
    if _sanitize_html is _UNSET:
        try:  # what sanitize_html=True applies; private in feedparser 6, so a later release may move it
            from feedparser.sanitizer import _sanitize_html as found
        except ImportError:  # then titles are cleaned by html_to_text alone, like summaries and content
            found = None
        _sanitize_html = found
    return _sanitize_html


def __getattr__(name: str) -> Any:  # `rss.feedparser`, as before the import was deferred
    if name == "feedparser":
        return _feedparser()
    raise AttributeError(name)


_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=""", re.I)
_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body")
_TTL = re.compile(rb"<ttl>\s*(\d{1,6})\s*</ttl>", re.I)
_SY_PERIOD = re.compile(rb"<sy:updatePeriod>\s*(hourly|daily|weekly|monthly|yearly)\s*</sy:updatePeriod>", re.I)
_SY_FREQUENCY = re.compile(rb"<sy:updateFrequency>\s*(\d{1,4})\s*</sy:updateFrequency>", re.I)
_SY_SECONDS = {b"hourly": 3600, b"daily": 86400, b"weekly": 7 * 86400, b"monthly": 30 * 86400,
               b"yearly": 365 * 86400}


def _as_result(result_or_bytes: FetchResult | bytes, source: Any) -> FetchResult:
    if isinstance(result_or_bytes, FetchResult):
        return result_or_bytes
    url = getattr(source, "url", None) or (source.get("url") if isinstance(source, dict) else None) or ""
    return FetchResult(url=url, final_url=url, status=200, headers={}, body=bytes(result_or_bytes), elapsed=0.0)


def _not_a_feed(body: bytes, detail: str = "") -> ParseError:
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        return ParseError("not a feed: empty body")
    if head.startswith(_HTML_START) or b"<html" in head[:512]:
        return ParseError("not a feed: HTML page" + (f" ({detail})" if detail else ""))
    return ParseError("not a feed" + (f": {detail}" if detail else ""))


def _struct_to_datetime(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _entry_time(entry: Any) -> datetime | None:
    # Re-parse the raw string first: feedparser turns a zone-less date into UTC, but such a
    # date is local time at the source (VnExpress, provincial papers) and must take its zone.
    for key in ("published", "updated", "created"):
        # dict.get, not FeedParserDict.get: the latter maps updated→published with a DeprecationWarning.
        raw = dict.get(entry, key)
        moment = parse_time(raw) if isinstance(raw, str) else None
        if moment is not None:
            return moment
        parsed = _struct_to_datetime(dict.get(entry, f"{key}_parsed"))
        if parsed is not None:
            return parsed
    return None


def _entry_text(entry: Any, sanitize_as: str | None = None) -> str:
    """The longest of summary and content; `sanitize_as` (an encoding): as feedparser's sanitiser gives them."""
    best = entry.get("summary") or ""
    if sanitize_as:  # a summary feedparser copied from the content has no detail of its own
        best = _sanitized(best, entry.get("summary_detail") or (entry.get("content") or [None])[0], sanitize_as)
    for content in entry.get("content") or []:
        value = content.get("value") or ""
        if sanitize_as:
            value = _sanitized(value, content, sanitize_as)
        if len(value) > len(best):
            best = value
    return best


def _sanitized(value: str, detail: Any, encoding: str) -> str:
    sanitize = _sanitizer() if value else None
    if sanitize is not None and isinstance(detail, dict) and detail.get("type") in _HTML_TYPES:
        return sanitize(value, encoding, detail["type"])
    return value


def _strip(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def _title(entry: Any, encoding: str) -> str:
    """The entry's title as feedparser gives it with its sanitiser on (which we switch off for content)."""
    return _strip(_sanitized(_strip(entry.get("title")), entry.get("title_detail"), encoding))


def _author(entry: Any) -> str | None:
    author = _strip(entry.get("author"))
    if not author:
        detail = entry.get("author_detail") or {}
        author = _strip(detail.get("name")) if isinstance(detail, dict) else ""
    return author or None


def _guid(link: str, title: str, text: str, entry_id: str) -> str:
    if entry_id:
        return entry_id
    if link:
        return link
    return "sha256:" + hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()


def parse_json_feed(body: bytes, charset: str | None = None) -> list[RawItem]:
    """JSON Feed 1.0/1.1 (jsonfeed.org)."""
    try:
        data = json.loads(decode_bytes(body, charset))
    except ValueError as exc:
        raise ParseError(f"not a feed: invalid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ParseError("not a feed: JSON without an 'items' list")
    feed_author = (data.get("author") or {}).get("name") if isinstance(data.get("author"), dict) else None
    items = []
    for entry in data["items"]:
        if not isinstance(entry, dict):
            continue
        link = _strip(entry.get("url")) or _strip(entry.get("external_url"))
        title = _strip(entry.get("title"))
        text = entry.get("content_html") or entry.get("content_text") or entry.get("summary") or ""
        text = text if isinstance(text, str) else ""
        authors = entry.get("authors") or ([entry["author"]] if isinstance(entry.get("author"), dict) else [])
        author = next((a.get("name") for a in authors if isinstance(a, dict) and a.get("name")), feed_author)
        items.append(RawItem(
            guid=_guid(link, title, text, str(entry.get("id") or "").strip()), title=title, text=text,
            url=link or None, author=author,
            published=parse_time(entry.get("date_published") or entry.get("date_modified")),
            language=entry.get("language") or data.get("language"),
            extra={"summary": entry.get("summary")} if entry.get("summary") else {}))
    return Parsed(items)


def _as_utf8(body: bytes, http_charset: str | None) -> tuple[bytes, bool]:
    """The feed as valid UTF-8 where feedparser would read it as windows-1252 (it falls back to that for
    any text that is not valid in its charset), and whether it was transcoded:
    - a feed that declares no charset and is not UTF-8: transcoded through the charset chain;
    - a feed declared UTF-8 with a few broken sequences (mostly_utf8): those become U+FFFD, the rest
      keeps its letters (feedparser made every accented letter of such a feed mojibake).
    Other declared charsets are left to feedparser, which resolves HTTP vs XML declarations.
    """
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00")):
        return body, False
    try:
        body.decode("utf-8")
        return body, False
    except UnicodeDecodeError:
        pass
    if body.startswith(b"\xef\xbb\xbf") or http_charset or _XML_ENCODING.match(body[:1024]):
        if declared_charset(body, http_charset) in (None, "utf-8") and mostly_utf8(body):
            return body.decode("utf-8", errors="replace").encode("utf-8"), True
        return body, False
    return decode_bytes(body).encode("utf-8"), True


def feed_ttl_seconds(body: bytes) -> int | None:
    """RSS <ttl> (minutes) or the syndication module's updatePeriod / updateFrequency, in seconds.

    Read from the channel's head, where both live: a polling hint the scheduler honours as a floor.
    """
    head = body[:65536]
    match = _TTL.search(head)
    if match and int(match.group(1)) > 0:
        return int(match.group(1)) * 60
    period = _SY_PERIOD.search(head)
    if period:
        frequency = _SY_FREQUENCY.search(head)
        times = max(int(frequency.group(1)), 1) if frequency else 1
        return _SY_SECONDS[period.group(1).lower()] // times
    return None


def _looks_like_json_feed(body: bytes) -> bool:
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and b"jsonfeed" in body[:4096].lower()


def parse(result_or_bytes: FetchResult | bytes, source: Any = None) -> list[RawItem]:
    """Items of a feed; raise ParseError when the bytes are not a feed (HTML page, empty body, garbage)."""
    result = _as_result(result_or_bytes, source)
    body = result.body
    if not body.strip():
        raise ParseError("not a feed: empty body")
    if _looks_like_json_feed(body) or "json" in result.content_type:
        return parse_json_feed(body, result.charset)
    headers = {"content-location": result.final_url} if result.final_url else {}
    if result.headers.get("content-type"):
        headers["content-type"] = result.headers["content-type"]
    body, transcoded = _as_utf8(body, result.charset)
    if transcoded:
        headers["content-type"] = "application/xml; charset=utf-8"
    # We store text, never feed HTML: relative URIs inside content need no rewriting, and content needs
    # no sanitising either — html_to_text keeps only text and drops script, style, iframe, object and
    # embed with what is inside them. feedparser's sanitiser was a third of its parse time. Titles
    # still go through it (below): it decides what counts as a title's text in feedparser's own tests.
    parsed = _feedparser().parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        detail = str(parsed.get("bozo_exception") or "")[:200]
        raise _not_a_feed(body, detail)
    items = []
    encoding = parsed.get("encoding") or "utf-8"
    for entry in parsed.entries:
        link = _strip(entry.get("link"))
        title = _title(entry, encoding)
        text = _entry_text(entry)
        if not (title or text or link):
            continue
        extra = {}
        if entry.get("summary") and entry.get("summary") != text:
            extra["summary"] = entry.get("summary")
        entry_id = _strip(entry.get("id"))
        # Without an id or a link the guid hashes the content, as feedparser sanitised it: stored guids
        # stay the same (sanitising only this rare case costs nothing).
        guid = _guid(link, title, _entry_text(entry, encoding) if not (entry_id or link) else text, entry_id)
        items.append(RawItem(
            guid=guid, title=title, text=text, url=link or None,
            author=_author(entry), published=_entry_time(entry), language=entry.get("language") or None,
            extra=extra))
    warning = None
    if parsed.get("bozo") and parsed.get("bozo_exception") is not None:
        exc = parsed["bozo_exception"]
        warning = f"feed is not well-formed, {len(items)} items recovered: {type(exc).__name__}: {exc}"[:300]
    return Parsed(items, warning, ttl_seconds=feed_ttl_seconds(result.body))
