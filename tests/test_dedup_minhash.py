"""The crawl's own MinHash gives datasketch's signatures bit for bit, and a crawl process never imports datasketch.

Stored signatures (item_minhash, minhash_bands) were made with datasketch 2.0's MinHash(num_perm=64, seed=7,
hashfunc=zlib.crc32), scheme affine32; monitor.pipeline.dedup computes the same values without it, so old and
new items keep finding each other as near-duplicates.
"""

from __future__ import annotations

import random
import subprocess
import sys
import zlib
from pathlib import Path

import datasketch
import numpy as np

from monitor.pipeline import dedup

ROOT = Path(__file__).resolve().parents[1]


def reference(grams: set[bytes]) -> np.ndarray:
    """The signature as the pipeline made it with datasketch."""
    minhash = datasketch.MinHash(num_perm=dedup.NUM_PERM, seed=dedup.SEED, hashfunc=zlib.crc32)
    minhash.update_batch(list(grams))
    return np.array(minhash.hashvalues, dtype=np.uint64)


def test_signatures_equal_datasketchs_on_random_and_real_shingle_sets():
    draw = random.Random(17)
    words = [f"từ{n}" for n in range(400)] + ["bão", "lũ", "miền", "trung", "giá", "xăng", "dầu"]
    cases = [{bytes([n]) for n in range(256)}, {b"a b c"}, {b""}]
    for size in (1, 2, 3, 7, 40, 300, 2000):
        cases.append({" ".join(draw.choice(words) for _ in range(3)).encode("utf-8") for _ in range(size)})
    text = "Người dân miền Trung khẩn trương sơ tán trước cơn bão số 5, mưa lớn kéo dài gây ngập úng nhiều nơi."
    cases.append(dedup.shingles(text))
    for grams in cases:
        ours = dedup.signature_of_shingles(grams)
        assert ours is not None
        assert ours.hashvalues.dtype == np.uint64
        assert np.array_equal(ours.hashvalues, reference(grams)), sorted(grams)[:3]
        assert ours.band_keys() == dedup.Signature(reference(grams)).band_keys()


def test_permutations_equal_datasketchs():
    minhash = datasketch.MinHash(num_perm=dedup.NUM_PERM, seed=dedup.SEED, hashfunc=zlib.crc32)
    assert minhash.scheme == "affine32"
    a, b = minhash.permutations
    assert np.array_equal(a, dedup._PERM_A) and np.array_equal(b, dedup._PERM_B)


def test_empty_shingle_set_has_no_signature():
    assert dedup.signature_of_shingles(set()) is None


def test_a_crawl_process_does_not_import_datasketch_or_scipy_integrate():
    code = ("import sys; import monitor.crawl.crawler, monitor.pipeline.dedup as d;"
            " d.signature('một hai ba bốn năm sáu bảy tám chín mười');"
            " print(sorted(m for m in ('datasketch', 'scipy.integrate') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
