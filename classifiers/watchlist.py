"""Watchlists: per-category phrases and regex patterns that flag an item on their own.

Why: moderators know tell-tale phrasings ("chia sẻ gấp", "Bộ Y tế cảnh báo khẩn") that a
statistical model may under-weight. A hit is shown by the rule's human name (a regex means
nothing to a moderator; only admins see the pattern), with the span it matched. Matching
is diacritic- and case-insensitive through ``text.fold_diacritics`` / ``text.search_key``
because much Vietnamese social-media text is typed without tone marks.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from classifiers.text import fold_diacritics, nfc, search_key

DEFAULT_WATCHLIST = Path(__file__).resolve().parent / "watchlist.yaml"
_WORDS = re.compile(r"\w+")
_PHRASE_KEYS = frozenset({"phrase", "name"})
_PATTERN_KEYS = frozenset({"regex", "anchor", "name"})


class WatchlistError(ValueError):
    """A watchlist that cannot be used; the message names the file and the entry to fix."""


@dataclass(frozen=True)
class Rule:
    """One compiled rule; `rule` is the phrase or pattern as written (admins only), `name` what moderators read."""

    category: str
    rule: str
    regex: re.Pattern[str]
    anchor: str = ""  # a pattern's literal that must occur in the folded text (cheap pre-check)
    words: tuple[str, ...] = ()  # a phrase's words: each must be a whole word of the text (pre-check)
    name: str = ""  # the human name; a rule written without one is named by its text


def phrase_regex(phrase: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A phrase as a whole-word regex over a folded key (see fold_keys), and its words.

    Why public: the item page highlights explanation terms with exactly the matching a phrase
    rule uses, so "chia se gap" in a text is marked wherever the rule would have hit."""
    folded = search_key(phrase)
    key = re.escape(folded).replace(r"\ ", r"\s+")
    # every \w+ run of the phrase is a whole \w+ run of any text it matches
    return re.compile(rf"(?<!\w){key}(?!\w)"), tuple(_WORDS.findall(folded))


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return fold_diacritics(ch).lower()


class _FoldTable(dict):
    """str.translate table: char -> its folded lower-case form when that is ONE char.

    Length-preserving, so a match's offsets in the key are its offsets in nfc(text); the
    table fills itself lazily and str.translate runs in C (watchlists run on every item)."""

    def __missing__(self, code: int) -> int:
        ch = chr(code)
        folded = _fold_char(ch)
        value = ord(folded) if len(folded) == 1 else code
        self[code] = value
        return value


_TABLE = _FoldTable()
_LUT_SIZE = 0x3000  # Latin (incl. Vietnamese 1E00-1EFF), Greek, Cyrillic, combining marks
_LUTS: list[np.ndarray] = []  # [folded code, folded code or space when not a \w character]


def _luts() -> list[np.ndarray]:
    if not _LUTS:
        folded = np.array([_TABLE[c] for c in range(_LUT_SIZE)], dtype=np.uint32)
        word = np.array([c if _WORDS.fullmatch(chr(c)) else 32 for c in folded.tolist()], dtype=np.uint32)
        _LUTS.extend((folded, word))
    return _LUTS


def _split(joined: str, texts: list[str]) -> list[str]:
    out, at = [], 0
    for t in texts:
        out.append(joined[at : at + len(t)])
        at += len(t)
    return out


def fold_keys(texts: list[str]) -> tuple[list[str], list[str]]:
    """For many NFC texts at once: ``t.translate(_TABLE)`` (the folded key a rule's regex runs on)
    and the same key with every non-word character blanked (its .split() = the key's word runs).

    Why: per-character str.translate and a word-regex findall per item were most of the watchlist's cost
    on every scored item; here they are numpy table look-ups over the batch. Code points past the
    table (emoji, CJK) go through _TABLE itself."""
    folded_lut, word_lut = _luts()
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    idx = np.minimum(codes, _LUT_SIZE - 1)
    folded, word = folded_lut[idx], word_lut[idx]
    high = np.flatnonzero(codes >= _LUT_SIZE)
    if len(high):
        values = [_TABLE[c] for c in codes[high].tolist()]
        folded[high] = values
        word[high] = [v if _WORDS.fullmatch(chr(v)) else 32 for v in values]
    return (_split(folded.tobytes().decode("utf-32-le", "surrogatepass"), texts),
            _split(word.tobytes().decode("utf-32-le", "surrogatepass"), texts))


