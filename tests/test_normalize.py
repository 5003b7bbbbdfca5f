"""Normalisation: charset chain, legacy Vietnamese encodings, NFC, tone placement, canonical URLs, language, times."""

from __future__ import annotations

import unicodedata
from datetime import datetime

import pytest

from classifiers.text import content_hash, dedup_key, search_key
from monitor.domain import RawItem
from monitor.pipeline import normalise
from monitor.text.charset import _VISCII_TABLE as _VISCII
from monitor.text.charset import decode_bytes, decode_viscii, detect_charset
from monitor.text.html import clean_text, html_to_text
from monitor.text.language import detect_language
from monitor.text.times import parse_time, to_utc
from monitor.text.urls import canonical_url
from tests import corpus

LEGACY = corpus.REALWORLD / "feeds" / "vietnamese" / "legacy-encodings"
OWN_LEGACY = corpus.FIXTURES / "legacy-encodings"
OWN_TEXT = corpus.FIXTURES / "text"


def _legacy_cases() -> list:
    """(file, its codec, the same text in UTF-8): the project's own text, and uchardet's samples where the corpus is."""
    cases = []
    for codec, suffix in (("utf-8", "utf-8"), ("cp1258", "windows-1258"), ("viscii", "viscii")):
        cases.append(pytest.param(OWN_LEGACY / f"vi_{suffix}.txt", codec, OWN_LEGACY / "vi_utf-8.txt",
                                  id=f"project-{codec}"))
        cases.append(corpus.param(LEGACY / f"uchardet_vi_{suffix}.txt", codec, LEGACY / "uchardet_vi_utf-8.txt",
                                  needs="realworld", id=f"uchardet-{codec}"))
    return cases


@pytest.mark.parametrize("path,codec,utf8_path", _legacy_cases())
def test_legacy_vietnamese_encodings_detected_and_end_nfc(path, codec, utf8_path):
    data = path.read_bytes()
    assert detect_charset(data) == codec
    text = decode_bytes(data)
    assert text == unicodedata.normalize("NFC", utf8_path.read_text(encoding="utf-8"))
    assert unicodedata.is_normalized("NFC", text)


@pytest.mark.corpus("realworld")
def test_cp1258_sample_file_lines():
    text = decode_bytes((LEGACY / "redsalamander_cp1258.txt").read_bytes())
    assert "Tôi ăn phở bò." in text and "Trường học ở Việt Nam." in text


def cp1258(text: str) -> bytes:
    """Encode as windows-1258 does: vowels with their quality marks, tone marks as separate bytes."""
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in parts if c in "\u0300\u0301\u0303\u0309\u0323")
        out.append(unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones)) + tones)
    return "".join(out).encode("cp1258")


def test_declared_charset_wins_and_wrong_declaration_is_ignored():
    body = cp1258("Thời sự Việt Nam")
    assert decode_bytes(body, "windows-1258") == "Thời sự Việt Nam"
    xml = b'<?xml version="1.0" encoding="windows-1258"?><t>' + body + b"</t>"
    assert "Thời sự Việt Nam" in decode_bytes(xml)
    assert decode_bytes("Thời sự".encode(), "shift_jis_bogus") == "Thời sự"
    html = b'<html><head><meta charset="windows-1258"></head><body>' + body + b"</body></html>"
    assert "Thời sự Việt Nam" in decode_bytes(html)


def test_bom_beats_header():
    assert decode_bytes("\ufeffHà Nội".encode("utf-16-le"), "iso-8859-1") == "Hà Nội"
    assert decode_bytes(b"\xef\xbb\xbfH\xc3\xa0 N\xe1\xbb\x99i", "cp1252") == "Hà Nội"


@pytest.mark.corpus("realworld")
def test_non_vietnamese_legacy_charsets_not_mistaken_for_viscii():
    paths = sorted((corpus.REALWORLD / "feeds" / "illformed" / "chardet").glob("*.xml"))
    assert paths
    for path in paths:
        assert detect_charset(path.read_bytes()) not in ("viscii", "cp1258"), path.name


@pytest.mark.parametrize("codec, text", [
    ("koi8-r", "Новости области: паводок отступает, дороги снова открыты для движения"),
    ("cp1251", "Новини області: повінь відступає, дороги знову відкриті для руху"),
    ("iso-8859-7", "Ειδήσεις της περιφέρειας: η πλημμύρα υποχωρεί και οι δρόμοι ανοίγουν ξανά"),
    ("shift_jis", "地方のニュース：洪水が引き、道路は再び通行できるようになった"),
    ("euc-kr", "지역 뉴스: 홍수가 물러가고 도로가 다시 열렸습니다"),
    ("cp1252", "Actualités régionales : la crue recule, les routes rouvrent à la circulation"),
])
def test_legacy_charsets_of_other_languages_not_mistaken_for_vietnamese(codec, text):
    """The project's own sentences in other legacy charsets, as an undeclared XML feed would carry them."""
    body = b'<?xml version="1.0"?><rss><channel><item><title>' + text.encode(codec) + b"</title></item></channel></rss>"
    assert detect_charset(body) not in ("viscii", "cp1258"), codec


