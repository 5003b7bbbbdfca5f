"""Near-duplicate clusters: one story reposted by several pages is one cluster with its spread and sources."""

from __future__ import annotations

import unicodedata

import pytest

from db.sources import ensure_source
from monitor.domain import RawItem
from monitor.pipeline import ingest
from monitor.pipeline.dedup import THRESHOLD, cluster_summary, signature
from tests import corpus

# (a story, an unrelated one): the project's own Vietnamese articles, and where the corpus is, two seed articles.
STORIES = [
    pytest.param((corpus.FIXTURES / "text" / "vi-chuyen-doi-so.txt", corpus.FIXTURES / "text" / "vi-bao-lu.txt"),
                 id="project"),
    corpus.param((corpus.SEEDS / "002_c8bb3ae06b274acd.txt", corpus.SEEDS / "003_50da44d0bbb7111e.txt"),
                 needs="seeds", id="seeds"),
]


@pytest.fixture(params=STORIES)
def texts(request) -> tuple[str, str]:
    """(BASE, OTHER): the story's first six long paragraphs, and 1,500 characters of an unrelated story."""
    story, other = request.param
    paragraphs = [p for p in story.read_text(encoding="utf-8").split("\n") if len(p) > 80][:6]
    assert len(paragraphs) >= 4
    return "\n".join(paragraphs), other.read_text(encoding="utf-8")[:1500]


def source(database, name):
    return {"id": ensure_source(database, name, "rss", f"https://{name}.example/feed"), "name": name}


def rewritten(text: str) -> str:
    """What a reposting page does: new headline, a sentence added, tone marks moved, NFD bytes."""
    text = text.replace("hòa", "hoà").replace("Hóa", "Hoá").replace("thủy", "thuỷ")
    return unicodedata.normalize("NFD", "CHIA SẺ NGAY: " + text + "\nTheo mạng xã hội.")


def test_tone_placement_and_nfd_variants_have_equal_signatures():
    assert signature("Thanh Hoá hoà bình thuỷ lợi " * 4) is not None
    a = signature("Tỉnh Thanh Hóa hòa giải tranh chấp thủy lợi ở huyện miền núi trong năm nay")
    b = signature(unicodedata.normalize("NFD", "Tỉnh Thanh Hoá hoà giải tranh chấp thuỷ lợi ở huyện miền núi trong năm nay"))
    assert a.jaccard(b) == 1.0


def test_short_texts_do_not_cluster():
    assert signature("Tin nóng!") is None


def test_reposted_story_forms_one_cluster_with_spread_and_sources(tmp_db, texts):
    base, other = texts
    first = ingest(tmp_db, source(tmp_db, "baothanhhoa"),
                   [RawItem(guid="1", title="Chất vấn về chuyển đổi số", text=base, url="https://a.example/1")], None)
    second = ingest(tmp_db, source(tmp_db, "fanpage"),
                    [RawItem(guid="x", title="Tin nóng", text=rewritten(base), url="https://b.example/x")], None)
    third = ingest(tmp_db, source(tmp_db, "other"),
                   [RawItem(guid="o", title="Khác", text=other, url="https://c.example/o")], None)
    assert (first.new, second.new, third.new) == (1, 1, 1)
    rows = {r["guid"]: r for r in tmp_db.query("SELECT guid, cluster_id, text FROM items")}
    assert rows["1"]["cluster_id"] == rows["x"]["cluster_id"] != rows["o"]["cluster_id"]
    assert rows["x"]["text"] == unicodedata.normalize("NFC", rows["x"]["text"])  # stored NFC
    summary = cluster_summary(tmp_db.conn, rows["1"]["cluster_id"])
    assert summary["size"] == 2 and summary["source_count"] == 2
    assert summary["sources"] == ["baothanhhoa", "fanpage"]
    assert summary["first_seen_at"].endswith("Z")


def test_exact_repost_on_another_source_widens_the_cluster_without_a_copy(tmp_db, texts):
    base, _ = texts
    item = RawItem(guid="1", title="Chất vấn", text=base, url="https://a.example/1?utm_source=fb")
    ingest(tmp_db, source(tmp_db, "a"), [item], None)
    repost = ingest(tmp_db, source(tmp_db, "b"), [RawItem(guid="zz", title="Chất vấn", text=base,
                                                          url="https://www.a.example/1#top")], None)
    assert repost.new == 0 and repost.seen == 1
    [row] = tmp_db.query("SELECT cluster_id FROM items")
    summary = cluster_summary(tmp_db.conn, row["cluster_id"])
    assert summary["size"] == 1 and summary["source_count"] == 2


def test_unrelated_stories_below_threshold(texts):
    base, other = texts
    a, b = signature(base), signature(other)
    assert a.jaccard(b) < THRESHOLD


def test_signatures_are_datasketchs_bit_for_bit():
    """Stored signatures were made by datasketch's MinHash (64 permutations, seed 7, crc32, its affine32
    scheme); the numpy version that replaced it (issue 17 §3: datasketch imports scipy.integrate and more)
    must give the same values, or new items would stop clustering with stored ones."""
    import random
    import zlib

    import numpy as np
    from datasketch import MinHash

    from monitor.pipeline.dedup import NUM_PERM, signature_of_shingles

    template = MinHash(num_perm=NUM_PERM, seed=7, hashfunc=zlib.crc32)
    rng = random.Random(3)
    words = "chia sẻ gấp tin giả thanh hóa nghệ an lũ lụt giá xăng dầu bão mưa".split()
    for n in range(500):
        grams = {f"{' '.join(rng.choices(words, k=3))} {rng.randrange(10 ** (n % 7 + 1))}".encode()
                 for _ in range(rng.randrange(1, 80))}
        reference = MinHash(num_perm=NUM_PERM, seed=7, hashfunc=zlib.crc32, permutations=template.permutations,
                            scheme=template.scheme)
        reference.update_batch(list(grams))
        ours = signature_of_shingles(grams).hashvalues
        assert ours.dtype == np.uint64 and np.array_equal(ours, np.asarray(reference.hashvalues, dtype=np.uint64))
    assert signature_of_shingles(set()) is None


def test_clustering_imports_neither_datasketch_nor_scipy():
    """The pipeline is imported by `monitor serve` (the intake form) and `monitor run`: clustering must not pull
    in datasketch, whose package imports scipy.integrate, scipy.special and scipy.optimize (~34 MB resident)."""
    import subprocess
    import sys

    code = ("import sys; import monitor.pipeline.dedup; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('datasketch', 'scipy')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=corpus.REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
