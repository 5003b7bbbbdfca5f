"""The one text normaliser: NFC, Vietnamese tone placement, diacritic folding.

Dedup keys (monitor), classifier features (classifiers) and search keys (db/web)
all go through these functions, so that "hoà" and "hòa", NFD and NFC, and text
typed without tone marks compare the way a Vietnamese reader expects.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterator
from itertools import chain
from typing import NamedTuple

# Vietnamese tone marks as combining characters (after NFD).
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
# Vowel-quality marks that belong to the letter, not the tone: breve, circumflex, horn.
_QUALITY = {"\u0306", "\u0302", "\u031b"}
_VOWELS = set("aeiouyAEIOUY")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_SPACE = re.compile(r"\s+")


def nfc(text: str) -> str:
    """Unicode NFC, the only form text is stored in."""
    return unicodedata.normalize("NFC", text or "")


class _FoldTable(dict):
    """Code point → the character without its marks, filled on first use (str.translate table)."""

    def __missing__(self, code: int) -> str:
        parts = unicodedata.normalize("NFD", chr(code))
        folded = "".join(ch for ch in parts if not unicodedata.combining(ch)).replace("đ", "d").replace("Đ", "D")
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def fold_diacritics(text: str) -> str:
    """Strip every diacritic (tone and quality marks, đ→d): how people type without tone marks."""
    # Per character through a cached table (C-speed str.translate): the same result as NFD, drop the
    # combining marks, NFC — ~5x faster, and it runs three times per stored item (search index, shingles).
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text or "").translate(_FOLD))


def cased_like(word: str, model: str) -> str:
    """`word` in `model`'s case: all capitals, capitalised, or as it is (lower-case)."""
    if model.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


def search_key(text: str) -> str:
    """Lower-case, diacritic-folded, whitespace-collapsed: the key for search and near-dup shingles."""
    # split()/join collapses the same whitespace as re's \s (both use Python's isspace) at ~3x the speed:
    # this runs on every stored item (search index, shingles) and on every item the claims are matched on.
    return " ".join(fold_diacritics(text).lower().split())


_WORD_RUN = re.compile(r"\w+")
# Where Vietnamese text's characters come from: Basic Latin to Latin Extended-B, Latin Extended Additional,
# General Punctuation. Lower-casing is context-free there (Python's one contextual rule is Greek's final sigma).
USUAL_RANGES = ((0, 0x250), (0x1E00, 0x1F00), (0x2000, 0x2070))


class _FoldsAlike(dict):
    """Character → whether folding (search_key) keeps it the same kind: a word character (\\w) folds to
    word characters, another character to characters that are not word characters, and to something (a
    lone combining mark folds to nothing and would join the words around it). Filled on first sight."""

    def __missing__(self, char: str) -> bool:
        folded = fold_diacritics(char).lower()
        if not folded:
            alike = False
        elif _WORD_RUN.match(char):
            alike = all(_WORD_RUN.match(c) for c in folded)
        else:
            alike = not any(_WORD_RUN.match(c) for c in folded)
        self[char] = alike
        return alike


_FOLDS_ALIKE = _FoldsAlike()


@functools.cache
def _unusual_char() -> re.Pattern[str]:
    """A character outside USUAL_RANGES, or one there that does not fold alike (built on first use)."""
    usual = "".join(chr(c) for lo, hi in USUAL_RANGES for c in range(lo, hi) if _FOLDS_ALIKE[chr(c)])
    return re.compile(f"[^{re.escape(usual)}]")


def folds_alike(text: str) -> bool:
    """Whether every character of `text` folds alike (_FoldsAlike): then the \\w+ runs of its search_key
    are its own \\w+ runs, folded, in order (classifiers.places relies on it to skip texts)."""
    return not _unusual_char().search(text) or all(map(_FOLDS_ALIKE.__getitem__, set(text)))


