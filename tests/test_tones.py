"""The tone restorer the second stage reads toneless text through (classifiers/tones.py), on generated text."""

from __future__ import annotations

import unicodedata

from classifiers.text import fold_diacritics
from classifiers.tones import ToneRestorer, fit_restorer

SENTENCES = [
    "Ngân hàng sắp đóng cửa, mọi người rút tiền ngay",
    "Mọi người đi học đúng giờ",
    "Bác sĩ nói uống nước chanh không chữa được ung thư",
    "Mới có tin ngân hàng tăng lãi suất",
    "Mỗi ngày một tin, mới là dân chủ",
    "Người dân xếp hàng rút tiền ở ngân hàng",
]


def restorer(extra: list[str] | None = None) -> ToneRestorer:
    return ToneRestorer(fit_restorer(SENTENCES * 3 + (extra or [])))


def test_restores_the_marks_of_text_it_has_seen_in_its_own_case():
    r = restorer()
    for sentence in SENTENCES:
        assert r.restore(fold_diacritics(sentence)) == sentence
    assert r.restore("NGAN HANG SAP DONG CUA") == "NGÂN HÀNG SẮP ĐÓNG CỬA"


def test_context_chooses_between_forms_of_one_toneless_syllable():
    r = restorer()
    assert r.restore("moi nguoi di hoc") == "mọi người đi học"  # "moi": mọi here ...
    assert r.restore("moi co tin ngan hang") == "mới có tin ngân hàng"  # ... mới here


def test_a_frequent_word_does_not_hand_its_unseen_pairs_to_a_rare_misspelling():
    # "người" is followed by many words, "ngừoi" (a misspelling) once by "rút": a pair unseen after "người"
    # must still go to "người" (Witten-Bell smoothing; a fixed backoff weight chose "ngừoi")
    followers = ["đi", "dân", "nói", "bán", "mua", "xem", "hỏi", "làm", "chơi", "ăn"]
    extra = [f"người {w}" for w in followers] * 5 + ["ngừoi rút", "ngừoi rút"]
    assert restorer(extra).restore("moi nguoi rut tien") == "mọi người rút tiền"


def test_marked_words_foreign_text_and_unknown_words_are_left_as_written():
    r = restorer()
    assert r.restore("ngân hàng sắp dong cua") == "ngân hàng sắp đóng cửa"  # marked words kept, the others restored
    assert r.restore("Ngân Hàng") == "Ngân Hàng"
    english = "the bank is closing, people withdraw money now"
    assert r.restore(english) == english
    assert r.restore("") == "" and r.restore("123 !!!") == "123 !!!"
    assert r.restore("ngan hang xyzq dong cua") == "ngân hàng xyzq đóng cửa"  # an unknown word breaks no chain


def test_training_text_in_nfd_counts_as_the_same_syllables():
    nfd = [unicodedata.normalize("NFD", s) for s in SENTENCES]
    r = ToneRestorer(fit_restorer(nfd * 3))
    assert r.restore(fold_diacritics(SENTENCES[0])) == SENTENCES[0]
    assert all(unicodedata.is_normalized("NFC", s) for s in r.syllables)


def test_state_is_plain_data():
    state = fit_restorer(SENTENCES)
    assert isinstance(state["syllables"], str)
    assert len(state["unigram"]) == len(state["followers"]) == len(state["syllables"].split("\n"))
    assert list(state["bigram_keys"]) == sorted(state["bigram_keys"])


def test_after_an_unknown_word_the_next_is_still_weighed_by_how_common_each_form_is():
    # "mà" is far more common than "mạ"; "mạ lúa" is a real pair but "mà lúa" is seen more: an unknown word
    # before "ma" must not leave the choice to the pair alone with the word's own frequency dropped
    extra = ["mà anh nói"] * 100 + ["mà lúa"] * 4 + ["mạ lúa"] * 2 + ["anh em ta"] * 3
    r = restorer(extra)
    assert r.restore("anh em ta ma lua") == r.restore("anh em xyzq ma lua").replace("xyzq", "ta") == "anh em ta mà lúa"


def test_words_already_spelt_out_with_marks_count_as_vietnamese():
    # model_text spells teencode out with marks ("dc ko" → "được không"): the rest of the text is still restored
    r = restorer(["được không"] * 3)
    assert r.restore("ngan hang sap dong cua, được không") == "ngân hàng sắp đóng cửa, được không"
