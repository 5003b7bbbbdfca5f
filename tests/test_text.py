"""The one text normaliser: NFC, tone placement, folding, search keys and content hashes."""

from __future__ import annotations

import unicodedata

import pytest

from classifiers.text import (
    TEENCODE,
    content_hash,
    dedup_key,
    fold_diacritics,
    folded_words,
    folds_alike,
    model_text,
    nfc,
    normalize_tones,
    search_key,
)
from tests import corpus

LEGACY = corpus.REALWORLD / "feeds" / "vietnamese" / "legacy-encodings"
# The same Vietnamese text as windows-1258 bytes (tones as separate combining marks) and as UTF-8.
LEGACY_PAIRS = [
    pytest.param(corpus.FIXTURES / "legacy-encodings" / "vi_windows-1258.txt",
                 corpus.FIXTURES / "legacy-encodings" / "vi_utf-8.txt", id="project"),
    corpus.param(LEGACY / "uchardet_vi_windows-1258.txt", LEGACY / "uchardet_vi_utf-8.txt",
                 needs="realworld", id="uchardet"),
]


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


@pytest.mark.parametrize("cp1258_file, utf8_file", LEGACY_PAIRS)
def test_legacy_files_are_there(cp1258_file, utf8_file):
    assert cp1258_file.is_file()
    assert utf8_file.is_file()


@pytest.mark.parametrize("cp1258_file, utf8_file", LEGACY_PAIRS)
def test_cp1258_decoded_text_equals_utf8_after_nfc(cp1258_file, utf8_file):
    legacy = cp1258_file.read_bytes().decode("cp1258")
    modern = utf8_file.read_bytes().decode("utf-8")
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


# -- model_text: the canonical text the classifier reads (issue 18) ---------------------------------

@pytest.mark.parametrize("spoofed, clean", [
    ("tin gi\u200bả", "tin giả"), ("chia\u00ad sẻ", "chia sẻ"), ("gấ\u2060p\ufeff", "gấp"),
    ("vắc\u200d-xin\u200c", "vắc-xin"), ("\u202ehoax\u202c", "hoax"), ("tin ❤\ufe0f", "tin ❤"),
])
def test_model_text_drops_invisible_characters(spoofed, clean):
    assert model_text(spoofed) == clean


def test_model_text_composes_after_dropping_between_letter_and_mark():
    # a zero-width space between "a" and its combining acute would otherwise leave them apart
    assert model_text("ca\u200b\u0301") == "cá"
    assert unicodedata.is_normalized("NFC", model_text(nfd("Hoà Bình \u00adđẹp")))


@pytest.mark.parametrize("spoofed, clean", [
    ("Bộ Y tế сảnh báо", "Bộ Y tế cảnh báo"),        # Cyrillic с, о inside Vietnamese words
    ("со ăn", "co ăn"),                              # a word spoofed in full, in otherwise Latin text
    ("TIN GIẢ: ВỘ Υ ТẾ", "TIN GIẢ: BỘ Y TẾ"),       # Cyrillic/Greek capitals
    ("bӑ̀ng lái", "bằng lái"),                       # "ӑ" = Cyrillic а + breve, as NFC composes it
    ("hοax vaccine", "hoax vaccine"),                # Greek omicron
])
def test_model_text_maps_lookalike_letters_back(spoofed, clean):
    assert spoofed != clean
    assert model_text(spoofed) == clean


@pytest.mark.parametrize("text", [
    "Привет мир, это сообщение", "Москва сообщает", "Η Ελλάδα και ο κόσμος", "Bản tin từ Москва: сообщение",
])
def test_model_text_keeps_genuine_cyrillic_and_greek(text):
    assert model_text(text) == text


def test_model_text_maps_spoofs_beside_genuine_cyrillic_word_by_word():
    assert model_text("Tin từ Москва: сó người nói") == "Tin từ Москва: có người nói"


