"""Readable reasons: which words and phrases of an item pushed a category's score up.

Why a module of its own: the model computes each n-gram's exact share of a category's log-odds
(``Model._explain_batch``); what a moderator should *read* is a different question. A reason is a
whole word or a phrase of 1-3 syllables (Vietnamese words are mostly two syllables: "tế" alone is
a fragment of "tế bào"), never a function word ("này", "hãy", "bị", "là"), and its contribution
is everything the model gives that stretch of text: the phrase's own weight plus the weights of
the shorter n-grams inside it. Choosing the strongest non-overlapping stretches then prefers the
phrase "tế bào" over its fragment whenever the phrase carries more.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from classifiers.text import fold_diacritics

MAX_TERMS = 5
MAX_SYLLABLES = 3
# A stretch that moves the log-odds by less than this is not a reason anyone should read.
MIN_CONTRIBUTION = 0.05

# Function words, pronouns, particles and auxiliaries (Vietnamese, with and without tone marks via
# folding at lookup), and the commonest English and French ones. A phrase may not start or end with
# one, and a single stop word is never a reason.
_VI = """
và của có không được cho với các những một là thì mà nhưng rằng cũng lại nữa rồi ra vào lên xuống ở
tại từ đến trong ngoài trên dưới khi nếu vì do nên để như thế này nào gì ai đó đây kia ấy nhau tôi
bạn anh chị em mình họ chúng ta nó ông bà cô chú cháu vẫn còn đều rất quá lắm nhiều ít hơn nhất mới
vừa chỉ cả mọi mỗi từng nhé nha ạ à ơi ư nhỉ chứ vậy thôi luôn ngay đâu sao bao giờ đã sẽ đang bị
hãy đi đừng chưa cái chiếc người việc khi lúc này kìa thế_là thì_là cùng theo về qua bằng
hay hoặc nhưng_mà tuy dù mặc nếu_như vì_vậy do_đó hết vẫn_còn luôn_luôn nhé_nha hả hử đấy đó_là
mấy vài các_bạn mọi_người chúng_tôi chúng_ta năm ngày tháng số làm nói biết phải nay trước sau thể bởi thêm
"""
# (English and French words that are also Vietnamese syllables: "an", "to", "in", "me", "my", "tu", "sa",
# "son", are left out: "an ninh", "to lớn", "Mỹ" must stay readable reasons.)
_EN = """
a the and or but if of on at by for with from as is are was were be been being it its this
that these those i you he she we they him her us them your his our their not no do does did
have has had will would can could should may might must so than then there here what which who whom
how why when where all any some just very also about into over out up down url more after
"""
_FR = """
le la les un une des de du et ou mais si à au aux en dans sur par pour avec sans est sont été être il
elle ils elles on nous vous je ce cette ces se ses leur leurs qui que quoi ne pas plus très
"""
# As written (the weekly report's top terms count exact tokens), and with their tone-less forms too
# (a reason must not be "bi" in text typed without marks).
STOP_WORDS_AS_WRITTEN = frozenset(w.replace("_", " ") for w in (_VI + _EN + _FR).split())


STOP_WORDS_TONELESS = frozenset(fold_diacritics(w).lower() for w in STOP_WORDS_AS_WRITTEN)


@functools.lru_cache(maxsize=1 << 16)
def is_stop(token: str) -> bool:
    """A function word, a number, or a single letter. A token typed without tone marks is also checked
    against the stop words' tone-less forms ("bi" for "bị"); one with marks only as written, so "chữa"
    (cure) is never taken for "chưa" (not yet)."""
    if token in STOP_WORDS_AS_WRITTEN or token.isdigit() or len(token) < 2:
        return True
    return token in STOP_WORDS_TONELESS and fold_diacritics(token) == token


def readable_terms(tokens: Sequence[str], candidates: list[tuple[int, int, float]], limit: int = MAX_TERMS) -> list[dict]:
    """The strongest non-overlapping stretches of `tokens` as reasons.

    candidates: (start, n_syllables, contribution), strongest first, already restricted to stretches
    that may be shown (no stop word at an edge, inside one clause: ``model._stretch_totals``); a
    stretch's contribution sums every n-gram inside it. Weak ones, ones overlapping a chosen stretch
    and repeats of a chosen text are passed over.
    """
    chosen: list[dict] = []
    used: set[int] = set()
    terms: set[str] = set()
    for start, n, value in candidates:
        if value < MIN_CONTRIBUTION or len(chosen) >= limit:
            break
        span = range(start, start + n)
        if not used.isdisjoint(span):
            continue
        term = " ".join(tokens[start : start + n])
        if term in terms:
            continue
        used.update(span)
        terms.add(term)
        chosen.append({"term": term, "contribution": round(float(value), 3)})
    return chosen