class _WordFolds(dict):
    """A \\w+ run → the \\w+ runs of its search_key (one, for a run that folds alike). Filled on first sight."""

    LIMIT = 100_000  # distinct words kept; past it, start again

    def __missing__(self, word: str) -> tuple[str, ...]:
        if len(self) >= self.LIMIT:
            self.clear()
        out = self[word] = tuple(_WORD_RUN.findall(search_key(word)))
        return out


_WORD_FOLDS = _WordFolds()


def folded_words(text: str) -> list[str]:
    """The \\w+ runs of search_key(text), what Folded.words holds, folding each distinct word once (a cache)
    instead of the whole text, where that gives the same: a text of usual characters that fold alike. The
    claim matcher reads the words of the ~1 item in 10 that model_text changes (mostly by taking a link
    out) this way: folding such an article whole was a sixth of its time. Other texts are folded whole."""
    if _unusual_char().search(text):
        return _WORD_RUN.findall(search_key(text))
    return list(chain.from_iterable(map(_WORD_FOLDS.__getitem__, _WORD_RUN.findall(text))))


class Folded(NamedTuple):
    """A text's search_key and its words (the \\w+ runs of the key), for a caller that made them anyway:
    ingest folds every new item for its search index and shingles, and hands them to the claim matcher
    and the place tagger, so neither folds the text again (classifiers.claims, classifiers.places)."""

    key: str
    words: list[str]


def _place_tone(letters: list[list[str]], tone: str) -> None:
    """Put `tone` on the vowel the classic (dictionary) rule picks: hòa, thủy, hoàng, người."""
    n = len(letters)
    start = 0
    lower = "".join(group[0].lower() for group in letters)
    # "qu" and "gi" + vowel: the u / i belong to the consonant.
    if lower.startswith("qu") or (lower.startswith("gi") and n > 2 and lower[2] in "aeiouy"):
        start = 2
    vowel_idx = [i for i in range(start, n) if letters[i][0] in _VOWELS]
    if not vowel_idx:
        vowel_idx = [i for i in range(n) if letters[i][0] in _VOWELS]
    if not vowel_idx:
        return
    # Only the first contiguous vowel run forms the nucleus.
    run = [vowel_idx[0]]
    for i in vowel_idx[1:]:
        if i == run[-1] + 1:
            run.append(i)
        else:
            break
    marked = [i for i in run if any(m in _QUALITY for m in letters[i][1:])]
    if marked:
        target = marked[-1]  # ươ → on ơ
    elif len(run) == 1:
        target = run[0]
    elif run[-1] < n - 1:
        target = run[-1]  # closed syllable: hoàng, toán
    elif len(run) == 2:
        target = run[0]  # open syllable, classic rule: hòa, thủy, mía
    else:
        target = run[1]  # three vowels: oái, khuỷu
    letters[target].append(tone)


@functools.lru_cache(maxsize=1 << 16)  # a working set: each entry costs ~200 B for as long as the service runs
def _canonical_word(word: str) -> str:
    # Cached: a language has a few thousand distinct syllables, so memoising makes
    # normalize_tones ~6x faster on real text (the classifier scores thousands of items/s).
    decomposed = unicodedata.normalize("NFD", word)
    letters: list[list[str]] = []
    tones: list[str] = []
    for ch in decomposed:
        if ch in _TONES:
            tones.append(ch)
        elif unicodedata.combining(ch) and letters:
            letters[-1].append(ch)
        else:
            letters.append([ch])
    if len(tones) != 1:  # no tone, or not a Vietnamese syllable: leave it alone
        return unicodedata.normalize("NFC", word)
    vowel_flags = "".join("v" if group[0] in _VOWELS else "c" for group in letters)
    if len(re.findall("v+", vowel_flags)) > 1:  # vowels apart (café, numéro): not one Vietnamese syllable
        return unicodedata.normalize("NFC", word)
    _place_tone(letters, tones[0])
    return unicodedata.normalize("NFC", "".join("".join(group) for group in letters))


@functools.lru_cache(maxsize=1 << 16)
def _canonical_token(token: str) -> str:
    return _WORD.sub(lambda m: _canonical_word(m.group(0)), token)


