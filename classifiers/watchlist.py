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
_WS = re.compile(r"\s")


@dataclass(frozen=True)
class Rule:
    """One compiled rule; `rule` is the entry as written in the config (shown to moderators)."""

    category: str
    rule: str
    regex: re.Pattern[str]


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return fold_diacritics(ch).lower()


def _folded_with_offsets(text: str) -> tuple[str, list[int]]:
    """search_key-equivalent folding of `text`, plus each key char's offset in nfc(text).

    The offsets let a hit be reported in the original script ("chia sẻ gấp"), not folded.
    """
    src = nfc(text)
    out: list[str] = []
    offsets: list[int] = []
    prev_space = True
    for i, ch in enumerate(src):
        if _WS.match(ch):
            if not prev_space:
                out.append(" ")
                offsets.append(i)
            prev_space = True
            continue
        for c in _fold_char(ch):
            out.append(c)
            offsets.append(i)
        prev_space = False
    return "".join(out), offsets


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
                key = re.escape(search_key(str(phrase))).replace(r"\ ", r"\s+")
                rules.append(Rule(category, str(phrase), re.compile(rf"(?<!\w){key}(?!\w)")))
            for pattern in entry.get("patterns", []) or []:
                folded = fold_diacritics(str(pattern))
                rules.append(Rule(category, str(pattern), re.compile(folded, re.IGNORECASE)))
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
        key, offsets = _folded_with_offsets(text)
        src = nfc(text)
        hits: list[dict] = []
        for rule in self.rules:
            m = rule.regex.search(key)
            if m is None or m.end() <= m.start():
                continue
            original = src[offsets[m.start()] : offsets[m.end() - 1] + 1]
            hits.append({"category": rule.category, "rule": rule.rule, "match": original})
        return hits
