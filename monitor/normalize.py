"""Normalisation of raw items: clean text, canonical URLs, language, UTC times.

Plain functions over strings and datetimes; the dedup keys themselves come from
classifiers.text so that dedup, features and search agree.
"""

from __future__ import annotations

import re
import threading
import unicodedata
import warnings
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from lxml import etree
from lxml import html as lxml_html

from classifiers.text import nfc

_TRACKING_PARAMS = re.compile(r"^(utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|_ga|ref_src|xtor)$", re.I)
# Fragments that never name an entry of their own: anchors into the page's furniture (the comments
# section, the reply form, "read more"), and share-button trackers (AddThis #.XXXXXXXXXXX, ShareThis
# #sthash.XXXXXXXX.dpuf). #comment-45 is not one of them: a comments feed links each comment so.
_PAGE_ANCHORS = re.compile(r"^(comments?|respond|reply|disqus_thread|top|main|content|main-?content|more-\d+"
                           r"|\.[\w-]{11}(\.\w+)?|sthash\.\w{8}(\.\w+)?)$", re.I)
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
    warning for short markup that looks like a URL or a file name (a title often does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
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


def _entry_fragment(fragment: str) -> str:
    """The part of a #fragment that can name a distinct entry on the page, "" if none.

    A live blog's update (#cap-nhat-3) or a feed's post anchored on a shared page (#item573) is an
    entry of its own; tracking parameters (#xtor=…, #utm_…), text fragments (#:~:text=…) and page
    anchors (#comments) are not. Pieces are split at #, & and ; and the kept ones keep their separators.
    """
    fragment = fragment.split(":~:", 1)[0]
    kept = ""
    for separator, piece in zip(["", *re.findall(r"[#&;]", fragment)], re.split(r"[#&;]", fragment), strict=True):
        if not piece or _PAGE_ANCHORS.match(piece) or _TRACKING_PARAMS.match(piece.split("=", 1)[0]):
            continue
        kept += (separator if kept else "") + piece
    return kept


def canonical_url(url: str | None) -> str | None:
    """One spelling per article: lower-case host without www./m., no tracking params or default port.

    The #fragment is kept only when it can name an entry (`_entry_fragment`): distinct posts anchored
    on one page must not be merged, while the same article with #comments or #xtor=RSS stays one."""
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
    return urlunsplit(("https", netloc, path, query, _entry_fragment(parts.fragment)))


def to_utc(moment: datetime | None, zone: str) -> datetime | None:
    """An aware UTC datetime; naive times are taken in the source's zone."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


# Letters no other language's orthography uses: horn vowels, đ, and the hook-above / dot-below tones.
_VI_ONLY = re.compile("[ơờớởỡợưừứửữựđảạằắẳẵặầấẩẫậẻẽẹềếểễệỉịỏọồốổỗộủụỳỷỹỵ]")
_LETTER = re.compile(r"[^\W\d_]")


def _is_clearly_vietnamese(sample: str) -> bool:
    """Cheap, certain cases first: text dense in Vietnamese-only letters is Vietnamese (most of our items),
    and py3langid — the slow part of normalising an item — is only asked about the rest."""
    lowered = sample.lower()
    special = len(_VI_ONLY.findall(lowered))
    return special >= 5 and special * 12 >= len(_LETTER.findall(lowered))


# English function words. Text whose words are at least a fifth these (three different ones, two of
# them never a Vietnamese syllable typed without tone marks — not "the" (thế), "an" (ăn), "to" (tô),
# "that" (thật), "not" (nốt), "but" (bút) ...; eight words or more) and has no letter outside ASCII is
# English: on 95,719 texts (the English, French and Vietnamese data sets, with and without tone marks,
# and every recorded feed) the rule fired on 12,317 and py3langid said "en" on every one of them. The
# shortcut saves the slow call; the one change is with a hint: 7 English all-capitals tweets
# py3langid was unsure of no longer fall back to a "vi" hint.
_EN_WORDS = frozenset("a an and are been but by for from has have in is it's not of on that the their this to was"
                      " were what which who will with would".split())
_EN_ONLY = frozenset("and are been by for from has have is it's of their this was were what which who will with"
                     " would".split())
_ASCII_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_NON_ASCII_LETTER = re.compile(r"[^\x00-\x7f](?<=[^\W\d_])")


def _is_clearly_english(sample: str) -> bool:
    lowered = sample.lower()
    if not lowered.isascii() and _NON_ASCII_LETTER.search(lowered):
        return False
    words = _ASCII_WORD.findall(lowered)
    if len(words) < 8:
        return False
    hits = [word for word in words if word in _EN_WORDS]
    if len(hits) * 5 < len(words):
        return False
    distinct = set(hits)
    return len(distinct) >= 3 and len(distinct & _EN_ONLY) >= 2


_langid = None
_langid_lock = threading.Lock()


def detect_language(text: str, hint: str | None = None) -> str | None:
    """Language of the text (py3langid); the text wins over metadata, the hint decides short texts."""
    sample = text.strip()
    if len(sample) < 20:
        return hint
    if _is_clearly_vietnamese(sample[:400]):
        return "vi"
    if _is_clearly_english(sample[:400]):
        return "en"
    global _langid
    # py3langid's identifier keeps per-call scratch state: concurrent crawler threads corrupt it
    # (IndexError / broadcast errors), so calls are serialised.
    with _langid_lock:
        if _langid is None:
            from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

            # py3langid ships its model as a numpy archive (not a pickle).
            _langid = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
            _langid.set_languages(["vi", "en", "fr", "zh", "ja", "ko", "th", "ru", "es", "de", "pt", "id", "km",
                                   "lo"])
        language, confidence = _langid.classify(sample[:400])  # ~70 words decide; more only costs time
    if confidence < 0.5 and hint:
        return hint
    return language


# --- Bytes to text ------------------------------------------------------------------------

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
# Names people write that Python spells differently, and labels that browsers treat as a superset.
_CHARSET_ALIASES = {"windows-1258": "cp1258", "x-windows-1258": "cp1258", "iso-8859-1": "cp1252",
                    "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
                    "gb2312": "gb18030", "gbk": "gb18030", "x-sjis": "shift_jis", "utf8": "utf-8",
                    "tis-620": "cp874", "iso-8859-11": "cp874", "ks_c_5601-1987": "euc-kr"}

# VISCII (RFC 1456): Python has no codec. The 128 upper code points, then the six C0 slots it reuses.
_VISCII_HIGH = (
    "ẠẮẰẶẤẦẨẬẼẸẾỀỂỄỆỐỒỔỖỘỢỚỜỞỊỎỌỈỦŨỤỲÕắằặấầẩậẽẹếềểễệốồổỗỠƠộờởịỰỨỪỬơớƯ"
    "ÀÁÂÃẢĂẳẵÈÉÊẺÌÍĨỳĐứÒÓÔạỷừửÙÚỹỵÝỡưàáâãảăữẫèéêẻìíĩỉđựòóôõỏọụùúũủýợỮ"
)
_VISCII_LOW = {0x02: "Ẳ", 0x05: "Ẵ", 0x06: "Ẫ", 0x14: "Ỷ", 0x19: "Ỹ", 0x1E: "Ỵ"}
_VISCII_TABLE = {i: chr(i) for i in range(128)} | _VISCII_LOW | {0x80 + i: ch for i, ch in enumerate(_VISCII_HIGH)}


def decode_viscii(data: bytes) -> str:
    """VISCII bytes → text (RFC 1456 table), since Python ships no VISCII codec."""
    return "".join(_VISCII_TABLE[b] for b in data)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    if name in ("viscii", "csviscii", "viscii1.1-1"):
        return "viscii"
    import codecs

    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        return decode_viscii(data) if codec == "viscii" else data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def detect_charset(data: bytes, http_charset: str | None = None) -> str:
    """The charset bytes are in: BOM, then HTTP charset, then XML/HTML declaration, then UTF-8, then detection.

    A BOM beats a header because servers mislabel far more often than editors write wrong BOMs;
    a declared charset that fails to decode the bytes is ignored rather than trusted.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    head = data[:4096]
    declared = [_codec(http_charset)]
    match = _XML_DECL.match(head)
    if match:
        declared.append(_codec(match.group(1).decode("ascii")))
    match = _META_CHARSET.search(head)
    if match:
        declared.append(_codec(match.group(1).decode("ascii")))
    for codec in declared:
        if codec and codec not in ("utf-16", "utf-32") and _try_decode(data, codec) is not None:
            return codec
    if _try_decode(data, "utf-8") is not None:
        return "utf-8"
    from charset_normalizer import from_bytes

    detected = "cp1252"
    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding:
        codec = _codec(best.encoding) or "cp1252"
        if _try_decode(data, codec) is not None:
            detected = codec
    # charset-normalizer knows neither VISCII nor, reliably, windows-1258 (whose tones are separate
    # combining bytes). When one of them reads as clean Vietnamese and the guess does not, take it.
    sample = data[:20_000]
    scores = {codec: _vietnamese_score(_try_decode(sample, codec) or "") for codec in (detected, "cp1258", "viscii")}
    winner = max(("cp1258", "viscii"), key=lambda codec: scores[codec])
    if scores[winner] >= 0.9 and scores[winner] > scores[detected]:
        return winner
    return detected


_VI_LETTERS = set("aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ")
_VI_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_WORDS = re.compile(r"[^\W\d_]+")


def _vietnamese_score(text: str) -> float:
    """Share of accented words that are plausible Vietnamese syllables (0 with fewer than 3 such words).

    Any high byte decodes to *some* Vietnamese letter in VISCII, so letters alone prove nothing;
    syllables do: at most seven letters, all from the alphabet, at most one tone mark.
    """
    words = [w for w in _WORDS.findall(nfc(text).lower()) if not w.isascii()]
    if len(words) < 3:
        return 0.0
    plausible = 0
    for word in words:
        tones = sum(1 for ch in unicodedata.normalize("NFD", word) if ch in _VI_TONES)
        if len(word) <= 7 and tones <= 1 and all(ch in _VI_LETTERS for ch in word):
            plausible += 1
    return plausible / len(words)


def decode_bytes(data: bytes, http_charset: str | None = None) -> str:
    """Bytes to NFC text through the charset chain; windows-1258's decomposed tones end composed."""
    if not data:
        return ""
    codec = detect_charset(data, http_charset)
    text = _try_decode(data, codec)
    if text is None:
        text = data.decode(codec if codec != "viscii" else "utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return nfc(text)


# --- Times ------------------------------------------------------------------------------

def parse_time(value: str | None) -> datetime | None:
    """A feed date string as a datetime: aware if it carried a zone, naive if not (then to_utc uses the source zone)."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
        if moment is not None:
            # RFC 822 "-0000" means "zone unknown": treat as naive.
            if value.endswith("-0000"):
                moment = moment.replace(tzinfo=None)
            return moment
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