# A news text whose last "ố" lost its final byte: UTF-8 but for one broken sequence.
_CUT = "Lũ quét ở Mường Lát, Thanh Hóa: người dân sơ tán trong đêm, tổ".encode()[:-1] + " - tin mới".encode()


def test_utf8_with_a_broken_sequence_keeps_its_letters():
    """One cut character must not turn a UTF-8 text into mojibake (the whole text read as windows-1252)."""
    for declared in (None, "utf-8"):
        text = decode_bytes(_CUT, declared)
        assert text.startswith("Lũ quét ở Mường Lát, Thanh Hóa") and text.count("\ufffd") == 1, declared
    page = b'<html><head><meta charset="utf-8"></head><body>' + _CUT + b"</body></html>"
    assert "Mường Lát" in decode_bytes(page)


def viscii(text: str) -> bytes:
    byte_of = {char: code for code, char in _VISCII.items()}
    return bytes(byte_of[char] for char in text)


@pytest.mark.parametrize("body", [
    "Actualités régionales : la crue recule, les routes rouvrent à la circulation".encode("cp1252"),
    cp1258("Thời sự Việt Nam hôm nay: mưa lớn ở miền Trung"),
    viscii("Thời sự Việt Nam hôm nay: mưa lớn ở miền Trung"),
], ids=["cp1252", "cp1258", "viscii"])
def test_single_byte_legacy_text_is_not_taken_for_broken_utf8(body):
    """Lone high bytes are the accented letters of a legacy charset, not broken UTF-8."""
    from monitor.text.charset import mostly_utf8

    assert not mostly_utf8(body)
    assert mostly_utf8(_CUT) and not mostly_utf8("Hà Nội".encode())  # valid UTF-8 is not "broken"


def test_viscii_table_roundtrip_of_all_vietnamese_capitals():
    assert decode_viscii(bytes([0x02, 0x05, 0x06, 0x14, 0x19, 0x1E])) == "ẲẴẪỶỸỴ"
    assert len(set(decode_viscii(bytes(range(256))))) == 256


def test_tone_placement_variants_share_dedup_and_search_keys():
    for old, new in [("hoà", "hòa"), ("thuỷ", "thủy"), ("Thanh Hoá", "Thanh Hóa"), ("khoẻ", "khỏe")]:
        assert dedup_key(old) == dedup_key(new)
        assert search_key(old) == search_key(new)
    nfd = unicodedata.normalize("NFD", "Hòa bình ở Thanh Hóa")
    assert content_hash("Hoà bình ở Thanh Hoá", "") == content_hash(nfd, "")


def test_nfd_input_stored_nfc():
    item = normalise(RawItem(guid="g", title=unicodedata.normalize("NFD", "Tin giả về thủy điện"),
                             text=unicodedata.normalize("NFD", "<p>Người dân hoảng loạn</p>")))
    assert item.title == "Tin giả về thủy điện" and item.text == "Người dân hoảng loạn"


@pytest.mark.parametrize("url,expected", [
    ("HTTP://WWW.VnExpress.net:80/tin-tuc/a.html?utm_source=fb&utm_medium=x#comments", "https://vnexpress.net/tin-tuc/a.html"),
    ("https://m.baothanhhoa.vn/thoi-su/bai-1/?fbclid=IwAR0&id=5&gclid=x", "https://baothanhhoa.vn/thoi-su/bai-1?id=5"),
    ("https://baonghean.vn:443/x?b=2&a=1", "https://baonghean.vn/x?a=1&b=2"),
    ("http://example.vn:8080/", "https://example.vn:8080/"),
])
def test_canonical_urls(url, expected):
    assert canonical_url(url) == expected


def test_www_and_mobile_variants_match():
    assert canonical_url("https://www.dantri.com.vn/a") == canonical_url("https://m.dantri.com.vn/a") \
        == canonical_url("http://dantri.com.vn/a/")


LANGUAGE_SAMPLES = [  # (Vietnamese, English, French) articles
    pytest.param((OWN_TEXT / "vi-chuyen-doi-so.txt", OWN_TEXT / "en-monitoring-desk.txt",
                  OWN_TEXT / "fr-cellule-de-veille.txt"), id="project"),
    corpus.param((corpus.SEEDS / "002_c8bb3ae06b274acd.txt", corpus.SEEDS / "000_230bf054826ea33f.txt",
                  corpus.SEEDS / "001_29e71c9c559ff3e0.txt"), needs="seeds", id="seeds"),
]