def normalize_tones(text: str) -> str:
    """Move each syllable's tone mark to one canonical vowel, so placement variants compare equal.

    Works per space-separated token through a cache (a letter run never spans a space, so the result
    is the same as rewriting each word): ingest and features call this on every stored item.
    """
    text = nfc(text)
    if text.isascii():  # no tone marks to move
        return text
    return " ".join([_canonical_token(token) for token in text.split(" ")])


def dedup_key(text: str) -> str:
    """Key for exact-duplicate detection: NFC, canonical tones, lower-case, collapsed whitespace."""
    return _SPACE.sub(" ", normalize_tones(text).lower()).strip()


def content_hash(title: str | None, text: str | None) -> str:
    """Stable hash of an item's content, independent of tone placement, case and spacing."""
    key = dedup_key(f"{title or ''}\n{text or ''}")
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# --- model_text: the canonical text the classifier reads (issue 18) ---------------------------------
# Trivial edits that a reader does not notice must not move a score: invisible characters and
# look-alike letters inside words, an appended URL, teencode spellings. Kept apart from the
# functions above (dedup and search keys depend on them and must not change).

# Invisible format characters people (and evasion scripts) put inside words: soft hyphen, combining
# grapheme joiner, Mongolian vowel separator, zero-width space/non-joiner/joiner, LRM/RLM, bidi
# embeddings and isolates, word joiner and invisible operators, variation selectors, BOM. Dropped
# (not turned into spaces): inside a word they would split it into pieces the model never saw.
_INVISIBLE_CHARS = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u3164\uffa0\ufeff"
    + "".join(chr(c) for c in range(0x200B, 0x2010))
    + "".join(chr(c) for c in range(0x202A, 0x202F))
    + "".join(chr(c) for c in range(0x2060, 0x2065))
    + "".join(chr(c) for c in range(0x2066, 0x206A))
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)
# Lone surrogates (possible in JSON input, "\\ud800") are no text at all and crash hashing: dropped too.
_SURROGATES = "\ud800-\udfff"  # a character-class range
_INVISIBLE = re.compile(f"[{re.escape(_INVISIBLE_CHARS)}{_SURROGATES}]+")
# Cyrillic and Greek letters that render like a Latin letter in common fonts → that letter.
_LOOKALIKES = {
    # Cyrillic lower / upper
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "к": "k", "ү": "y",
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M", "О": "O",
    "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y", "Ү": "Y", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I",
    # Greek lower / upper
    "ο": "o", "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "γ": "y",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}
_LOOKALIKE = re.compile("[" + "".join(_LOOKALIKES) + "]")
# Precomposed letters built on a look-alike ("ӑ" = а + breve, "ό" = ο + tonos): a spoofed Vietnamese
# "ă" or "ố" composes into them under NFC, so they are decomposed before the mapping.
_LOOKALIKE_BASED = "".join(
    chr(c) for r in ((0x370, 0x400), (0x400, 0x530), (0x1F00, 0x2000))
    for c in range(*r) if len(unicodedata.normalize("NFD", chr(c))) > 1
    and unicodedata.normalize("NFD", chr(c))[0] in _LOOKALIKES
)
_SPOOFABLE = re.compile(f"[{''.join(_LOOKALIKES)}{_LOOKALIKE_BASED}]")
# One search tells whether the slow path is needed at all (~12 % of real text has one: mostly the
# emoji variation selector U+FE0F).
_SUSPECT = re.compile(f"[{re.escape(_INVISIBLE_CHARS)}{_SURROGATES}{''.join(_LOOKALIKES)}{_LOOKALIKE_BASED}]")
# A Cyrillic/Greek letter with no Latin twin: the text really is (partly) Russian, Greek, ...
_GENUINE_FOREIGN = re.compile(
    "[" + "".join(re.escape(chr(c)) for r in ((0x370, 0x400), (0x400, 0x530), (0x1F00, 0x2000))
                  for c in range(*r) if chr(c) not in _LOOKALIKES and chr(c).isalpha()) + "]"
)
# A word: letters and the combining marks that may sit on them (text is not NFC yet at this point).
_WORD_WITH_MARKS = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f])+")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")

