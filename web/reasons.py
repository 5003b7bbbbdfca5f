"""Why an item was flagged, in a form a moderator can read (issue 18).

Per category: the score beside the threshold it was flagged against, and the terms that raised it with
what they add to the score (log-odds). Watchlist hits by their human name; the pattern itself only for admins (a regex
tells a moderator nothing and tells an author how to dodge it). Every term and matched span is marked in
the item's title and text, found the way the watchlist finds phrases (case and tone marks ignored, whole
words), so "chia se gap" in the text is marked for the term "chia sẻ gấp".

Two stored shapes render: the current one ({"terms": {cat: [{"term", "contribution"}]}, "rules": [{"category",
"name", "rule", "match"}], "kind", "thresholds"}) and the one before it (terms as plain strings, rules
without names, no kind or thresholds), whose rules are then named by their text.

The item text is untrusted: the highlighted HTML is built from escaped segments with only our own
<mark> tags between them, never by marking up text and trusting the result.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup, escape

from classifiers.text import nfc
from classifiers.watchlist import fold_keys, phrase_regex
from monitor.domain import CATEGORIES

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Term:
    term: str
    contribution: float | None  # share of the category's log-odds; None for items stored before issue 18


@dataclass(frozen=True)
class Hit:
    category: str
    name: str
    rule: str | None  # the phrase or pattern as written: set for admins only, and only when a name stands for it
    match: str


@dataclass(frozen=True)
class CategoryReasons:
    category: str
    score: float | None
    threshold: float | None  # None for items stored before thresholds were kept
    flagged: bool
    terms: list[Term]


@dataclass(frozen=True)
class Reasons:
    categories: list[CategoryReasons]
    hits: list[Hit]
    kind: str | None
    title: Markup
    text: Markup


def item_reasons(item: dict, *, admin: bool) -> Reasons:
    """Everything the item page shows about why the item was flagged, from its stored explanation."""
    explanation = item.get("explanation") if isinstance(item.get("explanation"), dict) else {}
    terms = _terms_by_category(explanation)
    hits = _hits(explanation.get("rules"), admin=admin)
    thresholds = explanation.get("thresholds") if isinstance(explanation.get("thresholds"), dict) else {}
    flagged = set(item.get("flag_reasons") or [])
    categories = [CategoryReasons(c, _number(item.get(f"score_{c}")), _number(thresholds.get(c)), c in flagged,
                                  terms.get(c, [])) for c in _categories(terms, thresholds)]
    words = [t.term for c in categories for t in c.terms]
    matches = [h.match for h in hits if h.match]
    title, text = highlight([item.get("title") or "", item.get("text") or ""], words, matches)
    kind = explanation.get("kind")
    return Reasons(categories, hits, str(kind) if kind else None, title, text)


def _categories(terms: dict, thresholds: dict) -> list[str]:
    """The two scored categories, then any other a (custom) explanation mentions."""
    extra = [c for c in [*terms, *thresholds] if c not in CATEGORIES]
    return [*CATEGORIES, *dict.fromkeys(extra)]


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _terms_by_category(explanation: dict) -> dict[str, list[Term]]:
    terms = explanation.get("terms", explanation)  # the oldest rows stored {category: [terms]} at the top
    if not isinstance(terms, dict):
        return {}
    return {str(c): [t for t in map(_term, v) if t] for c, v in terms.items() if isinstance(v, list) and c != "rules"}


def _term(value: object) -> Term | None:
    if isinstance(value, dict) and str(value.get("term") or "").strip():
        return Term(str(value["term"]), _number(value.get("contribution")))
    if isinstance(value, str) and value.strip():
        return Term(value, None)
    return None


def _hits(rules: object, *, admin: bool) -> list[Hit]:
    hits = []
    for hit in rules if isinstance(rules, list) else []:
        if not isinstance(hit, dict):
            continue
        rule, name = str(hit.get("rule") or ""), str(hit.get("name") or "")
        shown = name or rule or str(hit.get("id") or "")
        if shown:
            hits.append(Hit(str(hit.get("category") or ""), shown, rule if admin and name and rule else None,
                            str(hit.get("match") or "")))
    return hits


def highlight(texts: list[str], terms: Iterable[str], matches: Iterable[str]) -> list[Markup]:
    """Each text as HTML: escaped, with every whole-word occurrence of a term or matched span in <mark>.

    Offsets found in the folded keys are offsets in the NFC text (fold_keys preserves length)."""
    sources = [nfc(t) for t in texts]
    keys = fold_keys(sources)[0]
    patterns = [_term_regex(t) for t in dict.fromkeys(terms) if t.strip()]
    spans_for = [_match_regexes(m) for m in dict.fromkeys(matches) if m.strip()]
    out = []
    for source, key in zip(sources, keys, strict=True):
        spans = [s for p in patterns for s in _spans(p, key)]
        for bounded, loose in spans_for:
            spans += _spans(bounded, key) or _spans(loose, key)
        out.append(_marked(source, _merge(spans)))
    return out


@functools.lru_cache(maxsize=4096)
def _term_regex(term: str) -> re.Pattern[str]:
    return phrase_regex(term)[0]


@functools.lru_cache(maxsize=1024)
def _match_regexes(match: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A rule's matched span: as whole words where it starts/ends with a letter, else anywhere.

    Why the fallback: a regex rule may match part of a word ("covid" in "covid19"); the span still
    came from this text, so it should be marked rather than silently lost."""
    key = fold_keys([nfc(match).strip()])[0][0]
    body = r"\s+".join(re.escape(part) for part in _SPACES.split(key))
    before = r"(?<!\w)" if re.match(r"\w", key) else ""
    after = r"(?!\w)" if re.search(r"\w$", key) else ""
    return re.compile(before + body + after), re.compile(body)


def _spans(pattern: re.Pattern[str], key: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(key) if m.end() > m.start()]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans ("chia sẻ" inside "chia sẻ gấp") as one mark, in text order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _marked(text: str, spans: list[tuple[int, int]]) -> Markup:
    parts, at = [], 0
    for start, end in spans:
        parts += [escape(text[at:start]), Markup("<mark>"), escape(text[start:end]), Markup("</mark>")]
        at = end
    parts.append(escape(text[at:]))
    return Markup("").join(parts)
