"""Trivial perturbations of a text, and how much each moves the shipped model's ROC-AUC (issue 18).

A reader does not notice an appended link, invisible characters or look-alike letters inside words,
all capitals, teencode or missing tone marks, so none of them should move a score. Each helper is
deterministic given `seed` (the random choices are seeded by the seed and the text), so a test or a
bench run perturbs the same items the same way every time. `measure` scores a fixed sample of a
test split clean and perturbed, with and without `classifiers.text.model_text` in front, and is
shared by tests/test_robustness.py and bench/bench_robustness.py.
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from classifiers.text import cased_like, fold_diacritics

_URL_PREFIXES = (
    "https://bit.ly/", "https://t.co/", "https://www.facebook.com/share/p/", "https://youtu.be/",
    "https://tinyurl.com/", "https://vnexpress.net/tin-", "http://zalo.me/g/", "www.tiktok.com/@",
)
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
# Latin letter → a Cyrillic letter drawn the same in common fonts.
HOMOGLYPHS = {
    "a": "а", "c": "с", "e": "е", "i": "і", "j": "ј", "o": "о", "p": "р", "s": "ѕ", "x": "х", "y": "у",
    "d": "ԁ", "q": "ԛ", "w": "ԝ", "h": "һ",
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "I": "І", "J": "Ј", "K": "К", "M": "М", "O": "О",
    "P": "Р", "S": "Ѕ", "T": "Т", "X": "Х", "Y": "У",
}
# Standard word → the teencode people write for it (the reverse of classifiers.text.TEENCODE).
TEENCODE_OF = {
    "không": ("ko", "k", "hok", "kh"), "được": ("dc", "đc"), "gì": ("j",), "với": ("vs",), "người": ("ng",),
    "mọi người": ("mn",), "biết": ("bik",), "quá": ("wá",), "cũng": ("cx",), "trước": ("trc",),
    "như thế nào": ("ntn",), "nhiều": ("nhìu",), "hôm nay": ("hnay",), "mình": ("mk",),
}
_STANDARD = re.compile(
    r"(?<!\w)(?:" + "|".join(sorted(map(re.escape, TEENCODE_OF), key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE
)
_WORD = re.compile(r"[^\W\d_]{2,}")


def _rng(seed: int, text: str) -> random.Random:
    """A generator seeded by the seed and the text: the same item is perturbed the same way every run,
    different items differently."""
    return random.Random(f"{seed}\x00{text}")


def append_url(text: str, seed: int = 0) -> str:
    """The text with a link after it, as a share or a spam comment carries one."""
    rng = _rng(seed, text)
    path = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(6, 12)))
    return f"{text} {rng.choice(_URL_PREFIXES)}{path}"


def _inside_words(text: str, rate: float, seed: int, pick: Callable[[random.Random], str]) -> str:
    """Insert pick(rng) at a random inner position of each word of 2+ letters, with probability `rate`."""
    rng = _rng(seed, text)

    def put(match: re.Match[str]) -> str:
        word = match.group(0)
        if rng.random() >= rate:
            return word
        i = rng.randint(1, len(word) - 1)
        return word[:i] + pick(rng) + word[i:]

    return _WORD.sub(put, unicodedata.normalize("NFC", text))


def insert_zero_width(text: str, seed: int = 0, rate: float = 0.5) -> str:
    """Zero-width space / (non-)joiner / word joiner / BOM inside words: invisible, splits the tokens."""
    return _inside_words(text, rate, seed, lambda rng: rng.choice(_ZERO_WIDTH))


def insert_soft_hyphens(text: str, seed: int = 0, rate: float = 0.5) -> str:
    """Soft hyphens (U+00AD) inside words: invisible unless the word breaks at a line end."""
    return _inside_words(text, rate, seed, lambda rng: "\u00ad")


def lookalike_letters(text: str, seed: int = 0, rate: float = 0.3) -> str:
    """Replace Latin letters (also the base letters of toned vowels: "ố" = о + marks) by Cyrillic
    homoglyphs with probability `rate` each."""
    rng = _rng(seed, text)
    out = [HOMOGLYPHS[ch] if ch in HOMOGLYPHS and rng.random() < rate else ch
           for ch in unicodedata.normalize("NFD", text)]
    return unicodedata.normalize("NFC", "".join(out))


def all_caps(text: str, seed: int = 0) -> str:
    """The text shouted. (`seed` unused: kept for one signature across perturbations.)"""
    return text.upper()


def teencode(text: str, seed: int = 0, rate: float = 1.0) -> str:
    """Common words written in teencode (không → ko/k/hok/kh, được → dc/đc, gì → j, ...), each
    occurrence with probability `rate`, in the case of the word it replaces."""
    rng = _rng(seed, text)

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        if rng.random() >= rate:
            return word
        return cased_like(rng.choice(TEENCODE_OF[word.lower()]), word)

    return _STANDARD.sub(swap, unicodedata.normalize("NFC", text))


def strip_tones(text: str, seed: int = 0) -> str:
    """The text typed without any diacritic (tone and vowel marks, đ → d). (`seed` unused.)"""
    return fold_diacritics(text)


PERTURBATIONS: dict[str, Callable[[str, int], str]] = {
    "url appended": append_url,
    "zero-width characters": insert_zero_width,
    "soft hyphens": insert_soft_hyphens,
    "look-alike letters": lookalike_letters,
    "all capitals": all_caps,
    "teencode": teencode,
    "tone marks stripped": strip_tones,
}
MISINFORMATION_SETS = ("vi_reintel2020", "vi_vnnews_v2", "en_constraint_covid19")
HARM_SETS = ("vi_vihsd", "vi_victsd_toxicity", "vi_vlsp2019_hsd")
VIETNAMESE_SETS = ("vi_reintel2020", "vi_vnnews_v2", "vi_vihsd", "vi_victsd_toxicity", "vi_vlsp2019_hsd")
# Test sets each perturbation is measured on: teencode and tone marks only exist in Vietnamese text.
AFFECTED: dict[str, tuple[str, ...]] = {
    name: VIETNAMESE_SETS if name in ("teencode", "tone marks stripped") else MISINFORMATION_SETS + HARM_SETS
    for name in PERTURBATIONS
}
# Largest allowed ROC-AUC change (issue 18).
TOLERANCE = {name: 0.02 if name == "tone marks stripped" else 0.01 for name in PERTURBATIONS}


@dataclass(frozen=True)
class Sample:
    """A fixed sample of one test split: texts, binary labels and the category whose score is ranked."""

    dataset: str
    category: str
    texts: list[str]
    labels: list[int]


def load_sample(dataset: str, limit: int | None = 2000, seed: int = 0) -> Sample:
    """Up to `limit` rows of the dataset's test split, the same rows every run (test time stays modest)."""
    from classifiers.data import SPECS, load_split

    rows = load_split(dataset, "test")
    if limit is not None and len(rows) > limit:
        keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
        rows = [rows[i] for i in keep]
    spec = SPECS[dataset]
    return Sample(dataset, spec.category, [r["text"] for r in rows], [spec.binary(r["label"]) for r in rows])