# URLs, and the "<URL>" placeholder some corpora (VLSP, ReINTEL) put where a URL was, with the blanks
# around them: an appended link said nothing about the text, yet its "url" token and characters
# moved the harm score (issue 18). Bare domains ("vnexpress.net") stay: they name a source.
# Case-insensitive by explicit classes ("ſ" is the one other letter re.IGNORECASE takes for one of these),
# and the blanks around a link are taken by ``_url_spans``: a leading "[ \t]*" or re.IGNORECASE made the
# engine try every position of every text, twice as slow, and this runs on every scored item with a link.
_URL = re.compile(r"[hH][tT][tT][pP][sSſ]?://\S+|[wW][wW][wW]\.\S+|<[uU][rR][lL]>")

# Teencode → standard spelling, whole tokens only. Chosen from the counts in the ViHSD/VLSP/ViCTSD
# training comments, keeping only spellings whose reading in running Vietnamese is unambiguous:
#   không: ko, k, kh, khg, hok, hông (southern "hiểu hông"; "hông" = hip is rare in this text)
#   được: dc, đc, dk ("đk" left out: also "điều kiện", "đăng ký", "đa khoa" in news)
#   gì: j ("gi" left out: the folded features already read "gì" as "gi")
#   với: vs (sports "A vs B" reads the same)    người: ng    mọi người: mn    biết: bik, bjt
#   quá: wá    cũng: cx, cg    trước: trc    như thế nào: ntn    nhiều: nhìu    hôm nay: hnay
#   mình: mk, mik
# Left out as ambiguous: bít (a real word: "bưng bít", "bít tết"), r (rồi / a letter), b (bạn / a
# letter), bn (bạn / bệnh nhân "BN 91"), z / v (vậy / letters), ck (chồng / chuyển khoản), kg (không /
# kilogram), iu (yêu / a singer's name), lm (làm / liên minh), ns (nói / nanosecond).
TEENCODE: dict[str, str] = {
    "ko": "không", "k": "không", "kh": "không", "khg": "không", "hok": "không", "hông": "không",
    "dc": "được", "đc": "được", "dk": "được",
    "j": "gì",
    "vs": "với",
    "ng": "người", "mn": "mọi người",
    "bik": "biết", "bjt": "biết",
    "wá": "quá",
    "cx": "cũng", "cg": "cũng",
    "trc": "trước",
    "ntn": "như thế nào",
    "nhìu": "nhiều",
    "hnay": "hôm nay",
    "mk": "mình", "mik": "mình",
}
# Upper-case forms that are never an abbreviation: spelled out in mixed-case text too ("tôi KO biết"),
# where "DC", "KH", "NG", "VS" are left as abbreviations.
_NEVER_ABBREVIATIONS = frozenset({"ko", "khg", "hok", "hông", "bik", "bjt", "wá", "nhìu", "hnay", "mik"})


def _whole_words_regex(words: list[str]) -> re.Pattern[str]:
    """A regex for any of `words` as a whole word, grouped by first letter with the word-start check after
    that letter: the regex engine then skips ahead to candidate letters (~20 % faster than a plain
    alternation behind a look-behind, and this runs on every scored item)."""
    by_first: dict[str, list[str]] = {}
    for word in sorted(words, key=len, reverse=True):  # longest first: "khg" before "kh" before "k"
        by_first.setdefault(word[0], []).append(re.escape(word[1:]))
    alternatives = [f"{re.escape(c)}(?<!\\w{re.escape(c)})(?:{'|'.join(rests)})" for c, rests in by_first.items()]
    return re.compile("(?:" + "|".join(alternatives) + r")(?!\w)")


# Matched in the lower-cased text (IGNORECASE made the regex ~3x slower); the case comes from the original.
_TEEN = _whole_words_regex(list(TEENCODE))


