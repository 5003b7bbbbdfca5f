"""Text features for Vietnamese-first sparse linear models.

Why this shape:
- Vietnamese words are 1-3 syllables separated by spaces, so syllable 1-3-grams approximate
  words without a segmenter (cheap and robust on social-media text).
- People often type without tone marks, so every n-gram is emitted twice: with diacritics
  (tone placement canonicalised by ``text.normalize_tones``) and diacritic-folded
  (``text.fold_diacritics``), letting "chia sẻ gấp" and "chia se gap" share weight.
- Character 2-5-grams of each whitespace token as written (lower-cased, punctuation kept)
  catch spelling variants, teencode, English/French morphology and post style ("!!!", "#").
- Features are hashed (no vocabulary to ship), tokens are processed through small LRU caches
  (a language has few distinct syllables), which is what keeps scoring > 5k items/s per core.

All normalisation goes through ``classifiers.text``; nothing here re-implements it.
"""

from __future__ import annotations

import functools
import operator
import os
import re
import threading
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from mmh3 import hash as _mmh3

from classifiers.text import fold_diacritics, model_text, normalize_tones, url_breaks

TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

DEFAULT_CONFIG: dict = {
    "n_features": 1 << 20,
    "word_ngrams": 3,
    # char grams inside folded word tokens: off (dev: equal quality with the whitespace-token
    # char grams below, ~15% slower scoring); kept configurable
    "char_min": 0,
    "char_max": 0,
    "max_tokens": 400,
    # char 2-5-grams of whitespace tokens as written (lower-cased, toned, punctuation kept):
    # catch tweet/post style ("#", "@", "!!!", "http") that word tokens drop (+0.005-0.01 dev AUC)
    "ws_char_min": 2,
    "ws_char_max": 5,
    "scheme": 2,  # 2: word n-grams hashed from combined unigram keys (see Featurizer)
    # 2: whitespace-token char grams hashed from code points with numpy over the whole batch
    # (``_ws_gram_buckets``); scheme 1 hashed each gram string in Python and is no longer computed
    "ws_scheme": 2,
    # char grams in their own column block [n_features, 2*n_features), each block L2-normalised
    # on its own (as the baseline's word+char_wb concatenation): the ~5x more numerous char
    # grams no longer drown the word n-grams (dev ROC-AUC +0.001-0.002 ReINTEL/CONSTRAINT/vnnews/ViHSD)
    "split_blocks": True,
}

# Entries of each per-token cache below. They sit behind the featurizer's vocabulary cache (Featurizer.MAX_CACHE):
# called only for a token it has not met since its last reset, so they need to hold a working set, not every token
# ever read. Each distinct token costs ~1 KB across the caches, and a service meets new ones for as long as it runs
# (numbers, names, links): at 2^18-2^20 entries and 2,000,000 vocabulary tokens they grew without a useful bound
# (~1.8 KB per new token, +290 MB after 160,000; issue 17 §3). A day of Vietnamese news has ~10-20k distinct tokens.
TOKEN_CACHE = 1 << 16


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _fold(token: str) -> str:
    return fold_diacritics(token)


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _char_grams(token: str, lo: int, hi: int) -> tuple[str, ...]:
    s = f" {token} "
    out = []
    for n in range(lo, hi + 1):
        out.extend("c" + s[i : i + n] for i in range(len(s) - n + 1))
    return tuple(out)


_MASK = np.uint64((1 << 64) - 1)
_MUL = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constants (golden ratio / splitmix)
_SALT = {
    ("w", 2): np.uint64(0xBF58476D1CE4E5B9), ("w", 3): np.uint64(0x94D049BB133111EB),
    ("f", 2): np.uint64(0xD6E8FEB86659FD93), ("f", 3): np.uint64(0xA0761D6478BD642F),
    ("x", 2): np.uint64(0xE7037ED1A0B428DB), ("x", 3): np.uint64(0x8EBC6AF09C88C6E3),
    ("x", 4): np.uint64(0x589965CC75374CC3), ("x", 5): np.uint64(0x1D8E4E27C47D124F),
    ("x", 6): np.uint64(0x2D358DCCAA6C78A5), ("x", 7): np.uint64(0x8BB84B93962EACC9),
}


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _bucket(feature: str, n_features: int) -> int:
    """Hash bucket of one feature string (MurmurHash3 x86 32-bit, as sklearn's FeatureHasher; mmh3 gives the
    same values without importing scikit-learn, which was 0.9 s of `monitor classify`'s start-up)."""
    return abs(_mmh3(feature, 0)) % n_features


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _key(feature: str) -> int:
    """64-bit key of a unigram, combined arithmetically into n-gram buckets (no strings built)."""
    return (_mmh3(feature, 1, signed=False) << 32) | _mmh3(feature, 2, signed=False)


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _token_info(token: str, n_features: int, lo: int, hi: int) -> tuple[tuple[int, ...], int, int]:
    """Per-token buckets (toned 'w' unigram, folded 'f' unigram, folded char grams), and the 64-bit keys
    of the toned and folded token. (A tuple: a numpy array per new token cost more than its hashing.)"""
    folded = _fold(token)
    out = [_bucket("w" + token, n_features), _bucket("f" + folded, n_features)]
    if hi >= lo > 0:
        out.extend(_bucket(g, n_features) for g in _char_grams(folded, lo, hi))
    return tuple(out), _key("w" + token), _key("f" + folded)


