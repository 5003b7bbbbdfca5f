"""Which Vietnamese administrative units a text mentions (issue 11: "about us").

Units are those after the July 2025 reorganisation, from the `vietnam-provinces` package: 34 provinces
('p:<code>') and their 3,321 communes, wards and special zones ('c:<code>'). Pre-2025 names people still
write are mapped to today's units through classifiers/places_legacy.json (built by
classifiers/places_build.py): an old province ("Hà Giang", "Hà Tây") → the province it became part of; an
old district, town or provincial city ("huyện Bá Thước", "TP Vinh", "thị xã Hoàng Mai") → the commune it
became when it became exactly one, else the province it lies in today.

Matching is on folded tokens (classifiers.text.fold_diacritics, lower case), so tone marks, case and
NFC/NFD do not matter; a token trie finds the longest name at each position. A match must *agree in
accents*: either the text wrote it without any mark ("thanh hoa"), or its marks are the unit's
("Thanh Hoá" — tone placement is normalised); "hai phòng" (two rooms) is never Hải Phòng.

When a name counts (the ambiguity rule):

1. With a prefix right before it, a name counts as a unit of that kind: "tỉnh" → a province (today's or
   pre-2025); "thành phố", "TP", "TP." → a centrally-run city or a pre-2025 provincial city;
   "huyện", "quận", "thị xã" (also "Q.", "H.", "TX") → a pre-2025 district; "xã", "phường", "đặc khu",
   "thị trấn" (also "X.", "P.", "TT") → a commune, ward or special zone (people still write a unit's
   old type, so the type written only breaks ties). A prefix is a prefix when it too agrees in accents
   ("tình", "quân" are not). After "xã", a name starting "Hội" needs its capital H ("xã hội", society,
   is not "xã Hội An").
2. On its own, a name counts when it is a province name (today's, pre-2025, or an alias such as "TPHCM",
   "Sài Gòn", "Thừa Thiên Huế") or a well-known pre-2025 city (WELL_KNOWN: "Đà Lạt", "Sa Pa", ...) —
   unless it is also a common word or a person's name (AMBIGUOUS: "Hòa Bình" peace, "Cao Bằng" "as tall
   as", "Hồ Chí Minh", "Hà Giang", ...), or, written without tone marks and not in Title Case, reads as
   another word (TONELESS_AMBIGUOUS: "hue" huệ, "dien bien" diễn biến, "da nang" đa năng, ...).
3. Any other name — a commune, a pre-2025 district, an ambiguous province — counts only with context:
   a) a locative word right before it: "ở", "tại", "thuộc", "đi" ("về" is not one: "bàn về Hòa Bình" is
      "about peace");
   b) address style: followed by ",", "(" or "-" and the name of a province it lies in ("Quỳnh Lưu,
      Nghệ An", "Hạc Thành (Thanh Hóa)"); the candidates are narrowed to that province;
   c) for an ambiguous province: the tail of such an address ("huyện Lạc Sơn, Hòa Bình").
   Names made only of digits ("quận 1") count only with a prefix.
4. A name after a street word ("đường", "phố", "ngõ", "hẻm", "đại lộ") is a street, not a unit
   ("phố Huế", "đường Hà Nội").

Without a prefix, a province reading beats a district reading, which beats a commune reading ("ở Hòa
Bình" is the old province). A name shared by several units (many "xã Quảng Phú") is resolved by the
provinces the text names elsewhere (or implies through an unambiguous unit), then by the type its prefix
wrote, then by `prefer` (the caller's jurisdiction) when exactly one candidate lies there; failing that it
is dropped. Several candidates left in one province (a district and a commune of the same name) give the
province.

Quality on tests/fixtures/places/labelled.jsonl (369 hand-written sentences; `python -m
classifiers.places`): see bench/bench_places.py, which prints it with the speed (≥ 5,000 items/s target).

The gazetteer (~4,100 names) is built on first use and cached; importing this module costs nothing.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from classifiers.text import Folded, fold_diacritics, folds_alike, nfc, normalize_tones

_TOKEN = re.compile(r"[^\W_]+|[^\w\s]|\n")
_WORD_CHAR = re.compile(r"\w")
_LETTER_RUN = re.compile(r"[^\W_]+")
_LEGACY = Path(__file__).with_name("places_legacy.json")

def _written_as(table: dict[tuple[str, ...], tuple[str, object]]) -> dict[tuple[str, ...], tuple[tuple[str, ...], object]]:
    """Folded words → (the words as written with marks, split like names are, value)."""
    return {key: (tuple(written.split(" ")), value) for key, (written, value) in table.items()}


# Prefix (folded tokens) → (as written with marks, what it introduces).
_PREFIXES = _written_as({
    ("tinh",): ("tỉnh", "province"),
    ("thanh", "pho"): ("thành phố", "city"),
    ("huyen",): ("huyện", "huyện"),
    ("quan",): ("quận", "quận"),
    ("thi", "xa"): ("thị xã", "thị xã"),
    ("xa",): ("xã", "xã"),
    ("phuong",): ("phường", "phường"),
    ("thi", "tran"): ("thị trấn", "commune"),
    ("dac", "khu"): ("đặc khu", "đặc khu"),
})
# Abbreviated prefixes: the one-letter ones only with their dot ("P. Hàm Rồng", "Q.1").
_ABBREVIATIONS = {"tp": "city", "tx": "thị xã", "tt": "commune", "p": "phường", "q": "quận", "x": "xã", "h": "huyện"}
_CUES = {"o": ("ở",), "tai": ("tại",), "thuoc": ("thuộc",), "di": ("đi",)}
_STREETS = _written_as({("duong",): ("đường", 1), ("pho",): ("phố", 1), ("ngo",): ("ngõ", 1),
                        ("hem",): ("hẻm", 1), ("dai", "lo"): ("đại lộ", 1)})
_SEPARATORS = {",", "(", "-", "–"}
_LAST_WORDS = {key[-1] for table in (_PREFIXES, _STREETS) for key in table}

# Province-level names that are also common words or people's names, even written with tone marks.
AMBIGUOUS = frozenset({
    "hoa binh", "thai binh", "cao bang", "ha nam", "hai duong", "ho chi minh", "hcm", "ha giang", "vinh phuc",
    "binh dinh",
})
# Province-level names that, written without tone marks, read as another word.
# They count when written in Title Case ("Son La", not "son la mau gi").
TONELESS_AMBIGUOUS = frozenset({"hue", "hai phong", "son la", "dien bien", "da nang", "lam dong"})
# Pre-2025 cities and towns known well enough to count on their own, like a province ("đi Đà Lạt").
WELL_KNOWN = frozenset({
    "da lat", "sa pa", "nha trang", "ha long", "vung tau", "phu quoc", "buon ma thuot", "pleiku", "quy nhon",
    "phan thiet", "hoi an", "con dao", "ly son", "mui ne", "cat ba",
})
# Aliases people write for provinces (name → today's province code).
ALIASES = {
    "TPHCM": 79, "HCM": 79, "Sài Gòn": 79, "Saigon": 79, "Thừa Thiên Huế": 46, "Thừa Thiên - Huế": 46,
    "Bà Rịa Vũng Tàu": 79, "BR-VT": 79, "Daklak": 66, "Đắc Lắc": 66, "Đắk Nông": 68, "Daknong": 68,
    "Kontum": 51, "Hà Tây": 1,
}
_CITY_PROVINCES = {1, 31, 46, 48, 79, 92}  # centrally-run cities: "thành phố Đà Nẵng"
_RANK = {"province": 0, "district": 1, "commune": 2}


@dataclass(frozen=True)
class Place:
    """A unit a text mentions: its code ('p:38', 'c:15913'), level, the province it lies in, its name."""

    code: str
    level: str  # 'province' | 'commune'
    province_code: str
    name: str


@dataclass(frozen=True)
class _Candidate:
    place: Place
    kind: str  # 'province' (incl. pre-2025 and aliases) | 'district' (pre-2025) | 'commune'
    unit_type: str  # 'tỉnh' | 'thành phố' | 'huyện' | 'quận' | 'thị xã' | 'xã' | 'phường' | 'đặc khu'
    marks: tuple[str, ...]  # the name's tokens as written with marks (tones normalised, lower case)
    province: int


def tokens(text: str) -> list[str]:
    """Words and punctuation marks of `text` (NFC), in order: the unit names are split the same way."""
    return _TOKEN.findall(nfc(text))


def _fold(words: list[str]) -> list[str]:
    folded = fold_diacritics(" ".join(words)).lower().split(" ")
    return folded if len(folded) == len(words) else [fold_diacritics(w).lower() for w in words]


class _FoldedWords(dict):
    """Word → its folded lower-case form (what `_fold` gives it), filled on first sight: a text's words
    are then folded by dict look-ups at C speed. Tagging runs on every stored item, and a language has a
    few thousand syllables: folding each text's ~150 tokens again was a third of `tag`'s time."""

    LIMIT = 100_000  # distinct words kept (~10 MB at most); past it, start again

    def __missing__(self, word: str) -> str:
        if len(self) >= self.LIMIT:
            self.clear()
        folded = self[word] = fold_diacritics(word).lower()
        return folded


_FOLDED_WORDS = _FoldedWords()


def _marks(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(normalize_tones(w.lower()) for w in words)


def _canonical(lowered: list[str]) -> tuple[str, ...]:
    """Lower-cased words with their tone marks where the dictionary puts them ("hoà" → "hòa")."""
    return tuple(normalize_tones(w) for w in lowered)


class Gazetteer:
    """Every name → its candidate units, as a trie over folded tokens."""

    def __init__(self) -> None:
        self.trie: dict = {}
        self.units: dict[str, Place] = {}
        self.provinces: dict[int, Place] = {}
        self.province_names: dict[str, int] = {}  # folded name (today's, pre-2025, alias) → today's code
        self.current: dict[str, int] = {}  # folded name of today's province → its code
        # For _may_name_a_place, filled by `close`: the first tokens of one-token names, the first two of
        # longer ones, and a first token followed by punctuation in a folded text ("br-vt", "m'drak": the
        # words of a text do not show punctuation).
        self.one_token_starts: frozenset[str] = frozenset()
        self.two_token_starts: frozenset[tuple[str, str]] = frozenset()  # (first, next) of longer names
        self.punctuated_starts: frozenset[str] = frozenset()
        self.start_then_mark = re.compile(r"(?!)")

    def close(self) -> None:
        """Once every name is added: what _may_name_a_place reads."""
        self.one_token_starts = frozenset(first for first, node in self.trie.items() if "" in node)
        self.two_token_starts = frozenset((first, key) for first, node in self.trie.items()
                                          for key in node if isinstance(key, str) and key)
        followed = {}  # a first token, then (across the blanks and "_" that `tag` skips) a mark continuing it
        for first, node in self.trie.items():
            marks = [re.escape(key) for key in node if isinstance(key, str) and key and not _WORD_CHAR.match(key)]
            if marks:
                # the look-behind after the first letter, so the regex engine can skip to those letters
                first_ = re.escape(first)
                followed[first] = f"{first_}(?<![^\\W_]{first_})(?:[^\\S\\n]|_)*(?:{'|'.join(marks)})"
        self.punctuated_starts = frozenset(followed)
        if followed:
            self.start_then_mark = re.compile("|".join(followed.values()))

    def add(self, name: str, candidate: _Candidate) -> None:
        words = tokens(name)
        node = self.trie
        for word in _fold(words):
            node = node.setdefault(word, {})
        # "" → candidates by how they are written with marks; None → all of them (for toneless text)
        node.setdefault("", {}).setdefault(candidate.marks, []).append(candidate)
        node.setdefault(None, []).append(candidate)


def _short(name: str) -> tuple[str, str]:
    """'Thành phố Hà Nội' → ('thành phố', 'Hà Nội'); 'Xã Quảng Phú' → ('xã', 'Quảng Phú')."""
    for unit_type in ("thành phố", "tỉnh", "xã", "phường", "đặc khu"):
        if name.lower().startswith(unit_type + " "):
            return unit_type, name[len(unit_type) + 1:]
    return "tỉnh", name


def _province_candidate(g: Gazetteer, name: str, code: int) -> _Candidate:
    province = g.provinces[code]
    return _Candidate(province, "province", "thành phố" if code in _CITY_PROVINCES else "tỉnh",
                      _marks(tokens(name)), code)


def _package_data(package: str, name: str) -> Path:
    """A data file of an installed package, found without importing it (vietnam_provinces' __init__
    builds a 3,000-member enum: ~65 ms we do not need)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed (pip install 'vietnam-provinces>=2025.10.1')")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """Built once per process (~0.2 s): today's units, pre-2025 provinces and districts, aliases."""
    data = json.loads(_package_data("vietnam_provinces", "nested-divisions.json").read_text(encoding="utf-8"))
    g = Gazetteer()
    for province in data:
        code = province["code"]
        _, short = _short(province["name"])
        g.provinces[code] = g.units[f"p:{code}"] = Place(f"p:{code}", "province", f"p:{code}", short)
        g.current[" ".join(_fold(tokens(short)))] = code
        for ward in province["wards"]:
            unit_type, ward_short = _short(" ".join(ward["name"].split()))
            place = Place(f"c:{ward['code']}", "commune", f"p:{code}", " ".join(ward["name"].split()))
            g.units[place.code] = place
            g.add(ward_short, _Candidate(place, "commune", unit_type, _marks(tokens(ward_short)), code))
    legacy = json.loads(_LEGACY.read_text(encoding="utf-8"))
    seen: set[tuple[str, int]] = set()
    for name, code in [(p.name, int(p.code[2:])) for p in g.provinces.values()] + legacy["provinces"] \
            + list(ALIASES.items()):
        if (name, code) not in seen:
            seen.add((name, code))
            g.add(name, _province_candidate(g, name, code))
            g.province_names.setdefault(" ".join(_fold(tokens(name))), code)
    for unit_type, name, code, commune in legacy["districts"]:
        place = g.units[f"c:{commune}"] if commune else g.provinces[code]
        g.add(name, _Candidate(place, "district", unit_type, _marks(tokens(name)), code))
    g.close()
    return g


