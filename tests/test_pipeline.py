"""The one write path: ingest() normalises, deduplicates, scores, flags and stores each item once."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest

import db
from db.search import search
from db.sources import ensure_source, get_source
from monitor.domain import RawItem
from monitor.pipeline import ingest
from monitor.text.urls import canonical_url
from tests.helpers import FakeScorer


def fake_scorer() -> FakeScorer:
    """Flags texts that mention 'tin giả' (0.91, 0.12, with a rule hit), scores the rest low; records its batches."""
    return FakeScorer("tin giả", hit=(0.91, 0.12), miss=(0.05, 0.01), phrase_rule={"rule": "fake-news-phrase"})


@pytest.fixture()
def tmp_db(any_db):
    """Every ingest test here runs on SQLite and on PostgreSQL (the harness's throw-away server)."""
    return any_db


@pytest.fixture()
def source(tmp_db):
    source_id = ensure_source(tmp_db, "Báo Thanh Hóa", "rss", "https://baothanhhoa.vn/rss/thoi-su.xml", "vi")
    return get_source(tmp_db, source_id)


@pytest.fixture()
def other_source(tmp_db):
    return get_source(tmp_db, ensure_source(tmp_db, "Báo Nghệ An", "rss", "https://baonghean.vn/rss/home.rss", "vi"))


def raw(n: int, **overrides) -> RawItem:
    values = dict(guid=f"guid-{n}", title=f"Tiêu đề số {n}", text=f"Nội dung bài viết thứ {n} về đời sống ở Thanh Hóa.",
                  url=f"https://baothanhhoa.vn/bai-{n}.html")
    values.update(overrides)
    return RawItem(**values)


def item_rows(database) -> list[dict]:
    return list(database.query("SELECT * FROM items ORDER BY id"))


def test_ingest_stores_each_item_once(tmp_db, source):
    batch = [raw(1), raw(2), raw(3)]
    first = ingest(tmp_db, source, batch, None)
    assert (first.new, first.seen) == (3, 0)
    assert len(first.new_ids) == 3
    second = ingest(tmp_db, source, [raw(1), raw(2), raw(3)], None)
    assert (second.new, second.seen) == (0, 3)
    assert second.new_ids == []
    rows = item_rows(tmp_db)
    assert len(rows) == 3
    assert {row["guid"] for row in rows} == {"guid-1", "guid-2", "guid-3"}
    assert all(row["source_id"] == source["id"] for row in rows)


def test_duplicates_within_one_batch_counted_as_seen(tmp_db, source):
    result = ingest(tmp_db, source, [raw(1), raw(1), raw(2)], None)
    assert (result.new, result.seen) == (2, 1)
    assert len(item_rows(tmp_db)) == 2


def test_stores_nfc_text_from_nfd_input(tmp_db, source):
    title = unicodedata.normalize("NFD", "Người dân Thanh Hóa đón lũ")
    text = unicodedata.normalize("NFD", "Mưa lớn kéo dài ở các huyện miền núi, chính quyền sơ tán người dân.")
    ingest(tmp_db, source, [raw(1, title=title, text=text, author=unicodedata.normalize("NFD", "Lê Thị Hà"))], None)
    (row,) = item_rows(tmp_db)
    for column in ("title", "text", "author"):
        assert unicodedata.is_normalized("NFC", row[column])
    assert row["title"] == "Người dân Thanh Hóa đón lũ"
    assert row["author"] == "Lê Thị Hà"


def test_naive_time_is_taken_in_vietnam_and_stored_utc(tmp_db, source):
    ingest(tmp_db, source, [raw(1, published=datetime(2026, 11, 23, 7, 0))], None)
    (row,) = item_rows(tmp_db)
    assert row["published_at"] == "2026-11-23T00:00:00Z"


def test_aware_time_converted_to_utc(tmp_db, source):
    paris = timezone(timedelta(hours=1))
    ingest(tmp_db, source, [raw(1, published=datetime(2026, 11, 23, 9, 30, tzinfo=paris))], None)
    (row,) = item_rows(tmp_db)
    assert row["published_at"] == "2026-11-23T08:30:00Z"
    assert row["fetched_at"].endswith("Z") and "T" in row["fetched_at"]
    fetched = datetime.fromisoformat(row["fetched_at"].replace("Z", "+00:00"))
    assert abs((fetched - datetime.now(UTC)).total_seconds()) < 60


def test_source_timezone_is_used_for_naive_times(tmp_db, source):
    paris_source = dict(source, timezone="Europe/Paris")
    ingest(tmp_db, paris_source, [raw(1, published=datetime(2026, 11, 23, 7, 0))], None)
    assert item_rows(tmp_db)[0]["published_at"] == "2026-11-23T06:00:00Z"


@pytest.mark.parametrize("url, expected", [
    ("https://www.baothanhhoa.vn/bai-1.html?utm_source=fb&utm_medium=social&fbclid=XYZ",
     "https://baothanhhoa.vn/bai-1.html"),
    ("http://m.baothanhhoa.vn/bai-1.html#comments", "https://baothanhhoa.vn/bai-1.html"),
    ("https://BaoThanhHoa.vn:443/bai-1.html?id=7&utm_campaign=x", "https://baothanhhoa.vn/bai-1.html?id=7"),
])
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_stored_canonical_url_drops_tracking_and_prefixes(tmp_db, source):
    url = "https://www.baothanhhoa.vn/bai-1.html?utm_source=zalo&fbclid=abc&page=2"
    ingest(tmp_db, source, [raw(1, url=url)], None)
    (row,) = item_rows(tmp_db)
    assert row["url"] == url
    assert row["canonical_url"] == "https://baothanhhoa.vn/bai-1.html?page=2"


def test_same_canonical_url_across_sources_not_stored_twice(tmp_db, source, other_source):
    ingest(tmp_db, source, [raw(1, url="https://baothanhhoa.vn/bai-1.html")], None)
    again = raw(99, title="Một tiêu đề khác hẳn", text="Nội dung cũng khác hẳn để không trùng hash.",
                url="https://m.baothanhhoa.vn/bai-1.html?utm_source=facebook&fbclid=1")
    result = ingest(tmp_db, other_source, [again], None)
    assert (result.new, result.seen) == (0, 1)
    assert len(item_rows(tmp_db)) == 1


def test_same_content_across_sources_not_stored_twice(tmp_db, source, other_source):
    ingest(tmp_db, source, [raw(1, title="Hoà Bình: lũ quét", text="Người dân khoẻ mạnh.")], None)
    copy = raw(50, title="HÒA BÌNH:  lũ quét", text="Người dân khỏe mạnh.", url="https://baonghean.vn/copy.html")
    result = ingest(tmp_db, other_source, [copy], None)
    assert (result.new, result.seen) == (0, 1)
    assert len(item_rows(tmp_db)) == 1


def test_different_content_across_sources_is_stored(tmp_db, source, other_source):
    ingest(tmp_db, source, [raw(1)], None)
    result = ingest(tmp_db, other_source, [raw(2, url="https://baonghean.vn/bai-2.html")], None)
    assert result.new == 1
    assert len(item_rows(tmp_db)) == 2


def test_scores_stored_and_flagged(tmp_db, source):
    scorer = fake_scorer()
    flagged = raw(1, title="Cảnh báo tin giả về vắc xin", text="Thông tin lan truyền trên mạng là sai sự thật.")
    plain = raw(2)
    result = ingest(tmp_db, source, [flagged, plain], scorer)
    assert (result.new, result.flagged) == (2, 1)
    assert len(scorer.calls) == 1 and len(scorer.calls[0]) == 2
    assert "Cảnh báo tin giả về vắc xin" in scorer.calls[0][0]
    rows = {row["guid"]: row for row in item_rows(tmp_db)}
    hit, miss = rows["guid-1"], rows["guid-2"]
    assert hit["status"] == "flagged"
    assert hit["score_misinformation"] == pytest.approx(0.91)
    assert hit["score_harm"] == pytest.approx(0.12)
    assert hit["model_version"] == "fake-1"
    assert json.loads(hit["flag_reasons"]) == ["misinformation"]
    explanation = json.loads(hit["explanation"])
    assert explanation["terms"] == {"misinformation": ["tin giả"]}
    assert explanation["rules"] == [{"rule": "fake-news-phrase"}]
    assert miss["status"] == "new"
    assert miss["score_misinformation"] == pytest.approx(0.05)
    assert json.loads(miss["flag_reasons"]) == []


def test_seen_items_are_not_rescored(tmp_db, source):
    scorer = fake_scorer()
    ingest(tmp_db, source, [raw(1)], scorer)
    ingest(tmp_db, source, [raw(1), raw(2)], scorer)
    assert [len(call) for call in scorer.calls] == [1, 1]


def test_without_scorer_items_are_new_and_unscored(tmp_db, source):
    ingest(tmp_db, source, [raw(1)], None)
    (row,) = item_rows(tmp_db)
    assert row["status"] == "new"
    assert row["score_misinformation"] is None and row["model_version"] is None


def test_fts_row_written_for_each_new_item(tmp_db, source):
    result = ingest(tmp_db, source, [raw(1, title="Cảnh báo tin giả về vắc xin"), raw(2), raw(3)], None)
    ingest(tmp_db, source, [raw(1, title="Cảnh báo tin giả về vắc xin")], None)
    index = "SELECT item_id FROM items_search" if db.dialect(tmp_db) == "postgresql" else "SELECT rowid FROM items_fts"
    fts_ids = sorted(row[0] for row in tmp_db.conn.execute(index))
    assert fts_ids == sorted(result.new_ids)
    guid_1 = tmp_db.conn.execute("SELECT id FROM items WHERE guid = 'guid-1'").fetchone()[0]
    assert [row["id"] for row in search(tmp_db, "tin gia vac xin")] == [guid_1]


def test_html_in_raw_text_is_stripped(tmp_db, source):
    markup = "<p>Đoạn một.</p><script>alert('x')</script><p>Đoạn <b>hai</b>.</p>"
    ingest(tmp_db, source, [raw(1, text=markup)], None)
    (row,) = item_rows(tmp_db)
    assert "<" not in row["text"] and "alert" not in row["text"]
    assert "Đoạn một." in row["text"] and "Đoạn hai." in row["text"]


def test_empty_items_skipped(tmp_db, source):
    result = ingest(tmp_db, source, [raw(1, title="", text="   ")], None)
    assert result.new == 0
    assert item_rows(tmp_db) == []


@pytest.mark.parametrize(("title", "text"), [
    ("Tiêu đề", "Nội dung  bài\nviết "), ("", "Chỉ có nội dung"), ("Chỉ tiêu đề", ""), ("", ""),
    ("  ΟΔΟΣ ", " Σ\u0301 đầu"), ("Ho\u0300a", "\u0301 dấu rời"), ("a_b", "_c 1/7"),
])
def test_the_folded_text_ingest_shares_is_that_of_the_score_text(title, text):
    """Ingest folds title and text once and hands the key and words to the claim matcher and the place
    tagger as those of what the classifier reads: exactly what folding that text again would give."""
    import re

    from classifiers.text import search_key
    from monitor.pipeline import NormalItem, score_folded, score_text

    item = NormalItem(guid="g", title=title, text=text, url=None, canonical_url=None, author=None,
                      published_at=None, language=None, content_hash="h")
    folded = score_folded(search_key(title), search_key(text))
    assert folded.key == search_key(score_text(item))
    assert folded.words == re.findall(r"\w+", folded.key)
