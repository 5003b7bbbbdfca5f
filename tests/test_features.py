"""Feature hashing and watchlist pre-checks: the fast paths must give what the plain definitions give."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from classifiers import features as F
from classifiers.model import load_model
from classifiers.watchlist import _TABLE, Watchlist

MASK = (1 << 64) - 1


def _gram_bucket(gram: str, n_features: int) -> int:
    """Reference: the hash of one gram string, one code point at a time (plain Python ints)."""
    mul = int(F._MUL)
    h = ord(gram[0])
    for ch in gram[1:]:
        h = (h * mul + ord(ch)) & MASK
    h ^= int(F._SALT[("x", len(gram))])
    h ^= h >> 31
    h = (h * mul) & MASK
    h ^= h >> 29
    return h % n_features


def _reference_ws_grams(docs: list[str], lo: int, hi: int, n_features: int) -> Counter:
    """char_wb definition: every lo..hi-gram of each token padded with one space on each side."""
    out: Counter = Counter()
    for d, doc in enumerate(docs):
        for word in doc.split():
            s = f" {word} "
            for n in range(lo, hi + 1):
                for i in range(len(s) - n + 1):
                    out[(d, _gram_bucket(s[i : i + n], n_features))] += 1
    return out


def test_ws_grams_are_the_padded_token_grams_of_each_doc():
    docs = ["chia sẻ gấp!!!", "a", "", "nước  chanh  nóng #covid", "ừ ừ ừ"]
    docs = [" ".join(d.split()) for d in docs]  # as counts() lays them out
    rows, buckets = F._ws_gram_buckets(docs, 2, 5, np.uint64(1 << 20))
    got = Counter(zip(rows.tolist(), buckets.tolist(), strict=True))
    assert got == _reference_ws_grams(docs, 2, 5, 1 << 20)
    # nothing crosses a word or a document: "p! a" would be a gram of a joined string
    assert not any(r == 1 and b == _gram_bucket("!! a", 1 << 20) for r, b in got)


def test_counts_puts_ws_grams_in_the_char_block_per_row():
    fz = F.Featurizer()
    X = fz.counts(["Thủy điện xả lũ", "", "thủy điện"])
    n = fz.n_features
    assert X.shape == (3, 2 * n)
    assert X[1].nnz == 0
    # row 2's char grams are a subset of row 0's (same words), and all sit in the second block
    row0 = set(X[0].indices[X[0].indices >= n].tolist())
    row2 = set(X[2].indices[X[2].indices >= n].tolist())
    assert row2 and row2 <= row0


def test_old_feature_scheme_is_refused_with_a_reason():
    cfg = dict(F.DEFAULT_CONFIG)
    del cfg["ws_scheme"]
    with pytest.raises(ValueError, match="retrain"):
        F.Featurizer(cfg)


@pytest.mark.parametrize("text", ["Xem HTTPS://Example.com/tin-gia ngay", "xem WWW.example.com ngay", "xem https://x.vn"])
def test_urls_leave_no_token_whatever_their_case(text):
    """model_text removes links (a link appended must not move a score): nothing of them is a feature."""
    _, terms = F.Featurizer().counts([text], with_terms=True)
    assert not {"url", "example", "com", "https", "www", "x", "vn"} & set(terms["canon"])
    assert {"xem"} <= set(terms["canon"])


def _plain_match(wl: Watchlist, text: str) -> list[dict]:
    """Every rule's regex on the folded text, without the anchor / word pre-checks."""
    from classifiers.text import nfc

    src = nfc(text)
    key = src.translate(_TABLE)
    hits = []
    for rule in wl.rules:
        m = rule.regex.search(key)
        if m is not None and m.end() > m.start():
            hits.append({"category": rule.category, "name": rule.name, "rule": rule.rule,
                         "match": src[m.start() : m.end()]})
    return hits