@dataclass
class _Mention:
    start: int
    end: int
    candidates: list[_Candidate]
    unit_type: str | None = None  # the type its prefix wrote ("xã", "huyện"), which breaks ties


class _Scan:
    """One text's tokens and the mentions accepted so far (left to right)."""

    def __init__(self, text: str, g: Gazetteer) -> None:
        self.g = g
        self.words = tokens(text)
        self.folded = list(map(_FOLDED_WORDS.__getitem__, self.words))  # as _fold(self.words), from a memo
        self.mentions: list[_Mention] = []

    @functools.cached_property
    def low(self) -> list[str]:
        """Each token lower-cased (equal to its folded form when it has no mark). Tone placement ("hoà"
        for "hòa") is normalised only when a name does not agree as written (_canonical): it rarely
        differs. Computed on first use: most texts name no place, and then nothing reads it."""
        lowered = " ".join(self.words).lower().split(" ")
        return lowered if len(lowered) == len(self.words) else [w.lower() for w in self.words]

    def title_case(self, start: int, end: int) -> bool:
        return all(w[:1].isupper() and w[1:].islower() for w in self.words[start:end])

    def toneless(self, start: int, end: int) -> bool:
        return self.low[start:end] == self.folded[start:end]

    def written(self, start: int, end: int, marks: tuple[str, ...]) -> bool:
        """Does words[start:end] agree in accents with `marks` (or carry no mark at all)?"""
        return self.toneless(start, end) or tuple(self.low[start:end]) == marks \
            or _canonical(self.low[start:end]) == marks

    def word_before(self, table: dict, end: int) -> str | None:
        """The value of `table` (folded tuple → (marks, value)) written right before `end`."""
        if end < 1 or self.folded[end - 1] not in _LAST_WORDS:
            return None
        for size in (2, 1):
            start = end - size
            if start >= 0 and (key := tuple(self.folded[start:end])) in table:
                marks, value = table[key]
                if self.written(start, end, marks):
                    return value
        return None

    def prefix(self, i: int) -> str | None:
        if i >= 2 and self.folded[i - 1] == "." and self.folded[i - 2] in _ABBREVIATIONS:
            return _ABBREVIATIONS[self.folded[i - 2]]  # "TP.", "P.", "Q.", "X.", "H.", "TX.", "TT."
        if i >= 1 and self.folded[i - 1] in _ABBREVIATIONS and len(self.folded[i - 1]) == 2:
            return _ABBREVIATIONS[self.folded[i - 1]]  # "TP", "TX", "TT" without the dot
        return self.word_before(_PREFIXES, i)

    def cue(self, i: int) -> bool:
        return i >= 1 and self.folded[i - 1] in _CUES and self.written(i - 1, i, _CUES[self.folded[i - 1]])

    def street(self, i: int) -> bool:
        return self.word_before(_STREETS, i) is not None

    def matches(self, i: int) -> list[tuple[int, list[_Candidate]]]:
        """Names starting at i, longest first: (end, candidates that agree in accents)."""
        found = []
        node = self.g.trie.get(self.folded[i])
        j = i + 1
        while node is not None:
            if "" in node:
                if self.toneless(i, j):
                    agreeing = node[None]
                else:
                    agreeing = node[""].get(tuple(self.low[i:j])) or node[""].get(_canonical(self.low[i:j]))
                if agreeing:
                    found.append((j, agreeing))
            if j >= len(self.folded):
                break
            node = node.get(self.folded[j])
            j += 1
        return found[::-1]


