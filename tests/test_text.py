"""The one text normaliser: NFC, tone placement, folding, search keys and content hashes."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from classifiers.text import content_hash, dedup_key, fold_diacritics, nfc, normalize_tones, search_key

SHARED = Path(__file__).resolve().parents[2] / "shared"
LEGACY = SHARED / "realworld" / "feeds" / "vietnamese" / "legacy-encodings"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.mark.parametrize("old_style, new_style", [
    ("hoà", "hòa"), ("thuỷ", "thủy"), ("Hoà Bình", "Hòa Bình"), ("khoẻ", "khỏe"), ("uý", "úy"),
    ("Thanh Hoá", "Thanh Hóa"), ("HOÀ", "HÒA"), ("tuỳ", "tùy"),
])
def test_tone_placement_variants_map_together(old_style, new_style):
    assert old_style != new_style
    assert normalize_tones(old_style) == normalize_tones(new_style)
    assert normalize_tones(nfd(old_style)) == normalize_tones(new_style)


@pytest.mark.parametrize("word", ["hoàng", "người", "quý", "giữa", "khuỷu", "toán", "thuở", "Nghệ", "Việt"])
def test_already_canonical_words_unchanged(word):
    assert normalize_tones(word) == word


def test_distinct_words_stay_distinct():
    words = ["ma", "mà", "má", "mả", "mã", "mạ"]
    assert len({normalize_tones(word) for word in words}) == 6
    assert len({dedup_key(word) for word in words}) == 6
    assert len({content_hash(word, "") for word in words}) == 6


@pytest.mark.parametrize("text", ["Le café déjà vu, naïve — COVID-19 2026", "numéro", "première", "está", "ésta"])
def test_normalize_tones_keeps_non_vietnamese_words(text):
    # One accent on one of several separate vowels is not a Vietnamese syllable: moving it changes the word.
    assert normalize_tones(text) == nfc(text)
    assert normalize_tones(nfd(text)) == nfc(text)


def test_nfd_input_ends_nfc():
    composed = "Tiếng Việt có dấu: Nghệ An, Thanh Hóa, Đà Nẵng"
    decomposed = nfd(composed)
    assert decomposed != composed
    for function in (nfc, normalize_tones):
        out = function(decomposed)
        assert unicodedata.is_normalized("NFC", out)
    assert nfc(decomposed) == composed
    assert nfc(None) == ""


def test_legacy_files_are_there():
    assert (LEGACY / "uchardet_vi_windows-1258.txt").is_file()
    assert (LEGACY / "uchardet_vi_utf-8.txt").is_file()


def test_cp1258_decoded_text_equals_utf8_after_nfc():
    legacy = (LEGACY / "uchardet_vi_windows-1258.txt").read_bytes().decode("cp1258")
    modern = (LEGACY / "uchardet_vi_utf-8.txt").read_bytes().decode("utf-8")
    # windows-1258 carries tones as separate combining marks: raw strings differ, NFC makes them equal.
    assert legacy != modern
    assert nfc(legacy) == nfc(modern)
    assert content_hash("", legacy) == content_hash("", modern)
    assert search_key(legacy) == search_key(modern)


@pytest.mark.parametrize("text, folded", [
    ("Đà Nẵng", "Da Nang"), ("Thanh Hóa", "Thanh Hoa"), ("Nghệ An", "Nghe An"), ("đường", "duong"),
    ("Người dân", "Nguoi dan"), ("Lê Thị Ửng", "Le Thi Ung"), ("", ""),
])
def test_fold_diacritics(text, folded):
    assert fold_diacritics(text) == folded
    assert fold_diacritics(nfd(text)) == folded


def test_search_key():
    assert search_key("  Cảnh   báo\tTIN GIẢ\n") == "canh bao tin gia"
    assert search_key("ĐÀ NẴNG") == search_key("đà nẵng") == "da nang"
    assert search_key(nfd("Hoà Bình")) == search_key("Hòa Bình")


def test_content_hash_equal_for_tone_case_spacing_variants():
    base = content_hash("Hòa Bình: lũ quét", "Người dân  khỏe mạnh.")
    assert base == content_hash("HOÀ BÌNH: lũ   quét", "người dân khoẻ mạnh.")
    assert base == content_hash(nfd("Hoà Bình: lũ quét"), nfd("Người dân khoẻ mạnh."))
    assert base == content_hash(" Hòa Bình: lũ quét ", "Người dân\nkhỏe mạnh.")
    assert len(base) == 64 and int(base, 16) >= 0


def test_content_hash_differs_for_different_text():
    base = content_hash("Hòa Bình: lũ quét", "Người dân khỏe mạnh.")
    assert base != content_hash("Hòa Bình: lũ quét", "Người dân khỏe mạnh!")
    assert base != content_hash("Hòa Bình: lũ quét", "Nguoi dan khoe manh.")  # tones matter
    assert base != content_hash("Hòa Bình: lũ quét", "")


def test_dedup_key():
    assert dedup_key("  Thuỷ   ĐIỆN ") == dedup_key("thủy điện") == "thủy điện"
