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