def _by_prefix(scan: _Scan, i: int, kind: str, candidates: list[_Candidate]) -> list[_Candidate]:
    if kind == "province":
        return [c for c in candidates if c.kind == "province"]
    if kind == "city":
        cities = [c for c in candidates if c.kind == "province" and c.province in _CITY_PROVINCES]
        return cities or [c for c in candidates if c.kind == "district" and c.unit_type == "thành phố"]
    if kind in ("huyện", "quận", "thị xã"):
        districts = [c for c in candidates if c.kind == "district"]
        return [c for c in districts if c.unit_type == kind] or districts
    if kind == "xã" and scan.folded[i] == "hoi" and not scan.words[i][:1].isupper():
        return []
    # Any commune: people still write a unit's old type ("xã Quảng Phú" for today's phường); the type
    # written only breaks ties (_resolve).
    return [c for c in candidates if c.kind == "commune"]


def _best_rank(candidates: list[_Candidate]) -> list[_Candidate]:
    best = min(_RANK[c.kind] for c in candidates)
    return [c for c in candidates if _RANK[c.kind] == best]


def _address_province(scan: _Scan, end: int) -> int | None:
    """The province named right after an address part: ", Nghệ An", " (tỉnh Thanh Hóa)", " - Hà Tĩnh"."""
    j = end
    while j < len(scan.folded) and scan.folded[j] in _SEPARATORS:
        j += 1
    if j == end or j >= len(scan.folded):
        return None
    for size in (2, 1):
        if tuple(scan.folded[j:j + size]) in (("tinh",), ("thanh", "pho"), ("tp",)):
            j += size + (1 if j + size < len(scan.folded) and scan.folded[j + size] == "." else 0)
            break
    for _, candidates in scan.matches(j) if j < len(scan.folded) else []:
        provinces = {c.province for c in candidates if c.kind == "province"}
        if len(provinces) == 1:
            return provinces.pop()
    return None


