"""The fast scoring paths (issue 18 §7, issue 17 §4) must give exactly what the plain definitions give.

Each fast path replaced a plain one: scipy's sum_duplicates (``_sum_rows``), a findall and a dict look-up
per token (the numpy batch reader), a Python pass per token for stop words and punctuation breaks, the
whole token list for reasons. Here the plain ones run side by side with the fast ones on generated text
(no research data), and the scores, thresholds, flags and reasons must be the same: the model is not
retrained for a speed change, so nothing it outputs may move.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp

from classifiers import features as F
from classifiers import model as model_mod
from classifiers.explain import is_stop
from classifiers.model import load_model

SYLLABLES = (
    "chia sẻ gấp thủy điện xả lũ ngân hàng đóng cửa tin giả bộ y tế cảnh báo uống nước chanh chữa khỏi covid "
    "mày là thằng ngu câm mồm đồ óc chó bác sĩ xác nhận virus corona tế bào bí mật này hãy bị đi ko dc k j "
    "chua khoi benh vaccine 5G hoax vinaigre guérit the and của và không được"
).split()
NOISE = ["!!!", ",", ".", "?", " - ", "#covid", "@ai", "http://x.vn/a?b=1", "www.tin.vn", "😀", "🇻🇳", "\u200b",
         "ΑΣ'", "İ", "ß", "𝐀𝐁", "٣", "\t", "\n", "\u3000", "\x1c", "_", "x" * 45, "1000", "CHIA SẺ GẤP"]


def _texts(n: int, seed: int) -> list[str]:
    """Posts of 0-150 words from a small vocabulary, with punctuation, links, emoji, odd Unicode and caps."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(NOISE) if rng.random() < 0.12 else rng.choice(SYLLABLES) for _ in range(rng.randrange(0, 150))]
        text = " ".join(words)
        out.append(text.upper() if rng.random() < 0.05 else text)
    return out + ["", " ", "ngu " * 450, "chia sẻ gấp"]


def _scipy_sum_rows(row_parts, col_parts, n_rows):
    """The plain definition: COO to CSR, then scipy's sum_duplicates."""
    rows = np.concatenate(row_parts) if row_parts else np.zeros(0, np.int64)
    cols = np.concatenate(col_parts) if col_parts else np.zeros(0, np.int64)
    X = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(n_rows, 1 << 22))
    X.sum_duplicates()
    return X.indptr, X.indices, X.data


@pytest.mark.parametrize("n_rows", [0, 1, 63, 64, 65, 300])
def test_sum_rows_equals_scipy_sum_duplicates(n_rows):
    rng = np.random.default_rng(n_rows)
    row_parts, col_parts = [], []
    for _ in range(4):
        size = int(rng.integers(0, 3000)) if n_rows else 0
        rows = np.sort(rng.integers(0, max(n_rows, 1), size))
        rows[rows == 7] = 8  # an empty row among full ones
        row_parts.append(rows)
        col_parts.append(rng.integers(0, int(rng.choice([5, 1 << 21])), size))  # many repeats, then few
    if n_rows > 65:
        row_parts.append(np.full(5000, 64))  # one long row pads its chunk
        col_parts.append(rng.integers(0, 1 << 21, 5000))
    got = F._sum_rows(row_parts, col_parts, n_rows)
    want = _scipy_sum_rows(row_parts, col_parts, n_rows)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w)
    assert got[2].dtype == np.float32


