"""Group ingest (a crawl pass writes the feeds that arrive together in one go): same items, same
clusters and counts as one feed at a time, one model call per group, and a bad feed fails alone."""

from __future__ import annotations

import threading

import pytest

from classifiers.text import search_key
from db.sources import ensure_source, get_source
from monitor.crawl.crawler import GroupIngester
from monitor.domain import RawItem
from monitor.pipeline import dedup, ingest, ingest_many
from tests.corpus import FIXTURES

STORY = [p for p in (FIXTURES / "text" / "vi-chuyen-doi-so.txt").read_text(encoding="utf-8").split("\n")
         if len(p) > 80][:4]


class CountingScorer:
    """Scores every text 0.1 (0.9 and flagged with 'tin giả'); counts calls; refuses texts with 'BOOM'."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score(self, texts: list[str]) -> list:
        if any("BOOM" in text for text in texts):
            raise ValueError("model cannot read this text")
        self.calls.append(len(texts))
        return [_Scores(0.9 if "tin giả" in text else 0.1, ["misinformation"] if "tin giả" in text else [])
                for text in texts]


class _Scores:
    def __init__(self, value: float, flagged: list[str]) -> None:
        self.misinformation, self.harm, self.flagged = value, 0.0, flagged
        self.explanations, self.rule_hits, self.model_version = {}, [], "count-1"


def feeds(database, count: int = 4) -> list[tuple[dict, list[RawItem]]]:
    """`count` sources; each carries its own items, a near-copy of the shared story, and one exact copy
    of the first source's first item (a repost across sources)."""
    batches = []
    for n in range(count):
        source = get_source(database, ensure_source(database, f"src{n}", "rss", f"https://s{n}.example/rss", "vi"))
        raws = [RawItem(guid=f"{n}-{i}", title=f"Tin {n}-{i}", text=f"Tin ngắn số {n}-{i}",  # too short to cluster
                        url=f"https://s{n}.example/{i}") for i in range(3)]
        raws.append(RawItem(guid=f"{n}-story", title="Câu chuyện", text="\n".join(STORY) + f"\nNguồn {n}.",
                            url=f"https://s{n}.example/story"))
        raws.append(RawItem(guid=f"{n}-copy", title="Tin 0-0", text="Tin ngắn số 0-0",
                            url="https://s0.example/0"))
        raws.append(RawItem(guid=f"{n}-fake", title="Cảnh báo", text=f"Đây là tin giả số {n} về bão lũ ở Nghệ An",
                            url=f"https://s{n}.example/fake"))
        batches.append((source, raws))
    return batches


def snapshot(database) -> tuple[list, list, list]:
    items = [tuple(r) for r in database.conn.execute(
        "SELECT source_id, guid, title, text, canonical_url, content_hash, status, score_misinformation,"
        " (SELECT COUNT(*) FROM items b WHERE b.cluster_id = items.cluster_id) FROM items ORDER BY id")]
    clusters = [tuple(r) for r in database.conn.execute(
        "SELECT size, source_count FROM clusters ORDER BY id")]
    fts = [tuple(r) for r in database.conn.execute("SELECT rowid, title, text FROM items_fts ORDER BY rowid")]
    return items, clusters, fts


def test_group_stores_what_one_feed_at_a_time_stores(tmp_path):
    import db

    one_by_one, grouped = db.connect(tmp_path / "a.db"), db.connect(tmp_path / "b.db")
    scorer_a, scorer_b = CountingScorer(), CountingScorer()
    expected = [ingest(one_by_one, source, raws, scorer_a) for source, raws in feeds(one_by_one)]
    results = ingest_many(grouped, feeds(grouped), scorer_b)
    assert [(r.new, r.seen, r.flagged, len(r.new_ids)) for r in results] == \
        [(r.new, r.seen, r.flagged, len(r.new_ids)) for r in expected]
    assert snapshot(grouped) == snapshot(one_by_one)
    assert [r.seen for r in results] == [1, 1, 1, 1]  # 0-0 again in its own feed; reposted by the others
    assert len(scorer_a.calls) == 4 and len(scorer_b.calls) == 1  # one model call for the group
    # the near-copies of the story from four sources form one cluster; the repost widened 0-0's cluster
    story = one_by_one.conn.execute("SELECT c.size, c.source_count FROM items i JOIN clusters c"
                                    " ON c.id = i.cluster_id WHERE i.guid = '0-story'").fetchone()
    assert tuple(story) == (4, 4)
    copy = grouped.conn.execute("SELECT c.size, c.source_count FROM items i JOIN clusters c"
                                " ON c.id = i.cluster_id WHERE i.guid = '0-0'").fetchone()
    assert tuple(copy) == (1, 4)
    again = ingest_many(grouped, feeds(grouped), scorer_b)
    assert [r.new for r in again] == [0, 0, 0, 0] and len(scorer_b.calls) == 1  # nothing new, nothing scored