def _address_tail(scan: _Scan, i: int, province: int) -> bool:
    """Is the name at i the province that ends an address whose previous part was accepted?"""
    j = i
    while j > 0 and scan.folded[j - 1] in _SEPARATORS:
        j -= 1
    previous = scan.mentions[-1] if scan.mentions else None
    return j < i and previous is not None and previous.end == j \
        and any(c.province == province for c in previous.candidates)


def _accept(scan: _Scan, i: int, end: int, candidates: list[_Candidate], kind: str | None) -> list[_Candidate]:
    """The candidates the name at words[i:end] counts as (empty: it does not count); see the module doc.
    `kind`: what the prefix before it introduces (None: no prefix)."""
    if kind is not None:
        return _by_prefix(scan, i, kind, candidates)
    if all(w.isdigit() for w in scan.folded[i:end]):
        return []
    key = " ".join(scan.folded[i:end])
    toneless = scan.toneless(i, end)
    provinces = [c for c in candidates if c.kind == "province"]
    if key in WELL_KNOWN and not toneless or key in WELL_KNOWN and scan.title_case(i, end):
        return _best_rank(candidates)
    if provinces and key not in AMBIGUOUS and not (toneless and key in TONELESS_AMBIGUOUS
                                                   and not scan.title_case(i, end)):
        return provinces
    if scan.cue(i):
        return _best_rank(candidates)
    province = _address_province(scan, end)
    in_province = [c for c in candidates if c.province == province]
    if in_province:
        return _best_rank(in_province)
    if provinces and _address_tail(scan, i, provinces[0].province):
        return provinces
    return []