class Watchlist:
    """Compiled watchlist; `match(text)` returns reasons as dicts {category, name, rule, match}."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    @classmethod
    def from_dict(cls, config: dict, source: str = "watchlist") -> Watchlist:
        """Build from {category: {phrases: [...], patterns: [...]}}; phrases match whole words.

        An entry is a plain string or a mapping with a human `name`: {phrase: ..., name: ...} or
        {regex: ..., anchor: ..., name: ...}. A malformed one raises WatchlistError naming `source`
        (the file) and the entry, because a committee's own file is edited by hand."""
        if not isinstance(config or {}, dict):
            raise WatchlistError(f"{source}: expected categories (misinformation:, harm:), got {config!r}")
        rules: list[Rule] = []
        for category, entry in (config or {}).items():
            entry = entry or {}
            if not isinstance(entry, dict) or not set(entry) <= {"phrases", "patterns"}:
                raise WatchlistError(f"{source}: category {category!r} must hold 'phrases:' and/or 'patterns:'"
                                     f" lists, got {entry!r}")
            for kind, build in (("phrases", _phrase_rule), ("patterns", _pattern_rule)):
                listed = entry.get(kind) or []
                if not isinstance(listed, list):
                    raise WatchlistError(f"{source}: {category} → {kind} must be a list, got {listed!r}")
                for number, spec in enumerate(listed, 1):
                    where = f"{source}: {category} → {kind}, entry {number} ({spec!r})"
                    rules.append(build(str(category), spec, where))
        return cls(rules)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Watchlist:
        """Load a YAML watchlist (default: the shipped classifiers/watchlist.yaml)."""
        path = path or DEFAULT_WATCHLIST
        with open(path, encoding="utf-8") as fh:
            try:
                config = yaml.safe_load(fh)
            except yaml.YAMLError as exc:
                raise WatchlistError(f"watchlist {path}: not valid YAML: {exc}") from exc
        return cls.from_dict(config or {}, source=f"watchlist {path}")

    @property
    def categories(self) -> set[str]:
        return {r.category for r in self.rules}

    def match(self, text: str) -> list[dict]:
        """All rule hits in `text`, one per rule, with the matched span in original script."""
        return self.match_many([text])[0]

    def match_many(self, texts: list[str]) -> list[list[dict]]:
        """``match`` for a batch (the folded keys are built for the whole batch at once)."""
        if not self.rules:
            return [[] for _ in texts]
        sources = [nfc(t) for t in texts]
        keys, word_keys = fold_keys(sources)  # same length as each source: offsets carry over
        return [self._hits(src, key, wk) if src else [] for src, key, wk in zip(sources, keys, word_keys, strict=True)]

    def _hits(self, src: str, key: str, word_key: str) -> list[dict]:
        hits: list[dict] = []
        words: set[str] | None = None
        for rule in self.rules:
            if rule.words:  # a phrase: all its words must be words of the text
                if words is None:
                    words = set(word_key.split())
                if not words.issuperset(rule.words):
                    continue
            elif rule.anchor and rule.anchor not in key:
                continue
            m = rule.regex.search(key)
            if m is None or m.end() <= m.start():
                continue
            hits.append({"category": rule.category, "name": rule.name, "rule": rule.rule,
                         "match": src[m.start() : m.end()]})
        return hits


def _is_text(value: object) -> bool:
    """A string, or a number YAML read from an unquoted one (`- 2020`): never null, a list or a mapping."""
    return not isinstance(value, bool) and isinstance(value, str | int | float) and bool(str(value).strip())


def _spec(spec: object, main: str, allowed: frozenset[str], where: str) -> dict[str, str]:
    """One entry as {main: text, name: ..., ...}: a plain string is its own text; anything else is an error."""
    if not isinstance(spec, dict):
        spec = {main: spec}
    if main not in spec or not set(spec) <= allowed:
        raise WatchlistError(f"{where}: needs '{main}:'; allowed keys are {', '.join(sorted(allowed))}")
    bad = [key for key, value in spec.items() if not _is_text(value)]
    if bad:
        raise WatchlistError(f"{where}: {', '.join(map(repr, bad))} must be non-empty text")
    return {key: str(value) for key, value in spec.items()}


def _phrase_rule(category: str, spec: object, where: str) -> Rule:
    entry = _spec(spec, "phrase", _PHRASE_KEYS, where)
    regex, words = phrase_regex(entry["phrase"])
    return Rule(category, entry["phrase"], regex, words=words, name=entry.get("name", entry["phrase"]).strip())


def _pattern_rule(category: str, spec: object, where: str) -> Rule:
    """A regex rule, written with or without tone marks (folded like the text it runs on)."""
    entry = _spec(spec, "regex", _PATTERN_KEYS, where)
    try:
        regex = re.compile(fold_diacritics(entry["regex"]), re.IGNORECASE)
    except re.error as exc:
        raise WatchlistError(f"{where}: not a valid regular expression: {exc}") from exc
    anchor = search_key(entry.get("anchor", ""))
    return Rule(category, entry["regex"], regex, anchor, name=entry.get("name", entry["regex"]).strip())