def test_batch_reader_equals_per_text_definition():
    """Tokens and words found with numpy over the batch = TOKEN.findall and lower().split() per text. A text
    holding the separator sends the whole batch down the per-text path, which is the reference here."""
    texts = _texts(400, seed=1)
    fz = F.Featurizer()
    (X, terms), (Y, ref) = fz.counts(texts, with_terms=True), fz.counts(texts + [F._SEP], with_terms=True)
    Y = Y[: len(texts)]
    assert np.array_equal(X.indptr, Y.indptr) and np.array_equal(X.indices, Y.indices)
    assert np.array_equal(X.data, Y.data) and X.has_sorted_indices
    n = len(terms["doc"])
    assert list(terms["canon"]) == list(ref["canon"])[:n] and np.array_equal(terms["doc"], ref["doc"][:n])
    lengths = [len(F.TOKEN.findall(F.model_text(t))[:400]) for t in texts]
    assert np.bincount(terms["doc"], minlength=len(texts)).tolist() == lengths
    # punctuation after each token, found with the tokens, where the text read for reasons is the text scored
    starts = np.cumsum(lengths) - lengths
    checked = 0
    for i in np.flatnonzero(terms["breaks_exact"]).tolist():
        flags = F.breaks_after(terms["texts"][i], 400)
        got = terms["breaks"][starts[i] : starts[i] + lengths[i]].tolist()
        assert got == flags + [False] * (lengths[i] - len(flags)), texts[i]
        checked += 1
    assert checked >= 150 and not terms["breaks_exact"].all()  # links are read the other way


def _reference_stop_flags(self, terms):
    return np.array([is_stop(t) for t in terms["canon"]], dtype=bool)


def _reference_breaks(self, terms, shown):
    """The per-item loop the batch version replaced."""
    tok_doc = terms["doc"]
    brk = np.zeros(len(tok_doc), dtype=bool)
    starts = np.searchsorted(tok_doc, np.arange(terms["n_docs"]))
    for i in np.flatnonzero(shown).tolist():
        flags = F.breaks_after(terms["texts"][i], int(self.featurizer.config["max_tokens"]))
        brk[starts[i] : starts[i] + len(flags)] = flags
    return brk


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_scores_and_reasons_equal_the_plain_path(model, monkeypatch):
    """End to end: the same scores (to 1e-6), thresholds, flags and reasons (same terms, same order, same
    contributions) as scoring through every plain definition at once."""
    texts = _texts(600, seed=2)
    kinds = [("post", "article", "comment")[i % 3] for i in range(len(texts))]
    fast = [s for i in range(0, len(texts), 250) for s in model.score(texts[i : i + 250], kinds=kinds[i : i + 250])]
    with monkeypatch.context() as m:
        m.setattr(F, "_sum_rows", _scipy_sum_rows)
        m.setattr(model_mod.Model, "_stop_flags", _reference_stop_flags)
        m.setattr(model_mod.Model, "_punctuation_breaks", _reference_breaks)
        m.setattr(model_mod, "_token_texts", lambda terms, starts, lengths: list(terms["canon"]))
        plain = []
        for i in range(0, len(texts), 250):
            batch = texts[i : i + 250]
            plain += model.score(batch + [F._SEP], kinds=kinds[i : i + 250] + ["post"])[:-1]  # per-text reader
    assert len(fast) == len(plain) == len(texts)
    shown = 0
    for a, b in zip(fast, plain, strict=True):
        assert abs(a.misinformation - b.misinformation) <= 1e-6 and abs(a.harm - b.harm) <= 1e-6
        assert a.thresholds == pytest.approx(b.thresholds, abs=1e-6)
        assert a.flagged == b.flagged and a.rule_hits == b.rule_hits
        assert a.explanations == b.explanations
        shown += bool(a.explanations)
    assert shown >= 20  # the comparison did cover reasons


def test_an_item_scored_alone_gets_the_reasons_it_gets_in_a_batch(model):
    """A batch of one short item whose category is shown (half its threshold or more) with no stretch strong
    enough to name has no reason candidates at all: that once failed in the grouping of candidates per item
    ("Covid", "vaccine" alone raised ValueError). Alone or among others, an item gets the same reasons."""
    texts = ["a", "Covid", "vaccine", "WHO", "5G", "tin giả", "ngu", "chết", "Bill Gates", "khẩn cấp", ""]
    together = model.score(texts, rescore=False)
    no_term = 0
    for text, in_batch in zip(texts, together, strict=True):
        alone = model.score([text], rescore=False)[0]
        assert alone.explanations == in_batch.explanations, text
        assert alone.misinformation == in_batch.misinformation and alone.harm == in_batch.harm, text
        no_term += any(getattr(alone, c) >= model_mod.EXPLAIN_FRACTION * alone.thresholds[c]
                       and not alone.explanations.get(c) for c in model.categories)
    assert no_term >= 1  # the case that failed is among them (a shown category without a term)