def _resolve(mention: _Mention, context: set[int], prefer: frozenset[int], g: Gazetteer) -> Place | None:
    """One unit for a mention: narrowed by the provinces in context, the type written, then `prefer`."""
    candidates = mention.candidates
    if len(candidates) == 1:
        return candidates[0].place
    for keep in (lambda c: c.province in context, lambda c: c.unit_type == mention.unit_type,
                 lambda c: c.province in prefer):
        if len({c.place for c in candidates}) > 1:
            candidates = [c for c in candidates if keep(c)] or candidates
    provinces = {c.province for c in candidates}
    if len(provinces) != 1:
        return None
    places = {c.place for c in candidates}
    return places.pop() if len(places) == 1 else g.provinces[provinces.pop()]


def _province_codes(codes: Iterable[str]) -> frozenset[int]:
    return frozenset(int(c[2:]) for c in codes if c.startswith("p:"))


def tag(text: str, prefer: Iterable[str] = (), folded: Folded | None = None) -> list[Place]:
    """The units `text` mentions, in order of first mention, each once.

    `prefer` (unit codes, typically the jurisdiction) breaks ties between same-named units when the text
    names no province of its own: only its province codes ('p:...') are used. `folded`: the text's
    search_key and words, when the caller has them (ingest does): a text whose folded words cannot start
    a name is not scanned at all (_may_name_a_place): four crawled items in five.
    """
    g = gazetteer()
    if folded is not None and not _may_name_a_place(text or "", folded, g):
        return []
    scan = _Scan(text or "", g)
    i, n = 0, len(scan.folded)
    folded, trie = scan.folded, g.trie
    while i < n:
        node = trie.get(folded[i])
        if node is None or ("" not in node and (i + 1 == n or folded[i + 1] not in node)):
            i += 1  # the common case, inline: no name starts here
            continue
        step = 1
        found = scan.matches(i)
        kind = scan.prefix(i) if found else None
        street = bool(found) and kind is None and scan.street(i)
        for end, candidates in found:
            if street:  # "phố Huế": a street, whatever the name
                step = end - i
                break
            accepted = _accept(scan, i, end, candidates, kind)
            if accepted:
                scan.mentions.append(_Mention(i, end, accepted, kind))
                step = end - i
                break
        i += step
    context = {m.candidates[0].province for m in scan.mentions if len({c.province for c in m.candidates}) == 1}
    prefer_codes = _province_codes(prefer)
    found: dict[str, Place] = {}
    for mention in scan.mentions:
        place = _resolve(mention, context, prefer_codes, g)
        if place is not None:
            found.setdefault(place.code, place)
    return list(found.values())