def test_watchlist_prechecks_lose_no_match():
    wl = Watchlist.load()
    texts = [
        "SHARE BEFORE IT'S DELETED!!! doctors don't want you to know",
        "Chia sẻ gấp, trước khi bị gỡ: uống nước chanh mỗi sáng chữa khỏi hẳn ung thư",
        "thằng ngu, đồ óc chó; lũ súc vật. giết hết bọn nó",
        "chữa khỏi 100 % bệnh, drinking bleach cures covid",
        "óc chó rang muối rất ngon (hạt óc chó)",
        "chia sẻ gấu bông; thằng nguyên đi học",
        "ba que phản động, lũ ba que",
    ]
    for text in texts:
        assert wl.match(text) == _plain_match(wl, text), text
    assert len(wl.match(texts[0])) == 2 and not wl.match(texts[5])


def test_explanations_list_each_term_once():
    model = load_model()
    text = "đồ ngu đồ ngu đồ ngu, câm mồm đi con chó, câm mồm đi con chó"
    terms = [t["term"] for t in model.score_one(text).explanations["harm"]]
    assert terms and len(terms) == len(set(terms))


def test_batch_folding_equals_per_character_translation():
    import random

    from classifiers.watchlist import fold_keys

    rng = random.Random(7)
    pools = [range(0x20, 0x250), range(0x1E00, 0x1F00), range(0x300, 0x370), range(0x400, 0x500),
             range(0x2FF0, 0x3100), range(0x1F600, 0x1F650), range(0xFF01, 0xFF60), range(0xD800, 0xD803)]
    texts = ["", "Thủy điện Hòa Bình XẢ LŨ 😱", "İstanbul ǅ ß ﬁ"]
    texts += ["".join(chr(rng.choice(rng.choice(pools))) for _ in range(rng.randrange(0, 80))) for _ in range(300)]
    keys, word_keys = fold_keys(texts)
    assert keys == [t.translate(_TABLE) for t in texts]
    assert [w.split() for w in word_keys] == [re.findall(r"\w+", k) for k in keys]


def test_packed_sort_orders_like_lexsort():
    from classifiers.model import _order_by_doc_then_desc

    rng = np.random.default_rng(3)
    n = 5000
    doc = rng.integers(0, 37, n)
    value = rng.choice(np.array([0.5, 1e-7, 3.25, 1e3, 0.125], dtype=np.float32), n)
    tie = rng.integers(0, 1 << 21, n)
    expect = np.lexsort((tie, -value, doc))
    got = _order_by_doc_then_desc(doc, value, tie, 37, 1 << 21)
    key = lambda idx: list(zip(doc[idx].tolist(), (-value[idx]).tolist(), tie[idx].tolist(), strict=True))  # noqa: E731
    assert key(got) == key(expect)
    # too many documents to pack: falls back to lexsort, same order
    assert key(_order_by_doc_then_desc(doc, value, tie, 1 << 40, 1 << 21)) == key(expect)


def test_hash_buckets_equal_scikit_learns_murmurhash():
    """Shipped models were trained with sklearn's murmurhash3_32; mmh3 must give the same buckets and keys."""
    from sklearn.utils import murmurhash3_32

    from classifiers.features import _bucket, _key

    for word in ("wchia", "fchia se", "xđăng", "w😀", "f", "wThủy"):
        assert _bucket(word, 1 << 20) == abs(murmurhash3_32(word, seed=0)) % (1 << 20)
        assert _key(word) == (murmurhash3_32(word, seed=1, positive=True) << 32) | murmurhash3_32(word, seed=2, positive=True)


def test_weighted_features_keep_sorted_indices_honestly():
    """weight() carries the sorted-indices flag over: it must be true (explanations binary-search rows)."""
    from classifiers.features import Featurizer

    X = Featurizer().transform(["tin giả về ngân hàng đóng cửa", "xin chào các bạn, chúc ngủ ngon", ""])
    assert X.has_sorted_indices
    resorted = X.copy()
    resorted.has_sorted_indices = False
    resorted.sort_indices()
    assert (resorted.indices == X.indices).all() and (resorted.data == X.data).all()