@pytest.mark.parametrize("paths", LANGUAGE_SAMPLES)
def test_language_detected_from_text_over_metadata(paths):
    vi, en, fr = (path.read_text(encoding="utf-8")[:600] for path in paths)
    assert detect_language(vi, hint="en") == "vi"
    assert detect_language(en, hint="vi") == "en"
    assert detect_language(fr, hint="vi") == "fr"
    assert detect_language("Ok", hint="vi") == "vi"  # too short: the hint decides


def test_times_to_utc_with_source_zone_default():
    naive = parse_time("Wed, 19 Apr 2017 19:45:55")
    assert naive.tzinfo is None
    assert to_utc(naive, "Asia/Ho_Chi_Minh").isoformat() == "2017-04-19T12:45:55+00:00"
    assert to_utc(parse_time("Wed, 19 Apr 2017 19:45:55 +0700"), "Europe/Paris").isoformat() == "2017-04-19T12:45:55+00:00"
    assert to_utc(parse_time("2017-04-19T19:45:55"), "Europe/Paris").hour == 17
    assert parse_time("Wed, 19 Apr 2017 19:45:55 -0000").tzinfo is None
    assert parse_time("not a date") is None
    item = normalise(RawItem(guid="g", title="Tin", text="Nội dung", published=datetime(2026, 11, 23, 7, 0)))
    assert item.published_at == "2026-11-23T00:00:00Z"


def test_html_to_clean_text():
    html = "<div><p>Đoạn <b>một</b>&nbsp;ở đây</p><script>alert(1)</script><p>Đoạn hai</p></div>"
    assert html_to_text(html) == "Đoạn một ở đây\n\nĐoạn hai"
    assert clean_text("a\u0000b\r\n\r\n\r\nc") == "ab\n\nc"


def _reference_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.replace("đ", "d").replace("Đ", "D"))


@pytest.mark.parametrize("folder, vietnamese, legacy", [
    pytest.param(OWN_TEXT, "vi-chuyen-doi-so.txt", OWN_LEGACY / "vi_viscii.txt", id="project"),
    corpus.param(corpus.SEEDS, "002_c8bb3ae06b274acd.txt", LEGACY / "uchardet_vi_viscii.txt",
                 needs=("seeds", "realworld"), id="seeds"),
])
def test_fast_fold_diacritics_equals_the_reference_definition(folder, vietnamese, legacy):
    from classifiers.text import fold_diacritics

    samples = [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt"))]
    samples += [unicodedata.normalize("NFD", (folder / vietnamese).read_text(encoding="utf-8")), "ĐẠI HỌC Quốc gia",
                "한국어 텍스트", "e\u0301\u0323 a\u0308", "ﬁ ligature ½ Å", "\u0301 leading mark", "Ǆ ǅ ǆ",
                decode_bytes(legacy.read_bytes())]
    for text in samples:
        assert fold_diacritics(text) == _reference_fold(text)


@pytest.mark.corpus("data")
def test_english_shortcut_agrees_with_py3langid_wherever_it_fires(monkeypatch):
    """The function-word shortcut only skips py3langid: where it fires, py3langid says English too
    (checked here on the English and French data sets' dev texts and Vietnamese typed without tones)."""
    import json

    from monitor.text import language

    texts = []
    for name in ("en_liar", "en_constraint_covid19", "fr_obsinfox_titles", "vi_vihsd"):
        lines = (corpus.DATA / name / "dev.jsonl").read_text(encoding="utf-8").splitlines()[:600]
        texts += [json.loads(line)["text"] for line in lines]
    fired = [t for t in texts if len(t.strip()) >= 20 and language._is_clearly_english(t.strip()[:400])]
    assert len(fired) > 200  # it does save work on English text
    assert not language._is_clearly_english("Phai nhu the moi dung, lam an phai co dao duc, the la to")
    assert not language._is_clearly_english("The café is on the corner and it was open for the day")
    monkeypatch.setattr(language, "_is_clearly_english", lambda sample: False)
    assert [detect_language(t) for t in fired] == ["en"] * len(fired)


def test_clean_text_collapses_blanks_per_line_and_keeps_one_blank_line():
    text = "  Tin\u00a0\u00a0nóng\t \r\n\r\n\r\n  dòng\u200bhai \x07\n \n\nba  "
    assert clean_text(text) == "Tin nóng\n\ndòng hai\n\nba"
    assert clean_text(" một \t dòng\u00a0") == "một dòng"
    assert clean_text("\u2003em\u2003\n\u3000x\u3000") == "em\nx"  # other spaces: stripped at line ends only
    # a control character between a letter and its combining mark: removed, and the pair still ends NFC
    assert clean_text("Tie\x01\u0302u") == "Tiêu" == unicodedata.normalize("NFC", clean_text("Tie\x01\u0302u"))