def _may_name_a_place(text: str, folded: Folded, g: Gazetteer) -> bool:
    """Could `tag` find a name in `text`, given its search_key and words? False only when it surely cannot.

    `tag` looks at a position only when its folded token starts a name that is either one token long or
    continued by the next token (the check at the top of its loop). When every character of the text is
    carried alike (classifiers.text.folds_alike; "_" aside, split below), its folded letter tokens are its
    folded words, in order, and its punctuation is the key's; the words only lack punctuation, which can make two words neighbours that
    were not — more positions, never fewer. A start followed by punctuation is looked for in the key."""
    if not folds_alike(nfc(text)):  # as `tag` reads it ("וֹ" is two characters there)
        return True
    words = folded.words
    if "_" in text:  # a word character that `tag`'s tokens leave out: "thanh_hoa" is "thanh", "hoa"
        words = _LETTER_RUN.findall(folded.key)  # the words split on "_", in one regex pass
    if not g.one_token_starts.isdisjoint(words):
        return True
    if not g.punctuated_starts.isdisjoint(words) and g.start_then_mark.search(folded.key):
        return True
    # Every neighbouring pair is looked up in one set, in C: a Python test per pair was most of the tagger's
    # time on the four items in five that name no place.
    return not g.two_token_starts.isdisjoint(zip(words, words[1:], strict=False))