def test_key_table_finds_what_was_added_and_nothing_else():
    rng = np.random.default_rng(0)
    table, ref = F.KeyTable(16), {}
    for _ in range(30):  # grows from 16 slots through several doublings
        keys = np.unique(rng.integers(0, 1 << 63, int(rng.integers(0, 3000)), dtype=np.uint64))
        keys = keys[[k not in ref for k in keys.tolist()]]
        ids = rng.integers(0, 1 << 40, len(keys))
        table.add(keys, ids)
        ref.update(zip(keys.tolist(), ids.tolist(), strict=True))
        query = np.concatenate([keys, rng.integers(0, 1 << 63, 100, dtype=np.uint64), np.array(list(ref)[:500], np.uint64)])
        assert table.get(query).tolist() == [ref.get(k, -1) for k in query.tolist()]
    high_bits = np.arange(1, 9, dtype=np.uint64) << np.uint64(60)  # keys differing only in their top bits
    table = F.KeyTable(16)
    table.add(high_bits, np.arange(8))
    assert table.get(high_bits).tolist() == list(range(8))


def test_large_batches_are_read_in_chunks_with_the_same_result(monkeypatch):
    texts = _texts(130, seed=3)
    whole = F.Featurizer().counts(texts)
    monkeypatch.setattr(F.Featurizer, "CHUNK", 32)
    chunked = F.Featurizer().counts(iter(texts))
    assert chunked.shape == whole.shape and chunked.has_sorted_indices
    assert np.array_equal(chunked.indptr, whole.indptr) and np.array_equal(chunked.indices, whole.indices)
    assert np.array_equal(chunked.data, whole.data)


def test_concurrent_batches_read_like_sequential_ones():
    """The scheduler's workers may score at once: the growing token caches must give every batch its own
    tokens' features."""
    from concurrent.futures import ThreadPoolExecutor

    batches = [_texts(60, seed=10 + i) for i in range(8)]
    expected = [F.Featurizer().counts(b) for b in batches]
    shared = F.Featurizer()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(shared.counts, batches))
    for X, Y in zip(got, expected, strict=True):
        assert np.array_equal(X.indptr, Y.indptr) and np.array_equal(X.indices, Y.indices)
        assert np.array_equal(X.data, Y.data)


def test_compact_weights_hold_every_weight_of_the_full_matrix(model):
    """The scoring weights keep a row only for buckets some expert or gate weighs (issue 17 §3): each such
    bucket's row is its column of W, every other bucket reads the zero row, and the product over a batch is
    the same floats as the product with the full (width, experts + gates) matrix the model used to hold."""
    rows = [model.head(n)["row_start"] for n in model.expert_names]
    rows += [r for cat in model.categories for gate in [(model.state.get("gates") or {}).get(cat)] if gate
             for r in range(gate["row_start"], gate["row_end"])]
    weights = model.W[rows]
    assert not model._W_allT[0].any()
    weighed = np.unique(weights.tocoo().col)
    assert np.array_equal(np.flatnonzero(model._row_of), weighed)
    X = model.features(_texts(300, seed=5))
    used = np.unique(X.indices)
    full_used = weights[:, used].T.toarray()  # the full matrix's rows for the buckets this batch touches
    assert np.array_equal(model._W_allT[model._row_of[used]], full_used)
    plain = sp.csr_matrix((X.data, np.searchsorted(used, X.indices), X.indptr), shape=(X.shape[0], len(used)))
    assert np.array_equal(model._weighed_features(X) @ model._W_allT, plain @ full_used)