def _latin_twin(match: re.Match[str]) -> str:
    return _LOOKALIKES[match.group(0)]


def _latinise_word(match: re.Match[str]) -> str:
    word = match.group(0)
    return _LOOKALIKE.sub(_latin_twin, word) if _LATIN_LETTER.search(word) else word


def _undo_lookalikes(text: str) -> str:
    """Map Cyrillic/Greek look-alike letters to Latin where they spoof a Latin word.

    With no genuine Cyrillic/Greek letter in the text, every look-alike is a spoof (even a word
    spoofed in full, "со" for "co"), so the whole text is translated. Otherwise only words that
    also hold Latin letters are, so Russian or Greek words keep their letters. (Works on NFD, where
    "ӑ" is а + breve; the caller composes again.)"""
    if not _SPOOFABLE.search(text):
        return text
    text = unicodedata.normalize("NFD", text)
    if not _GENUINE_FOREIGN.search(text):
        return _LOOKALIKE.sub(_latin_twin, text)
    return _WORD_WITH_MARKS.sub(_latinise_word, text)


def url_breaks(text: str) -> str:
    """`text` with each URL replaced by a punctuation mark: what explanations read, so a reason never
    spans the place a link stood ("thằng ngu <link> mất dạy" is not the phrase "ngu mất")."""
    return _without_urls(text or "", " | ", " | ")


