"""Watchlists: per-category phrases and regex patterns that flag an item on their own.

Why: moderators know tell-tale phrasings ("chia sẻ gấp", "Bộ Y tế cảnh báo khẩn") that a
statistical model may under-weight; a rule hit is shown verbatim as the reason. Matching
is diacritic- and case-insensitive through ``text.fold_diacritics`` / ``text.search_key``
because much Vietnamese social-media text is typed without tone marks.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from classifiers.text import fold_diacritics, nfc, search_key

DEFAULT_WATCHLIST = Path(__file__).resolve().parent / "watchlist.yaml"
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Rule:
    """One compiled rule; `rule` is the entry as written in the config (shown to moderators)."""

    category: str
    rule: str
    regex: re.Pattern[str]
    anchor: str = ""  # literal that must occur in the folded text (cheap pre-check)
    words: tuple[str, ...] = ()  # a phrase's words: each must be a whole word of the text (pre-check)


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


class Watchlist:
    """Compiled watchlist; `match(text)` returns reasons as dicts {category, rule, match}."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    @classmethod
    def from_dict(cls, config: dict) -> Watchlist:
        """Build from {category: {phrases: [...], patterns: [...]}}; phrases match whole words."""
        rules: list[Rule] = []
        for category, entry in (config or {}).items():
            entry = entry or {}
            for phrase in entry.get("phrases", []) or []:
                folded = search_key(str(phrase))
                key = re.escape(folded).replace(r"\ ", r"\s+")
                anchor = max(folded.split(" "), key=len) if folded else ""
                # every \w+ run of the phrase is a whole \w+ run of any text it matches
                words = tuple(_WORDS.findall(folded))
                rules.append(Rule(category, str(phrase), re.compile(rf"(?<!\w){key}(?!\w)"), anchor, words))
            for pattern in entry.get("patterns", []) or []:
                # a pattern is a regex string, or {regex: ..., anchor: literal every match contains}
                spec = pattern if isinstance(pattern, dict) else {"regex": pattern}
                folded = fold_diacritics(str(spec["regex"]))
                anchor = search_key(str(spec.get("anchor") or ""))
                rules.append(Rule(category, str(spec["regex"]), re.compile(folded, re.IGNORECASE), anchor))
        return cls(rules)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Watchlist:
        """Load a YAML watchlist (default: the shipped classifiers/watchlist.yaml)."""
        with open(path or DEFAULT_WATCHLIST, encoding="utf-8") as fh:
            return cls.from_dict(yaml.safe_load(fh) or {})

    @property
    def categories(self) -> set[str]:
        return {r.category for r in self.rules}

    def match(self, text: str) -> list[dict]:
        """All rule hits in `text`, one per rule, with the matched span in original script."""
        if not self.rules or not text:
            return []
        src = nfc(text)
        key = src.translate(_TABLE)  # same length as src: offsets carry over
        hits: list[dict] = []
        words: set[str] | None = None
        for rule in self.rules:
            if rule.anchor and rule.anchor not in key:
                continue
            if rule.words:
                if words is None:
                    words = set(_WORDS.findall(key))
                if not words.issuperset(rule.words):
                    continue
            m = rule.regex.search(key)
            if m is None or m.end() <= m.start():
                continue
            hits.append({"category": rule.category, "rule": rule.rule, "match": src[m.start() : m.end()]})
        return hits
