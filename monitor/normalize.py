"""Normalisation of raw items: clean text, canonical URLs, language, UTC times.

Plain functions over strings and datetimes; the dedup keys themselves come from
classifiers.text so that dedup, features and search agree.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from classifiers.text import nfc

_TRACKING_PARAMS = re.compile(r"^(utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|_ga|ref_src)$", re.I)
_BLANKS = re.compile(r"[ \t\u00a0\u200b]+")
_NEWLINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "article", "section")


def html_to_text(markup: str | None) -> str:
    """Visible text of an HTML fragment, paragraphs kept as lines; scripts and styles dropped."""
    if not markup:
        return ""
    if "<" not in markup and "&" not in markup:
        return clean_text(markup)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "iframe", "object", "embed", "svg"]):
        tag.decompose()
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    return clean_text(soup.get_text())


def clean_text(text: str | None) -> str:
    """NFC, collapsed spaces, at most one blank line between paragraphs, no control characters."""
    if not text:
        return ""
    text = nfc(text).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or ch >= " ")
    lines = [_BLANKS.sub(" ", line).strip() for line in text.split("\n")]
    return _NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def canonical_url(url: str | None) -> str | None:
    """One spelling per article: lower-case host without www./m., no tracking params, fragment or default port."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return url.strip()
    if parts.scheme not in ("http", "https") or not host:
        return url.strip()
    for prefix in ("www.", "m.", "mobile."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
            break
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING_PARAMS.match(k)))
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    # http and https copies of one page are the same article.
    return urlunsplit(("https", netloc, path, query, ""))


def to_utc(moment: datetime | None, zone: str) -> datetime | None:
    """An aware UTC datetime; naive times are taken in the source's zone."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(timezone.utc)


_langid = None


def detect_language(text: str, hint: str | None = None) -> str | None:
    """Language of the text (py3langid); the text wins over metadata, the hint decides short texts."""
    sample = text.strip()
    if len(sample) < 20:
        return hint
    global _langid
    if _langid is None:
        from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

        # py3langid ships its model as a numpy archive (not a pickle).
        _langid = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
        _langid.set_languages(["vi", "en", "fr", "zh", "ja", "ko", "th", "ru", "es", "de", "pt", "id", "km", "lo"])
    language, confidence = _langid.classify(sample[:2000])
    if confidence < 0.5 and hint:
        return hint
    return language