def unit(code: str) -> Place | None:
    """The unit of a code ('p:38', 'c:15913'), or None."""
    return gazetteer().units.get(code)


def place_name(code: str, *, with_province: bool = False) -> str:
    """A stored place code as people read it: the unit's name, or the code itself for a unit the installed
    gazetteer no longer knows. `with_province`: a commune followed by its province ("Phường Hạc Thành,
    Thanh Hóa"), where a list mixes provinces and commune names repeat across them."""
    found = unit(code)
    if found is None:
        return code
    if with_province and found.level == "commune" and found.province_code != found.code:
        province = unit(found.province_code)
        return f"{found.name}, {province.name}" if province else found.name
    return found.name


def find_units(name: str) -> list[Place]:
    """Today's units a configured name means: "Thanh Hóa", "tỉnh Thanh Hóa", "phường Hạc Thành",
    "Hạc Thành", "xã Quảng Phú, Đắk Lắk" (the province after a comma picks among same-named communes), or
    a code ("p:38", "c:14797"). A province name means the province; otherwise every commune of that name
    (of that type, when the type is written). Empty: no such unit (see `close_names`)."""
    g = gazetteer()
    name = " ".join(nfc(name).split())
    if name in g.units:
        return [g.units[name]]
    name, _, within = name.partition(",")
    within_code = g.current.get(" ".join(_fold(tokens(within.removeprefix("tỉnh ").strip()))))
    if within.strip() and within_code is None:
        return []
    words = _fold(tokens(name))
    unit_type = None
    if words[:1] == ["tp"] and len(words) > 1:
        words = words[2:] if words[1] == "." else words[1:]
        unit_type = "city"
    for prefix, (_, kind) in _PREFIXES.items():
        if tuple(words[:len(prefix)]) == prefix and len(words) > len(prefix):
            unit_type, words = kind, words[len(prefix):]
            break
    if unit_type in (None, "province", "city") and not within.strip() and " ".join(words) in g.current:
        return [g.provinces[g.current[" ".join(words)]]]
    node: dict | None = g.trie
    for word in words:
        node = node.get(word) if node is not None else None
    found = [c for c in (node or {}).get(None, []) if c.kind == "commune"
             and (within_code is None or c.province == within_code)
             and (unit_type in (None, "commune") or c.unit_type == unit_type)]
    return list(dict.fromkeys(c.place for c in found))