def _ws_gram_buckets(docs: list[str], lo: int, hi: int, n_features: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    """(doc index, bucket) of every char lo..hi-gram (2 <= lo <= hi) of every space-padded token of `docs`
    (``_ws_gram_parts`` concatenated)."""
    rows, buckets = _ws_gram_parts(docs, lo, hi, n_features)
    return np.concatenate(rows), np.concatenate(buckets)


def _ws_gram_parts(docs: list[str], lo: int, hi: int, n_features: np.uint64) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per gram order n = lo..hi: (doc index, bucket) of every char n-gram of every space-padded token of
    `docs`, each part in document order (what ``_sum_rows`` needs).

    Each doc is its tokens joined by single spaces; the batch is laid out as " doc0  doc1 ..."
    and a gram is kept when its interior holds no space, i.e. it lies inside one padded token
    " word " (as sklearn's char_wb). Grams are hashed from their code points like word n-grams
    from unigram keys (``_combine``): no gram strings are built, one numpy pass per order.
    """
    return _layout_gram_parts(*_ws_layout_of_docs(docs), lo, hi, n_features)


def _ws_layout_of_docs(docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The batch " doc0  doc1 ..." as code points (uint64) and each position's doc index."""
    s = "".join(f" {d} " for d in docs)
    codes = np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    return codes, np.repeat(np.arange(len(docs), dtype=np.int64), [len(d) + 2 for d in docs])


def _layout_gram_parts(codes: np.ndarray, doc_of: np.ndarray, lo: int, hi: int,
                       n_features: np.uint64) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``_ws_gram_parts`` of a batch already laid out as code points (uint64) with each position's doc.

    The n-gram hashes are built up order by order over the whole layout (the (n+1)-gram at p is the n-gram
    at p times _MUL plus the next code point, exactly ``_combine``'s recurrence), then kept where the gram
    lies inside one padded word and finished: one multiply-add per position and order instead of n gathers."""
    space = codes == 32
    spaces_before = np.concatenate(([0], np.cumsum(space, dtype=np.int64)))
    doc_parts, bucket_parts = [], []
    h = codes
    with np.errstate(over="ignore"):
        for n in range(2, hi + 1):
            h = h[:-1] * _MUL + codes[n - 1 :]  # h[p]: the n-gram starting at p
            if n < lo:
                continue
            m = len(h)  # (slices, not gathers: position p's neighbours are p + 1 and p + n - 1)
            if n == 2:
                inside = ~(space[:m] & space[1 : m + 1])
            else:
                inside = spaces_before[n - 1 : n - 1 + m] == spaces_before[1 : 1 + m]
            doc_parts.append(doc_of[:m][inside])
            bucket_parts.append(_finish(h[inside], "x", n, n_features))
    return doc_parts, bucket_parts


# Rows are de-duplicated in chunks of this many consecutive rows, each chunk padded to its longest row.
_ROW_CHUNK = 64
_PAD = np.iinfo(np.int32).max


def _sum_rows(row_parts: list[np.ndarray], col_parts: list[np.ndarray],
              n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR (indptr, indices, data) of the counts of (row, col) pairs, each row's indices sorted: what
    ``csr_matrix((ones, (rows, cols))).sum_duplicates()`` gives, bit for bit, in about half the time.

    Why: scipy sorts every row's (index, value) pairs after a COO-to-CSR pass, which was the largest
    single share of scoring (~2,000 hashed entries per 100-word item). Here each part (rows
    non-decreasing) is scattered into a padded row-major int32 buffer, rows are sorted in place by
    numpy's vectorised sort, and runs of equal columns become (index, count)."""
    per_part = [np.bincount(r, minlength=n_rows) for r in row_parts]
    lengths = np.sum(per_part, axis=0, dtype=np.int64) if per_part else np.zeros(n_rows, np.int64)
    chunk = np.arange(n_rows) // _ROW_CHUNK
    width = np.maximum.reduceat(lengths, np.arange(0, n_rows, _ROW_CHUNK)) if n_rows else lengths
    chunk_size = np.diff(np.append(np.arange(0, n_rows, _ROW_CHUNK), n_rows)) * width
    chunk_start = np.cumsum(chunk_size) - chunk_size
    slot = chunk_start[chunk] + (np.arange(n_rows) % _ROW_CHUNK) * width[chunk]  # row r's first cell
    buf = np.full(int(chunk_size.sum()), _PAD, dtype=np.int32)
    fill = slot.copy()
    for cols, counts in zip(col_parts, per_part, strict=True):
        dest = np.repeat(fill - (np.cumsum(counts) - counts), counts)  # rows are non-decreasing in a part
        dest += np.arange(len(dest))
        buf[dest] = cols
        fill += counts
    for k in np.flatnonzero(width).tolist():
        buf[chunk_start[k] : chunk_start[k] + chunk_size[k]].reshape(-1, width[k]).sort(axis=1)
    # a run of equal columns starts where the value changes or a row starts, never in a row's padding
    edge = np.empty(len(buf), dtype=bool)
    edge[:1] = True
    np.not_equal(buf[1:], buf[:-1], out=edge[1:])
    edge[slot[lengths > 0]] = True
    edge &= buf != _PAD
    starts = np.flatnonzero(edge)
    indptr = np.empty(n_rows + 1, dtype=np.int32 if len(starts) < _PAD else np.int64)
    indptr[:-1] = np.searchsorted(starts, slot)  # every run lies inside its row's slot; slots are ordered
    indptr[-1] = len(starts)
    ends = np.empty_like(starts)  # a run ends where the next starts, a row's last one where its padding starts
    ends[:-1] = starts[1:]
    filled = lengths > 0
    ends[indptr[1:][filled] - 1] = (slot + lengths)[filled]
    return indptr, buf[starts], (ends - starts).astype(np.float32)


def _combine(keys: np.ndarray, starts: np.ndarray, order: int, prefix: str, n_features: np.uint64) -> np.ndarray:
    """Buckets of the n-grams of one order starting at `starts`, from unigram keys (vectorised,
    uint64 wrap-around; see ``_finish``)."""
    with np.errstate(over="ignore"):
        h = keys[starts].copy()
        for j in range(1, order):
            h = h * _MUL + keys[starts + j]
    return _finish(h, prefix, order, n_features)


def _finish(h: np.ndarray, prefix: str, order: int, n_features: np.uint64) -> np.ndarray:
    """Bucket of combined n-gram keys `h` (overwritten): a salt per kind and order, a splitmix-style finaliser
    to spread the bits, then the modulo (a mask when n_features is a power of two: the same value,
    without a 64-bit division per gram)."""
    with np.errstate(over="ignore"):
        h ^= _SALT[(prefix, order)]
        h ^= h >> np.uint64(31)
        h *= _MUL
        h ^= h >> np.uint64(29)
    n = int(n_features)
    if n & (n - 1) == 0:
        h &= np.uint64(n - 1)
        return h.view(np.int64)
    return (h % n_features).astype(np.int64)


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _canon(token: str) -> str:
    return normalize_tones(token).lower()


def breaks_after(text: str, max_tokens: int) -> list[bool]:
    """For each token of `text` (as Featurizer reads it, at most `max_tokens`): is it followed by
    punctuation? A reason is a phrase a reader sees, so it never spans "ngu, câm". The gaps between
    tokens come from one C-level split; a gap with anything but spaces holds punctuation."""
    gaps = TOKEN.split(text)[1:]  # gaps[i] follows token i (the last one follows the last token)
    return [not gap.isspace() and gap != "" for gap in gaps[: min(len(gaps) - 1, max_tokens)]]


def breaks_many(texts: list[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """``breaks_after`` of several texts at once: (flags of all texts concatenated, each text's count).

    Same rule, with the per-gap test done by C-level maps over one list (the per-token Python
    comprehension was a tenth of the explanation time)."""
    gaps: list[str] = []
    counts = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        split = TOKEN.split(text)
        k = min(len(split) - 2, max_tokens)  # split[1:] are the gaps; the last token's is never a break
        if k > 0:
            gaps.extend(split[1 : k + 1])
            counts[i] = k
    n = len(gaps)
    space = np.fromiter(map(str.isspace, gaps), dtype=bool, count=n)
    empty = np.fromiter(map(operator.not_, gaps), dtype=bool, count=n)
    return ~(space | empty), counts


class TokenTexts(Sequence[str]):
    """The canonical text of each token of a batch, looked up only when read: an explanation reads a few
    dozen tokens of a batch of ~50,000 (building the whole list was ~2 % of explained scoring)."""

    def __init__(self, ids: np.ndarray, vocab: list[str]) -> None:
        self._ids, self._vocab = ids, vocab

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, i):  # type: ignore[override]  # int -> str, slice -> list[str]
        if isinstance(i, slice):
            vocab = self._vocab
            return [vocab[j] for j in self._ids[i].tolist()]
        return self._vocab[int(self._ids[i])]


# -- the batch reader: tokens and whitespace words of a whole batch found with numpy ---------------
_SEP = "\x1e"  # between texts: not a token character, and whitespace to str.split
_LONG_TOKEN = 32  # longer tokens are looked up by their text, not by their 64-bit key
_KEY_BASE = (int.from_bytes(os.urandom(8), "little") | 1) & ((1 << 64) - 1)  # secret per process: keys can't be aimed at


@functools.lru_cache(maxsize=1)
def _char_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per BMP code point: is it a token character (TOKEN's class), is it whitespace to str.split.
    Taken from the regex and str.isspace themselves, so the batch reader splits exactly as they do
    (no whitespace lies above U+3000)."""
    bmp = "".join(map(chr, range(0x10000)))
    token = np.zeros(0x10000, dtype=bool)
    for m in TOKEN.finditer(bmp):
        token[m.start() : m.end()] = True
    space = np.zeros(0x10000, dtype=bool)
    space[[i for i in range(0x3001) if chr(i).isspace()]] = True
    return token, space


def _token_mask(codes: np.ndarray) -> np.ndarray:
    """TOKEN's character class over code points (astral ones, emoji mostly, asked of the regex once each)."""
    token, _ = _char_tables()
    mask = token[np.minimum(codes, 0xFFFF)]
    astral = codes > 0xFFFF
    if astral.any():
        cps = np.unique(codes[astral])
        ok = np.array([TOKEN.fullmatch(chr(c)) is not None for c in cps.tolist()], dtype=bool)
        mask[astral] = ok[np.searchsorted(cps, codes[astral])]
    return mask


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of every maximal run of True in `mask`."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8), prepend=0, append=0))
    return edges[0::2], edges[1::2]


def _first_per_doc(starts: np.ndarray, seps: np.ndarray, n_docs: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Each run's text index (texts end at `seps`) and whether it is among its text's first `limit`."""
    doc = np.searchsorted(seps, starts)
    rank = np.arange(len(doc)) - np.searchsorted(doc, np.arange(n_docs))[doc]
    return doc, rank < limit


def _space_mask(codes: np.ndarray) -> np.ndarray:
    """str.isspace over code points."""
    _, space = _char_tables()
    return space[np.minimum(codes, 0xFFFF)] & (codes <= 0xFFFF)


def _followed_by_punctuation(codes: np.ndarray, token: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                             doc: np.ndarray) -> np.ndarray:
    """``breaks_after`` of every token run at once: the gap to the next token of the same text holds
    something other than whitespace (a text's last token never breaks)."""
    other = np.concatenate(([0], np.cumsum(~token & ~_space_mask(codes), dtype=np.int64)))
    out = np.zeros(len(starts), dtype=bool)
    if len(starts) > 1:
        out[:-1] = (other[starts[1:]] > other[ends[:-1]]) & (doc[1:] == doc[:-1])
    return out


def _run_keys(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit key of each run's code points: a polynomial hash from prefix sums (mod 2^64, secret odd
    base) with its length mixed in. Only short runs use it (see _LONG_TOKEN): for them no structured
    collision reaches 64 bits, and the base is unknown to whoever writes the text."""
    with np.errstate(over="ignore"):
        base = np.full(len(codes) + 1, _KEY_BASE, dtype=np.uint64)
        base[0] = 1
        power = np.cumprod(base)
        inv = np.full(len(codes) + 1, pow(_KEY_BASE, -1, 1 << 64), dtype=np.uint64)
        inv[0] = 1
        inv_power = np.cumprod(inv)
        prefix = np.zeros(len(codes) + 1, dtype=np.uint64)
        np.cumsum(codes.astype(np.uint64) * power[:-1], out=prefix[1:])
        h = (prefix[ends] - prefix[starts]) * inv_power[starts]
        h ^= (ends - starts).astype(np.uint64) * _MUL
    return h


def _ws_layout(low: str, n_docs: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The char-gram layout of a batch, from the lower-cased texts joined by _SEP: what
    ``_ws_gram_parts`` builds from " ".join(w[:40] for w in text.lower().split()[:limit]) per text,
    without a Python pass per word. Returns (code points as uint64, each position's text index)."""
    codes = np.frombuffer(low.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends = _runs(~_space_mask(codes))
    doc, keep = _first_per_doc(starts, np.flatnonzero(codes == ord(_SEP)), n_docs, limit)
    starts, ends, doc = starts[keep], ends[keep], doc[keep]
    size = np.minimum(ends - starts, 40)
    slot = size + 1  # the word and the space after it
    before = np.cumsum(slot) - slot
    first = np.searchsorted(doc, np.arange(n_docs))
    doc_len = np.maximum(np.bincount(doc, weights=slot, minlength=n_docs).astype(np.int64) + 1, 2)
    doc_start = np.cumsum(doc_len) - doc_len
    out_start = doc_start[doc] + 1 + before - before[first[doc]]
    out = np.full(int(doc_len.sum()), 32, dtype=np.uint64)
    j = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
    out[np.repeat(out_start, size) + j] = codes[np.repeat(starts, size) + j]
    return out, np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)


def _token_char_grams(buckets: list[tuple[int, ...]], tid: np.ndarray, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, buckets) of the char grams of every token, gathered per distinct id from the per-token cache."""
    uniq, inv = np.unique(tid, return_inverse=True)
    per_token = [np.asarray(buckets[u][2:], dtype=np.int64) for u in uniq.tolist()]
    lens = np.fromiter(map(len, per_token), dtype=np.int64, count=len(per_token))
    flat = np.concatenate(per_token)
    offsets = np.cumsum(lens) - lens
    pc = lens[inv]
    out_start = np.cumsum(pc) - pc
    return np.repeat(doc, pc), flat[np.arange(pc.sum(), dtype=np.int64) - np.repeat(out_start - offsets[inv], pc)]


class KeyTable:
    """64-bit key -> vocabulary id, an open-addressing hash table in numpy arrays (linear probing, at most
    half full): a batch's ~50,000 look-ups are a few vectorised probe rounds, one cache miss each, where
    binary searches of a sorted table cost ~17."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._keys = np.zeros(capacity, dtype=np.uint64)
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._used = np.zeros(capacity, dtype=bool)
        self._n = 0

    def _home(self, keys: np.ndarray) -> np.ndarray:
        shift = np.uint64(64 - (len(self._keys).bit_length() - 1))
        with np.errstate(over="ignore"):
            return ((keys * _MUL) >> shift).astype(np.int64)  # Fibonacci hashing: the key's high bits

    def get(self, keys: np.ndarray) -> np.ndarray:
        """Ids of `keys` (-1 where absent)."""
        out = np.full(len(keys), -1, dtype=np.int64)
        slot, todo, mask = self._home(keys), np.arange(len(keys)), len(self._keys) - 1
        while len(todo):
            s = slot[todo]
            used = self._used[s]
            hit = used & (self._keys[s] == keys[todo])
            out[todo[hit]] = self._ids[s[hit]]
            on = used & ~hit  # another key sits here: probe the next slot
            todo = todo[on]
            slot[todo] = (s[on] + 1) & mask
        return out

    def add(self, keys: np.ndarray, ids: np.ndarray) -> None:
        """Insert distinct keys not in the table yet (doubling it first when it would pass half full)."""
        if 2 * (self._n + len(keys)) > len(self._keys):
            old = np.flatnonzero(self._used)
            old_keys, old_ids = self._keys[old], self._ids[old]
            size = len(self._keys)
            while 2 * (self._n + len(keys)) > size:
                size *= 2
            self.__init__(size)
            self._place(old_keys, old_ids)
        self._place(keys, ids)

    def _place(self, keys: np.ndarray, ids: np.ndarray) -> None:
        slot, todo, mask = self._home(keys), np.arange(len(keys)), len(self._keys) - 1
        while len(todo):
            s = slot[todo]
            free = ~self._used[s]
            taken, first = np.unique(s[free], return_index=True)  # one winner per free slot
            won = todo[free][first]
            self._used[taken], self._keys[taken], self._ids[taken] = True, keys[won], ids[won]
            lost = np.ones(len(keys), dtype=bool)
            lost[won] = False
            todo = todo[lost[todo]]
            slot[todo] = (slot[todo] + 1) & mask
        self._n += len(keys)


class Featurizer:
    """Hashes texts into a sparse matrix with log-TF, optional IDF and L2 norm.

    Unigrams and char grams are hashed from strings; word 2-3-grams are hashed by combining
    the unigrams' 64-bit keys with numpy (no n-gram strings are built: that was 80% of the
    scoring time). Stateless apart from the optional IDF vector, so it is rebuilt from a plain
    config dict at load time (nothing executable is stored in the model file).
    """

    def __init__(self, config: dict | None = None, idf: np.ndarray | None = None) -> None:
        self.config = dict(DEFAULT_CONFIG if config is None else config)
        self.idf = idf
        # the token caches grow (and the key table is rebuilt) while a batch is read: one batch at a time
        # (the scheduler's workers may score concurrently)
        self._cache_lock = threading.Lock()
        ws_hi = int(self.config.get("ws_char_max", 0))
        if ws_hi > 0 and (self.config.get("ws_scheme") != 2 or ws_hi > 7):
            raise ValueError(
                f"feature config {self.config!r}: whitespace-token char grams need ws_scheme 2 and "
                "ws_char_max <= 7 (a model from an older feature scheme must be retrained: monitor train)"
            )

    @property
    def n_features(self) -> int:
        return int(self.config["n_features"])

    @property
    def width(self) -> int:
        """Number of columns of the feature matrix (2 blocks when split_blocks)."""
        return self.n_features * (2 if self.config.get("split_blocks") else 1)

    # -- vocabulary cache: raw token -> id, with every per-token quantity precomputed ----------
    def _ensure_cache(self) -> None:
        if getattr(self, "_vocab", None) is None or len(self._vocab) > self.MAX_CACHE:
            self._vocab: dict[str, int] = {}
            self._canon_of: list[str] = []
            self._buckets: list[tuple[int, ...]] = []
            self._wkey: list[int] = []
            self._fkey: list[int] = []
            self._tables = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64), np.zeros(0, np.uint64))
            self._n_tabled = 0
            self._key_table = KeyTable()

    # Tokens kept before the vocabulary cache starts afresh (~1 KB each; see TOKEN_CACHE). A reset costs one
    # look-up of each token as it is met again (~1 s for 50,000); scores do not change.
    MAX_CACHE = 50_000
    CHUNK = 2000

    def _id_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per vocabulary id: the toned and folded unigram buckets and 64-bit keys, as numpy arrays that
        mirror the per-token cache (grown as tokens are met, amortised like a list). A batch then gathers
        its tokens' values by id (no np.unique over the batch, no Python list per batch)."""
        n, have = len(self._buckets), self._n_tabled
        if have < n:
            if n > len(self._tables[0]):
                size = max(n, 2 * len(self._tables[0]))
                grown = tuple(np.zeros(size, t.dtype) for t in self._tables)
                for new, old in zip(grown, self._tables, strict=True):
                    new[:have] = old[:have]
                self._tables = grown
            wb, fb, wk, fk = self._tables
            fresh = self._buckets[have:n]
            wb[have:n] = [a[0] for a in fresh]
            fb[have:n] = [a[1] for a in fresh]
            wk[have:n] = np.asarray(self._wkey[have:n], dtype=np.uint64)
            fk[have:n] = np.asarray(self._fkey[have:n], dtype=np.uint64)
            self._n_tabled = n
        return tuple(t[:n] for t in self._tables)  # type: ignore[return-value]

    def _id(self, raw: str) -> int:
        cfg = self.config
        canon = _canon(raw)
        arr, wk, fk = _token_info(canon, cfg["n_features"], cfg["char_min"], cfg["char_max"])
        i = len(self._canon_of)
        self._vocab[raw] = i
        self._canon_of.append(canon)
        self._buckets.append(arr)
        self._wkey.append(wk)
        self._fkey.append(fk)
        return i

    def _read_batch(self, texts: Iterable[str], with_terms: bool, with_ws: bool) -> dict:
        """The text part of `counts`: "ids" (each token's vocabulary id), "lengths" (each text's token
        count), "layout" (the char-gram layout of the lower-cased words, ``_ws_layout``), and for
        explanations "read" (what the model read, with a break where a link stood) and "breaks" (per token:
        followed by punctuation in "read", where "exact" says it was computed, else None).

        Python runs once per text (``model_text``); tokens and words are found with numpy over the whole
        batch and known tokens are matched by a 64-bit key (``_ids_of_runs``), so no string is built per
        token (findall, lower/split/join and a dict look-up per token were half of the scoring time)."""
        max_tok = self.config["max_tokens"]
        read: list[str] = []  # what the model read, kept for explanations (phrases never cross punctuation)
        model_texts: list[str] = []
        for raw_text in texts:
            text = model_text(raw_text)  # trivial perturbations undone: zero-width, look-alikes, URLs, teencode
            model_texts.append(text)
            if with_terms:  # the same tokens, with a break where a link stood (see breaks_after)
                linked = raw_text and ("://" in raw_text or "www." in raw_text.lower() or "<URL>" in raw_text)
                read.append(model_text(url_breaks(raw_text)) if linked else text)
        n_docs = len(model_texts)
        out: dict = {"read": read, "breaks": None, "exact": None}
        joined = _SEP.join(model_texts)
        if joined.count(_SEP) != max(n_docs - 1, 0):  # a text holds the separator itself: read text by text
            ids, lengths, ws_docs = self._read_plain(model_texts, with_ws)
            out.update(ids=np.asarray(ids, dtype=np.int64), lengths=np.asarray(lengths, dtype=np.int64),
                       layout=_ws_layout_of_docs(ws_docs) if with_ws else None)
            return out
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        token = _token_mask(codes)
        starts, ends = _runs(token)
        doc, keep = _first_per_doc(starts, np.flatnonzero(codes == ord(_SEP)), n_docs, max_tok)
        if with_terms:
            out["breaks"] = _followed_by_punctuation(codes, token, starts, ends, doc)[keep]
            out["exact"] = np.fromiter((r is t for r, t in zip(read, model_texts, strict=True)), dtype=bool, count=n_docs)
        starts, ends, doc = starts[keep], ends[keep], doc[keep]
        out.update(ids=self._ids_of_runs(joined, codes, starts, ends), lengths=np.bincount(doc, minlength=n_docs),
                   layout=_ws_layout(joined.lower(), n_docs, max_tok) if with_ws else None)
        return out

    def _read_plain(self, texts: list[str], with_ws: bool) -> tuple[list[int], list[int], list[str]]:
        """The definition ``_read_batch`` follows, one text at a time: TOKEN.findall, a dict look-up per
        token, and each text's words lower-cased, cut to 40 characters and joined by single spaces."""
        max_tok = self.config["max_tokens"]
        ids: list[int] = []
        lengths: list[int] = []
        ws_docs: list[str] = []
        for text in texts:
            if with_ws:
                ws_docs.append(" ".join([w[:40] for w in text.lower().split()[:max_tok]]))
            doc_ids = [self._text_id(t) for t in TOKEN.findall(text)[:max_tok]]
            ids.extend(doc_ids)
            lengths.append(len(doc_ids))
        return ids, lengths, ws_docs

    def _text_id(self, raw: str) -> int:
        i = self._vocab.get(raw)
        return i if i is not None else self._id(raw)

    def _ids_of_runs(self, joined: str, codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Vocabulary id of each token joined[start:end]: short tokens by their 64-bit key in a hash table
        (``KeyTable``: vectorised over the batch; a token's text is cut out only the first time it is seen),
        long ones by their text."""
        tid = np.empty(len(starts), dtype=np.int64)
        short = (ends - starts) <= _LONG_TOKEN
        s, e = starts[short], ends[short]
        keys = _run_keys(codes, s, e)
        found = self._key_table.get(keys)
        miss = np.flatnonzero(found < 0)
        if len(miss):
            new_keys, first = np.unique(keys[miss], return_index=True)
            new_ids = np.array([self._text_id(joined[a:b]) for a, b in
                                zip(s[miss[first]].tolist(), e[miss[first]].tolist(), strict=True)], dtype=np.int64)
            self._key_table.add(new_keys, new_ids)
            found[miss] = new_ids[np.searchsorted(new_keys, keys[miss])]
        tid[short] = found
        long_ = np.flatnonzero(~short)
        if len(long_):
            tid[long_] = [self._text_id(joined[a:b]) for a, b in zip(starts[long_].tolist(), ends[long_].tolist(), strict=True)]
        return tid

    def counts(self, texts: Iterable[str], with_terms: bool = False):
        """Raw hashed counts (CSR, float32) of a batch; with_terms=True also returns term data
        for explanations (see ``Model._explain_batch``).

        Vectorised over the batch: Python work is one ``model_text`` per text; tokens are found and
        matched to the per-token cache with numpy (``_read_batch``), unigram buckets gathered by id, word
        2-3-grams hashed from unigram keys and char grams from code points across all documents at once.
        A large batch without terms (training reads whole splits) is read in chunks of CHUNK texts: the
        batch-wide arrays cost ~60 bytes per character.
        """
        if not with_terms:
            texts = texts if isinstance(texts, list) else list(texts)
            if len(texts) > self.CHUNK:
                parts = [self.counts(texts[i : i + self.CHUNK]) for i in range(0, len(texts), self.CHUNK)]
                X = sp.vstack(parts, format="csr")
                X.has_canonical_format = True  # (every part is: sorted rows, no duplicates)
                return X
        cfg = self.config
        n = np.uint64(cfg["n_features"])
        ws_lo, ws_hi = cfg.get("ws_char_min", 0), cfg.get("ws_char_max", 0)
        with_ws = ws_hi >= ws_lo > 0
        with self._cache_lock:
            self._ensure_cache()
            batch = self._read_batch(texts, with_terms, with_ws)
            tables, vocab, buckets = self._id_tables(), self._canon_of, self._buckets
        tid, L, layout, read = batch["ids"], batch["lengths"].astype(np.int64), batch["layout"], batch["read"]
        n_docs = len(L)
        doc = np.repeat(np.arange(n_docs, dtype=np.int64), L)
        doc_start = np.cumsum(L) - L
        pid = np.arange(len(tid), dtype=np.int64) - doc_start[doc] if len(tid) else np.zeros(0, np.int64)
        row_parts: list[np.ndarray] = []
        col_parts: list[np.ndarray] = []
        terms = None
        if len(tid):
            wb_of, fb_of, wk_of, fk_of = tables
            uni_w, uni_f = wb_of[tid], fb_of[tid]
            col_parts.extend((uni_w, uni_f))
            row_parts.extend((doc, doc))
            if cfg["char_max"] >= cfg["char_min"] > 0:  # char grams inside folded tokens (off in shipped configs)
                rows, cols = _token_char_grams(buckets, tid, doc)
                row_parts.append(rows)
                col_parts.append(cols)
            wk, fk = wk_of[tid], fk_of[tid]
            grams = [(1, np.arange(len(tid)), uni_w, uni_f)] if with_terms else []
            for order in range(2, cfg["word_ngrams"] + 1):
                valid = np.flatnonzero(pid + order - 1 < L[doc])
                if not len(valid):
                    continue
                wb = _combine(wk, valid, order, "w", n)
                fb = _combine(fk, valid, order, "f", n)
                col_parts.extend((wb, fb))
                row_parts.extend((doc[valid], doc[valid]))
                if with_terms:
                    grams.append((order, valid, wb, fb))
            if with_terms:
                terms = {"canon": TokenTexts(tid, vocab), "ids": tid, "vocab": vocab,
                         "doc": doc, "grams": grams, "n_docs": n_docs, "texts": read,
                         "breaks": batch["breaks"], "breaks_exact": batch["exact"]}
        elif with_terms:
            terms = {"canon": TokenTexts(tid, []), "ids": tid, "vocab": vocab, "doc": doc, "grams": [],
                     "n_docs": n_docs, "texts": read, "breaks": None, "breaks_exact": None}
        if layout is not None and n_docs:
            ws_rows, ws_cols = _layout_gram_parts(*layout, ws_lo, ws_hi, n)
            shift = self.n_features if cfg.get("split_blocks") else 0
            col_parts.extend(c + shift for c in ws_cols)
            row_parts.extend(ws_rows)
        X = sp.csr_matrix(_sum_rows(row_parts, col_parts, n_docs)[::-1], shape=(n_docs, self.width), copy=False)
        X.has_canonical_format = True  # sorted, no duplicates (_sum_rows)
        return (X, terms) if with_terms else X

    def weight(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """log-TF, IDF, L2 normalise (on a copy of `X`, whose index order it keeps: explanations
        binary-search the rows, and re-sorting a batch cost ~10 % of explained scoring)."""
        sorted_in = X.has_sorted_indices
        X = X.astype(np.float32, copy=True)
        X.has_sorted_indices = sorted_in
        return self.weigh_in_place(X)

    def weigh_in_place(self, X: sp.csr_matrix, idf_values: np.ndarray | None = None) -> sp.csr_matrix:
        """``weight`` in place, for a count matrix nobody else holds (``transform``'s own, or ``counts``' for a
        caller that gathered each entry's IDF itself: `idf_values`, aligned with X.data; see Model.score)."""
        if idf_values is not None and len(idf_values) != X.nnz:
            raise ValueError(f"{len(idf_values)} IDF values for {X.nnz} stored features")
        np.log1p(X.data, out=X.data)
        if idf_values is not None:
            X.data *= idf_values
        elif self.idf is not None:
            X.data *= self.idf[X.indices]
        if self.config.get("split_blocks"):  # each row's word block, then its char block
            key = np.repeat(np.arange(0, 2 * X.shape[0], 2), np.diff(X.indptr))
            key += X.indices >= self.n_features
        else:
            key = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        sq = X.data.astype(np.float64)
        np.square(sq, out=sq)
        sq = np.bincount(key, weights=sq, minlength=2 * X.shape[0])
        norms = np.sqrt(sq).astype(np.float32)
        norms[norms == 0] = 1.0
        X.data /= norms[key]
        return X

    def transform(self, texts: Iterable[str], with_terms: bool = False):
        """Weighted features; with_terms=True also returns the explanation term data."""
        if with_terms:
            X, terms = self.counts(texts, with_terms=True)
            return self.weigh_in_place(X), terms
        return self.weigh_in_place(self.counts(texts))

    def fit_idf(self, X_counts: sp.csr_matrix, min_df: int = 2) -> np.ndarray:
        """Smooth IDF; features seen in fewer than `min_df` docs get weight 0 (drops noise, shrinks the model)."""
        df = np.bincount(X_counts.indices, minlength=self.width).astype(np.float64)
        n = X_counts.shape[0]
        idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        idf[df < min_df] = 0.0
        self.idf = idf.astype(np.float32)
        return self.idf