@pytest.mark.parametrize("text, clean", [
    ("Xem ngay https://bit.ly/3xYz", "Xem ngay"),
    ("https://t.co/abc tin nóng", "tin nóng"),
    ("link: www.example.com/a?b=1 nhé", "link: nhé"),
    ("Thế Giới . <URL> Thế Giới", "Thế Giới . Thế Giới"),
    ("HTTPS://EXAMPLE.COM/X ĐỌC ĐI", "ĐỌC ĐI"),
    ("nguồn vnexpress.net đưa tin", "nguồn vnexpress.net đưa tin"),  # a bare domain names a source: kept
])
def test_model_text_removes_urls(text, clean):
    assert model_text(text) == clean


@pytest.mark.parametrize("text, expanded", [
    ("ko biết j", "không biết gì"),
    ("Ko dc đâu", "Không được đâu"),
    ("TIN NÀY KO ĐC", "TIN NÀY KHÔNG ĐƯỢC"),
    ("K có ai vs mk", "Không có ai với mình"),
    ("mn ơi, hnay ntn?", "mọi người ơi, hôm nay như thế nào?"),
    ("ko,dc", "không,được"),
    ("tôi k.", "tôi không."),
    ("Tôi nhận ra NG CÓ TIỀN NÓI J CX THÀNH đó", "Tôi nhận ra NG CÓ TIỀN NÓI GÌ CŨNG THÀNH đó"),
])
def test_model_text_expands_teencode(text, expanded):
    assert model_text(text) == expanded


@pytest.mark.parametrize("text", [
    "giá 50k", "giá 50 k một hộp", "chị N T K H 26 tuổi", "ông N.V.K", "Joshua J. Marine", "vitamin K",
    "K-pop", "Washington DC", "Bộ KH ĐT", "50 STATES AND DC", "Ng. Văn A", "đc: số 51", "gi gi", "bưng bít",
    "kkk", "kg", "khong biet",
])
def test_model_text_leaves_units_initials_abbreviations_and_words_alone(text):
    assert model_text(text) == text


def test_teencode_expansions_are_standard_words():
    for spelling, word in TEENCODE.items():
        assert spelling != word and spelling == spelling.lower()
        assert model_text(spelling) == word
        assert model_text(word) == word  # idempotent: an expansion is never expanded again


def test_model_text_leaves_clean_text_and_existing_normalisers_alone():
    text = "Chiều 13/12, UBND tỉnh Thanh Hóa tổ chức hội nghị; người dân không được chia sẻ tin giả."
    assert model_text(text) == text
    assert model_text(nfd(text)) == text
    assert model_text("") == "" and model_text(None) == ""  # type: ignore[arg-type]
    # the older normalisers (dedup, search) do not apply it: their keys must not move
    assert search_key("ko dc https://x.y/z") == "ko dc https://x.y/z"
    assert dedup_key("сo") != dedup_key("co")


@pytest.mark.parametrize("text", [
    "Ngân hàng Nhà nước sẽ đổi tiền mới https://x.example/a?b=1 từ ngày 1/7",
    "ĐỂ Ý: Thanh_Hóa, Nghệ-An — “tin giả” … 50k/người",
    nfd("Lũ ở Quỳnh Lưu, Nghệ An"),  # combining marks: folded whole
    "x\u0301y và ở\u0301Vinh",  # a lone mark folds away and joins its neighbours
    "ΟΔΟΣ’A ΟΔΟΣ. Σ",  # Greek's final sigma is lower-cased by what follows the word
    "İstanbul ǅemal ﬁnal ß ² ½ ①",  # letters whose lower case or fold is longer, or a digit
    "Москва и Ханой 😀 ❤️ #tag @user",
    "", "   ", "___", "a_b c__d",
])
def test_folded_words_are_the_words_of_the_folded_text(text):
    """folded_words folds word by word where that gives the same as folding the whole text."""
    import re

    assert folded_words(text) == re.findall(r"\w+", search_key(text))


def test_folds_alike_says_which_texts_fold_word_by_word():
    assert folds_alike("Mưa lớn ở Thanh Hóa, “tin” — 50%") and folds_alike("Москва")
    assert not folds_alike("x\u0301y")  # the mark folds to nothing