def test_a_loaded_model_holds_no_full_weight_matrix():
    """Every process that scores holds the model: its weights stay compact (the full dense matrix was 151 MB)
    and the CSR copy of all heads is built only for evaluation."""
    fresh = load_model()
    fresh.score(["chia sẻ gấp tin giả"])
    arrays = [v for part in (fresh, fresh.featurizer) for v in vars(part).values() if isinstance(v, np.ndarray)]
    held = sum(v.nbytes for v in arrays if not isinstance(v.base, np.ndarray))  # (a view of another array holds none)
    assert held < 80e6, f"{held / 1e6:.0f} MB of arrays held by the model"
    assert "W" not in vars(fresh)


def test_token_caches_start_afresh_at_their_bound_without_changing_scores(monkeypatch):
    """The token caches of a long-running service are bounded (issue 17 §3: they grew by ~1.8 KB per new token,
    without a useful bound): past Featurizer.MAX_CACHE tokens the vocabulary starts afresh, and the scores and
    reasons are those of a model that never reset."""
    texts = _texts(300, seed=9) + [f"mã số {n} chia sẻ gấp tin giả {n * 7919}" for n in range(300)]
    fresh = load_model()
    expected = [s.to_dict() for i in range(0, len(texts), 50) for s in fresh.score(texts[i : i + 50])]
    bounded = load_model()
    monkeypatch.setattr(F.Featurizer, "MAX_CACHE", 200)
    got, sizes = [], []
    for i in range(0, len(texts), 50):
        got += [s.to_dict() for s in bounded.score(texts[i : i + 50])]
        sizes.append(len(bounded.featurizer._vocab))
    assert got == expected
    assert max(sizes) < 200 + 50 * 160  # never more than the bound and one batch's new tokens
    assert min(sizes[2:]) < max(sizes)  # it did start afresh
    for cache in (F._fold, F._bucket, F._key, F._token_info, F._canon, F._char_grams):
        assert cache.cache_info().maxsize <= F.TOKEN_CACHE


def test_loading_a_model_keeps_batch_arrays_in_the_heap_on_glibc():
    """Scoring's batch arrays are reused from the C heap rather than mapped afresh per batch (~30 % of scoring
    time when they were not, issue 17 §3), and idle processes can hand free pages back; elsewhere both are no-ops."""
    import platform
    import subprocess
    import sys

    from tests.corpus import REPO

    code = ("from classifiers import heap; from classifiers.model import load_model; load_model(); "
            "print(heap._tuned, heap.release_free_memory())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    glibc = platform.libc_ver()[0] == "glibc"
    assert result.stdout.split() == [str(glibc), str(glibc)]


def test_links_are_cut_out_as_the_plain_regex_cuts_them():
    """``_url_spans`` finds links without re.IGNORECASE and without a leading "[ \\t]*" (2x faster); what it
    replaces, and with which blanks, must be what the plain case-insensitive regex replaced."""
    import re

    from classifiers import text as T

    plain = re.compile(r"[ \t]*(?:https?://\S+|www\.\S+|<URL>)[ \t]*", re.IGNORECASE)

    def gap(m: re.Match[str]) -> str:
        return "" if m.start() == 0 or m.end() == len(m.string) else " "

    pieces = ["http://a.vn", "HTTPS://B.VN/x?y=1", "hTtPſ://c", "Www.d.com", "www.", "wWw.e.vn/f", "<URL>", "<url>",
              "<Url>", "<URL", "http:/x", "xhttp://g.h", "ftp://i.j", "://", "www", " ", "  ", "\t", "\n", "\u00a0",
              "ngu", "chia sẻ", ",", "|", "İ", "😀"]
    rng = random.Random(7)
    texts = ["", "http://a.vn", "  www.b.vn  ", "a  http://a  http://b  c", "<URL><URL> x <URL>"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12))) for _ in range(3000)]
    for text in texts:
        assert T.url_breaks(text) == plain.sub(" | ", text), text
        assert T._without_urls(text, " ", "") == plain.sub(gap, text), text