def category_auc(score: Callable[[list[str]], Sequence[Sequence[float]]], categories: Sequence[str],
                 sample: Sample, texts: list[str]) -> float:
    """ROC-AUC of the sample's category score over `texts` (the sample's texts, possibly perturbed)."""
    from sklearn.metrics import roc_auc_score

    column = list(categories).index(sample.category)
    probs = score(texts)
    return float(roc_auc_score(sample.labels, [row[column] for row in probs]))


@dataclass(frozen=True)
class Shift:
    """ROC-AUC of one dataset clean and perturbed, read raw and through model_text."""

    perturbation: str
    dataset: str
    clean_raw: float
    perturbed_raw: float
    clean_model_text: float
    perturbed_model_text: float

    @property
    def change_raw(self) -> float:
        return self.perturbed_raw - self.clean_raw

    @property
    def change(self) -> float:
        """What the wired classifier shows: model_text on both sides."""
        return self.perturbed_model_text - self.clean_model_text


def scorer_for(model, dataset: str) -> Callable[[list[str]], Sequence[Sequence[float]]]:
    """The deployed category probabilities for texts of `dataset`, scored as its kind of item."""
    from classifiers.data import SPECS

    kind = SPECS[dataset].kind
    return lambda texts: model.category_proba(texts, kinds=[kind] * len(texts))


def flagged_for(model, dataset: str, category: str, texts: list[str]) -> list[bool]:
    """Whether each text, scored as `dataset`'s kind of item, is flagged for `category` (its own threshold)."""
    from classifiers.data import SPECS

    scores = model.score(texts, explain=False, kinds=[SPECS[dataset].kind] * len(texts))
    return [category in s.flagged for s in scores]


def measure(score: Callable[[list[str]], Sequence[Sequence[float]]], categories: Sequence[str], sample: Sample,
            perturbation: str, seed: int = 0, clean: dict[str, float] | None = None) -> Shift:
    """Score `sample` perturbed by `perturbation`, raw and through model_text; `clean` may carry the
    clean AUCs ({"raw": ..., "model_text": ...}) already computed for this sample."""
    from classifiers.text import model_text

    perturb = PERTURBATIONS[perturbation]
    perturbed = [perturb(t, seed) for t in sample.texts]
    if clean is None:
        clean = clean_aucs(score, categories, sample)
    return Shift(
        perturbation, sample.dataset, clean["raw"],
        category_auc(score, categories, sample, perturbed),
        clean["model_text"],
        category_auc(score, categories, sample, [model_text(t) for t in perturbed]),
    )


def clean_aucs(score: Callable[[list[str]], Sequence[Sequence[float]]], categories: Sequence[str],
               sample: Sample) -> dict[str, float]:
    """The sample's clean ROC-AUC, raw and through model_text (computed once per dataset)."""
    from classifiers.text import model_text

    return {
        "raw": category_auc(score, categories, sample, sample.texts),
        "model_text": category_auc(score, categories, sample, [model_text(t) for t in sample.texts]),
    }