def _url_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each URL of `text` with the spaces and tabs on both sides of it, left to right:
    what ``re.sub`` of "[ \\t]*(?:URL)[ \\t]*" would replace (blanks already taken by the previous link
    stay with it)."""
    last, n = 0, len(text)
    for m in _URL.finditer(text):
        start, end = m.span()
        while start > last and text[start - 1] in " \t":
            start -= 1
        while end < n and text[end] in " \t":
            end += 1
        yield start, end
        last = end


def _without_urls(text: str, inside: str, at_edge: str) -> str:
    """`text` with each URL (and the blanks around it) replaced by `inside`, or by `at_edge` where it
    touches either end of the text."""
    parts, last = [], 0
    for start, end in _url_spans(text):
        parts.append(text[last:start])
        parts.append(at_edge if start == 0 or end == len(text) else inside)
        last = end
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _word_before(s: str, start: int) -> str:
    """The whitespace-separated word (or glued prefix, "(" in "(k") before `start`; "" at the start.
    Looks at a short window only: this runs per match, and an article can be long."""
    words = s[max(0, start - 40) : start].rsplit(None, 1)
    return words[-1] if words else ""


def _word_after(s: str, end: int) -> str:
    """The whitespace-separated word after `end` when a blank follows it ("" otherwise)."""
    words = s[end : end + 40].split(None, 1)
    return words[0] if words and s[end : end + 1].isspace() else ""


def _initial_or_unit(s: str, start: int, end: int) -> bool:
    """A lone "k"/"j" that is not teencode: an initial ("N.V.K", "J. Marine", "N K H", "K-pop") or a unit
    after a number ("50 k" = 50 nghìn)."""
    if s[start - 1 : start] in (".", "-") or s[end : end + 1] == "-":
        return True
    if s[start].isupper() and s[end : end + 1] == ".":
        return True
    before, after = _word_before(s, start), _word_after(s, end)
    if before.rstrip(".,:\u20e3")[-1:].isdigit():  # also "5⃣k" (keycap digits)
        return True
    return any(len(w.rstrip(".,")) == 1 and w[0] in _INITIALS for w in (before, after))


# One-letter words read as initials. Not K/J ("ko k", "j k" are teencode) and not vowels: a lone "E",
# "A" in a comment is "em", "anh".
_INITIALS = set("BCDFGHLMNPQRSTVWXZĐ")


def _shouted(s: str, start: int, end: int) -> bool:
    """Are the words on both sides of s[start:end] in capitals? Then case says nothing ("NÓI J CX THÀNH").
    Words without letters (emoji, numbers) do not count."""
    cased = [w for w in (_word_before(s, start), _word_after(s, end)) if w.lower() != w.upper()]
    return bool(cased) and all(w.isupper() for w in cased)


def _reads_as_teencode(s: str, start: int, end: int, key: str, mode: str) -> bool:
    """Is the capitalised token s[start:end] teencode rather than an abbreviation ("DC", "KH", "NG")?

    `mode` is "caps" for an all-capitals text with Vietnamese letters, "caps ascii" for one in plain
    ASCII (English, or Vietnamese typed without marks), "ascii" / "" for mixed-case text with / without
    only ASCII. In ASCII text a capitalised run is as likely English ("CT IL MI MN NC", "50 STATES AND
    DC"), so there only the spellings no abbreviation takes count."""
    if key in _NEVER_ABBREVIATIONS or mode == "caps":
        return True
    if mode == "caps ascii":
        return False
    if end - start == 1 and _word_after(s, end)[:1].islower():  # "K có" is "không có"; not "vitamin K", "K ATM"
        return True
    return mode == "" and _shouted(s, start, end)


def _expansion(s: str, start: int, end: int, mode: str) -> str:
    """The standard spelling of the teencode s[start:end] in its case, or the token itself where the
    context says it is an initial, a unit, a name or a label ("Ng." = Nguyễn, "ĐC:" = địa chỉ)."""
    word = s[start:end]
    key = word.lower()
    if len(word) == 1 and _initial_or_unit(s, start, end):
        return word
    if word.isupper() and not _reads_as_teencode(s, start, end, key, mode):
        return word
    if (word == "Ng" and s[end : end + 1] == ".") or (len(word) > 1 and s[end : end + 1] == ":"):
        return word
    out = TEENCODE[key]
    if mode.startswith("caps") or (word.isupper() and (len(word) > 1 or _shouted(s, start, end))):
        return out.upper()
    return out[0].upper() + out[1:] if word[0].isupper() else out


# (all capitals?, only ASCII?) → the mode _reads_as_teencode takes.
_MODES = {(True, False): "caps", (True, True): "caps ascii", (False, True): "ascii", (False, False): ""}


def _expand_teencode(text: str) -> str:
    """Spell out every teencode token of `text` (see TEENCODE)."""
    low = text.lower()
    if len(low) != len(text):  # a rare letter whose lower case is longer ("İ"): positions would drift
        return text
    mode = _MODES[text.isupper(), text.isascii()]
    parts, last = [], 0
    for m in _TEEN.finditer(low):  # (no prefilter: a split()-set look-up missed the ~3 % glued to punctuation)
        parts.append(text[last : m.start()])
        parts.append(_expansion(text, m.start(), m.end(), mode))
        last = m.end()
    parts.append(text[last:])
    return "".join(parts)


# Cached for the last texts: ingest reads each new item twice, through the classifier (features) and the
# claim matcher (classifiers.claims), a few hundred items at a time, and this costs ~30 µs per item.
# 512 texts of a few KB: a few MB at most.
@functools.lru_cache(maxsize=512)
def model_text(text: str) -> str:
    """The canonical text the classifier reads: trivial perturbations undone (issue 18).

    NFC with invisible characters dropped, look-alike Cyrillic/Greek letters turned back into the Latin
    ones they imitate, URLs (and "<URL>" placeholders) removed, common teencode spelled out. Case and
    tone marks are left alone (the features lower-case and add diacritic-folded n-grams themselves).
    Runs on every scored item: pure-ASCII text skips the Unicode steps, one regex search decides
    whether the invisible/look-alike step is needed, teencode is found by one regex over the lower-cased
    text, and Python code runs only on matches.
    """
    text = text or ""
    if not text.isascii():
        if _SUSPECT.search(text):
            text = _undo_lookalikes(_INVISIBLE.sub("", text))
        text = unicodedata.normalize("NFC", text)
    if "://" in text or "www." in text or "WWW." in text or "<URL>" in text or "<url>" in text:
        text = _without_urls(text, " ", "")  # one space between words, none at either end
    return _expand_teencode(text)
