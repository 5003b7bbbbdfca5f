"""Bytes to text: the charset chain (BOM, HTTP header, XML/HTML declaration, UTF-8, detection), with
the legacy Vietnamese encodings detectors miss (VISCII, windows-1258), ending in NFC.
"""

from __future__ import annotations

import re
import unicodedata

from classifiers.text import nfc

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


def declared_charset(data: bytes, http_charset: str | None = None) -> str | None:
    """The codec the HTTP charset, else the XML declaration names (None: neither, or one Python lacks)."""
    if http_charset:
        return _codec(http_charset)
    match = _XML_DECL.match(data[:4096])
    return _codec(match.group(1).decode("ascii")) if match else None


def mostly_utf8(data: bytes) -> bool:
    """UTF-8 but for a few broken sequences: a multi-byte character cut by a truncation, one stray byte.

    Strict decoding fails on those, and every reader then falls back to windows-1252 for the whole text
    (feedparser does), turning each accented letter into mojibake ("é" → "Ã©"). Text in a single-byte
    legacy charset has almost no valid multi-byte sequences (its accented letters are lone high bytes),
    so valid non-ASCII characters outnumbering the broken sequences ten to one says UTF-8."""
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd") - data.count(b"\xef\xbf\xbd")  # a U+FFFD the bytes had is not broken
    valid = len(text) - len(text.encode("ascii", errors="ignore")) - broken
    return 0 < broken and valid >= 10 * broken


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
    if _try_decode(data, "utf-8") is not None or mostly_utf8(data):
        return "utf-8"  # mostly: decode_bytes replaces the few broken sequences
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