def test_a_feed_the_model_refuses_fails_alone(tmp_db):
    batches = feeds(tmp_db, 3)
    batches[1][1].append(RawItem(guid="bad", title="BOOM", text="BOOM BOOM", url="https://s1.example/bad"))
    results = ingest_many(tmp_db, batches, CountingScorer())
    assert isinstance(results[1], ValueError)
    assert results[0].new == 5 and results[2].new == 5
    stored = {r[0] for r in tmp_db.conn.execute("SELECT source_id FROM items")}
    assert stored == {batches[0][0]["id"], batches[2][0]["id"]}


def test_a_feed_whose_signals_fail_fails_alone(tmp_db, monkeypatch):
    """Tagging places and matching claims run for the whole group, like scoring: a text they refuse fails its
    own feed, not the feeds that arrived with it."""
    from monitor.pipeline import signals

    annotate = signals.annotate

    def refusing(database, texts, jurisdiction, folded=None):
        if any("BOOM" in text for text in texts):
            raise ValueError("refused")
        return annotate(database, texts, jurisdiction, folded)

    monkeypatch.setattr(signals, "annotate", refusing)
    batches = feeds(tmp_db, 3)
    batches[1][1].append(RawItem(guid="bad", title="BOOM", text="BOOM BOOM", url="https://s1.example/bad"))
    results = ingest_many(tmp_db, batches, None)
    assert isinstance(results[1], ValueError)
    assert results[0].new == 5 and results[2].new == 5


def test_a_feed_whose_write_fails_fails_alone_and_the_rest_commit(tmp_db, monkeypatch):
    batches = feeds(tmp_db, 3)
    real = dedup.record_item

    def failing(conn, item_id, cluster_id, source_id, sig, seen_at):
        if source_id == batches[1][0]["id"]:
            raise RuntimeError("disk trouble for this feed")
        return real(conn, item_id, cluster_id, source_id, sig, seen_at)

    monkeypatch.setattr(dedup, "record_item", failing)
    results = ingest_many(tmp_db, batches, None)
    assert isinstance(results[1], RuntimeError)
    assert results[0].new == 5 and results[2].new == 5
    guids = {r[0] for r in tmp_db.conn.execute("SELECT guid FROM items")}
    assert not any(g.startswith("1-") for g in guids) and "2-story" in guids
    # nothing half-written: every stored item has its search row and its cluster
    assert tmp_db.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == \
        tmp_db.conn.execute("SELECT COUNT(*) FROM items_fts").fetchone()[0] == 10


def test_shingles_from_separately_folded_fields_equal_those_of_the_joined_text():
    for title, text in [("Thanh Hoá: hoà giải", "\n".join(STORY)), ("", STORY[0]), ("Tiêu đề", ""),
                        ("  Ôi  ", "  ĐÀ NẴNG\n\nmưa lớn ở miền Trung, nước sông dâng cao ngập nhà  ")]:
        joined = f"{title}\n{text}".strip()
        assert dedup.shingles_of_keys(search_key(title), search_key(text)) == dedup.shingles(joined)


def test_group_ingester_gives_each_thread_its_own_result(tmp_path):
    import db

    path = tmp_path / "g.db"
    db.connect(path).conn.close()
    main = db.connect(path)
    batches = feeds(main, 6)
    scorer = CountingScorer()
    ingester = GroupIngester(scorer, max_items=12)
    results: dict[int, object] = {}
    barrier = threading.Barrier(len(batches))

    def worker(n: int) -> None:
        database = db.connect(path, migrate_schema=False)
        barrier.wait()
        try:
            results[n] = ingester.ingest(database, *batches[n])
        except Exception as exc:  # noqa: BLE001
            results[n] = exc
        database.conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == list(range(6))
    assert sum(r.new for r in results.values()) == 6 * 5
    assert all(r.new == len(r.new_ids) for r in results.values())
    owners = dict(main.conn.execute("SELECT id, source_id FROM items").fetchall())
    for n, result in results.items():
        assert {owners[i] for i in result.new_ids} <= {batches[n][0]["id"]}  # ids reported to the right feed
    assert main.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 30


@pytest.mark.parametrize("max_items", [1, 400])
def test_group_ingester_raises_a_feeds_own_error(tmp_db, max_items):
    batches = feeds(tmp_db, 2)
    batches[0][1].append(RawItem(guid="bad", title="BOOM", text="BOOM BOOM", url="https://s0.example/bad"))
    ingester = GroupIngester(CountingScorer(), max_items=max_items)
    with pytest.raises(ValueError, match="cannot read"):
        ingester.ingest(tmp_db, *batches[0])
    assert ingester.ingest(tmp_db, *batches[1]).new == 6  # 0-0 was never stored: its copy is new