def former_province(name: str) -> Place | None:
    """The province a pre-2025 province name became part of ("Hà Giang" → Tuyên Quang), or None."""
    g = gazetteer()
    code = g.province_names.get(" ".join(_fold(tokens(name.removeprefix("tỉnh ").strip()))))
    return g.provinces[code] if code is not None else None


def close_names(name: str, limit: int = 3) -> list[str]:
    """Names of today's units that look like `name` (a typo, a missing or wrong tone mark)."""
    import difflib

    g = gazetteer()
    words = tokens(name)
    if len(words) > 1 and tuple(_fold(words[:1])) in _PREFIXES | {("tp",): 1}:  # the type may be what is wrong
        untyped = [p.name for p in find_units(" ".join(words[1:]).lstrip(". "))]
        if untyped:
            return untyped[:limit]
    communes = [p for p in g.units.values() if p.level == "commune"]
    names = {" ".join(_fold(tokens(_short(p.name)[1]))): p.name for p in communes}
    names.update({" ".join(_fold(tokens(p.name))): p.name for p in g.units.values()})  # provinces win a tie
    key = " ".join(_fold(tokens(name)))
    return list(dict.fromkeys(names[k] for k in difflib.get_close_matches(key, list(names), n=limit, cutoff=0.75)))


def in_jurisdiction(places: Iterable[Place], jurisdiction: Iterable[str]) -> bool:
    """Is one of `places` a listed unit, or in a listed province? (jurisdiction: unit codes)"""
    codes = frozenset(jurisdiction)
    return any(p.code in codes or p.province_code in codes for p in places)


@dataclass
class Scores:
    """Micro-averaged precision and recall of `tag` over labelled sentences (codes per sentence)."""

    sentences: int = 0
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def evaluate(rows: Iterable[dict], errors: list | None = None) -> Scores:
    """Score `tag` on rows of {"text", "codes"} (tests/fixtures/places/labelled.jsonl); each wrong
    sentence is appended to `errors` as (text, expected codes, found codes) when a list is given."""
    scores = Scores()
    for row in rows:
        expected = set(row["codes"])
        found = {place.code for place in tag(row["text"], row.get("prefer", ()))}
        scores.sentences += 1
        scores.true_positives += len(found & expected)
        scores.false_positives += len(found - expected)
        scores.false_negatives += len(expected - found)
        if errors is not None and found != expected:
            errors.append((row["text"], sorted(expected), sorted(found)))
    return scores


def main(argv: list[str] | None = None) -> int:
    """`python -m classifiers.places [labelled.jsonl]`: precision and recall per half of the set."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    paths = [arg for arg in args if not arg.startswith("-")]
    path = Path(paths[0]) if paths else Path(__file__).parents[1] / "tests/fixtures/places/labelled.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for half in ("tune", "heldout"):
        errors: list = []
        scores = evaluate([row for row in rows if row.get("half", "tune") == half], errors)
        print(f"{half}: {scores.sentences} sentences, precision {scores.precision:.3f}, "
              f"recall {scores.recall:.3f} (target ≥ 0.9 each)")
        if "-v" in args and half == "tune":
            for text, expected, found in errors:
                print(f"  {text!r}: expected {expected}, found {found}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
