"""Item kinds (post, article, comment): feeds.yaml's content_kind, the kind the pipeline derives for each
source and hands the scorer, the scorers that forward it, and `monitor import` rows that name their kind."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from db.sources import ensure_source, get_source, sync_sources
from monitor.config import ConfigError, load, load_text
from monitor.crawl.sources.files import FileRows
from monitor.domain import RawItem
from monitor.pipeline import ingest, ingest_many, intake, item_kind
from monitor.scoring import ActiveScorer, score_texts

REPO = Path(__file__).resolve().parents[1]


class Scored:
    misinformation, harm, flagged, explanations, rule_hits, model_version = 0.1, 0.0, [], {}, [], "kinds-1"


class KindScorer:
    """Records the kinds it is asked to score with, one list per call."""

    def __init__(self) -> None:
        self.kinds: list[list[str] | None] = []

    def score(self, texts: list[str], kinds: list[str] | None = None) -> list[Scored]:
        self.kinds.append(kinds)
        return [Scored() for _ in texts]


class OldScorer:
    """A scorer from before kinds: score(texts) only."""

    def __init__(self) -> None:
        self.calls = 0

    def score(self, texts: list[str]) -> list[Scored]:
        self.calls += 1
        return [Scored() for _ in texts]


def raws(prefix: str, n: int = 2) -> list[RawItem]:
    return [RawItem(guid=f"{prefix}-{i}", title=f"{prefix} tiêu đề {i}", text=f"Nội dung {prefix} số {i}.")
            for i in range(n)]


FEEDS = """\
sources:
  - name: VnExpress – Thời sự
    kind: rss
    url: https://vnexpress.net/rss/thoi-su.rss
    tags: [national, news]
  - name: Nhóm cộng đồng (bridge)
    kind: rss
    url: https://bridge.example.gov.vn/?action=display&bridge=FacebookBridge&u=PAGE&format=Atom
    tags: [social, facebook]
  - name: "Mastodon #vietnam"
    kind: mastodon
    url: https://mastodon.social/tags/vietnam
  - name: Bình luận dưới bài VnExpress
    kind: html
    url: https://vnexpress.net/binh-luan
    content_kind: comment
    selectors: {item: "div.comment", title: "b", link: "a"}
"""


@pytest.fixture()
def rows(tmp_db) -> dict[str, dict]:
    """The sources rows ingest receives, synced from FEEDS, with content_kind as the crawl passes it on."""
    config = load_text(FEEDS)
    ids = sync_sources(tmp_db, config.sources)
    return {source.name: {**get_source(tmp_db, ids[source.name]), "content_kind": source.content_kind}
            for source in config.sources}


# -- feeds.yaml ---------------------------------------------------------------------------


def test_content_kind_is_read_and_optional():
    config = load_text(FEEDS)
    assert [s.content_kind for s in config.sources] == [None, None, None, "comment"]
    assert "content_kind" not in config.sources[3].options


@pytest.mark.parametrize("value", ["tweet", "Article", "[post]", "1"])
def test_unknown_content_kind_names_file_line_and_field(tmp_path, value):
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS.replace("content_kind: comment", f"content_kind: {value}"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    error = caught.value
    line = 1 + [n for n, text in enumerate(FEEDS.splitlines()) if "content_kind" in text][0]
    assert (error.path, error.line, error.field) == (str(path), line, "content_kind") == (str(path), 16, "content_kind")
    assert str(error).startswith(f"{path}:16: field 'content_kind': unknown content kind")
    assert "(expected one of: post, article, comment)" in str(error)


def test_shipped_feeds_load_and_their_social_sources_score_as_posts():
    config = load(REPO / "feeds.yaml")
    kinds = {s.name: item_kind({"kind": s.kind, "url": s.url, "tags": s.tags, "content_kind": s.content_kind})
             for s in config.sources}
    assert kinds["VnExpress – Thời sự"] == kinds["Báo Nghệ An"] == kinds["AFP Factuel"] == "article"
    assert kinds["Reddit r/VietNam"] == kinds["YouTube – VTV24"] == kinds["Mastodon #vietnam"] == "post"


# -- the kind a source's items are -----------------------------------------------------------


@pytest.mark.parametrize(("source", "kind"), [
    ({"kind": "rss", "url": "https://vnexpress.net/rss/thoi-su.rss", "tags": '["national", "news"]'}, "article"),
    ({"kind": "html", "url": "https://baonghean.vn/thoi-su/", "tags": "[]"}, "article"),
    ({"kind": "rss", "url": "https://baothanhhoa.vn/rss/thoi-su.xml", "tags": ["Social"]}, "post"),
    ({"kind": "rss", "url": "https://www.reddit.com/r/VietNam/new/.rss", "tags": "[]"}, "post"),
    ({"kind": "rss", "url": "https://www.youtube.com/feeds/videos.xml?channel_id=UC1", "tags": None}, "post"),
    ({"kind": "rss", "url": "https://bridge.example.gov.vn/?action=display&bridge=TikTokBridge&u=x"}, "post"),
    ({"kind": "rss", "url": "https://rsshub.example.gov.vn/tiktok/user/@account"}, "post"),
    ({"kind": "rss", "url": "https://news.example.vn/rss/xa-hoi.rss", "tags": "not json"}, "article"),
    ({"kind": "mastodon", "url": "https://mastodon.social/tags/vietnam"}, "post"),
    ({"kind": "bluesky", "url": "https://bsky.app/profile/example.bsky.social"}, "post"),
    ({"kind": "telegram", "url": "https://t.me/s/channel"}, "post"),
    ({"kind": "import", "url": "file:posts.csv"}, "post"),
    ({"kind": "rss", "url": "https://vnexpress.net/rss/y-kien.rss", "content_kind": "comment"}, "comment"),
    ({"kind": "mastodon", "url": "https://mastodon.social/@bao", "content_kind": "article"}, "article"),
])
def test_item_kind(source, kind):
    assert item_kind(source) == kind


def test_ingest_passes_each_source_kind_to_the_scorer(tmp_db, rows):
    expected = {"VnExpress – Thời sự": "article", "Nhóm cộng đồng (bridge)": "post", "Mastodon #vietnam": "post",
                "Bình luận dưới bài VnExpress": "comment"}
    for name, kind in expected.items():
        scorer = KindScorer()
        assert ingest(tmp_db, rows[name], raws(name), scorer).new == 2
        assert scorer.kinds == [[kind, kind]], name


def test_ingest_many_scores_all_sources_in_one_call_each_item_with_its_kind(tmp_db, rows):
    scorer = KindScorer()
    results = ingest_many(tmp_db, [(rows["VnExpress – Thời sự"], raws("a", 2)),
                                   (rows["Mastodon #vietnam"], raws("b", 1)),
                                   (rows["Bình luận dưới bài VnExpress"], raws("c", 3))], scorer)
    assert [r.new for r in results] == [2, 1, 3]
    assert scorer.kinds == [["article", "article", "post", "comment", "comment", "comment"]]


def test_a_scorer_without_kinds_still_scores(tmp_db, rows):
    scorer = OldScorer()
    assert ingest(tmp_db, rows["VnExpress – Thời sự"], raws("old"), scorer).new == 2
    assert scorer.calls == 1
    assert len(score_texts(scorer, ["một"], ["comment"])) == 1


def test_active_scorer_forwards_kinds_to_its_model(tmp_path, monkeypatch):
    model = KindScorer()
    model.version = "kinds-1"
    monkeypatch.setattr("monitor.scoring.load_model", lambda *args, **kwargs: model)
    scorer = ActiveScorer(registry_root=tmp_path)
    scorer.score(["một", "hai"], kinds=["article", "comment"])
    scorer.score(["ba"])
    assert model.kinds == [["article", "comment"], None]


# -- monitor import -------------------------------------------------------------------------


def test_import_scores_rows_with_the_kind_they_name(tmp_db, tmp_path, monkeypatch):
    rows = FileRows(rows=4)
    rows.items["facebook"] = [RawItem(guid="1", text="bài một", extra={"kind": "comment"}),
                              RawItem(guid="2", text="bài hai"),
                              RawItem(guid="3", text="bài ba", extra={"kind": "comment"}),
                              RawItem(guid="4", text="bài bốn", extra={"kind": "article"})]
    monkeypatch.setattr(intake.files, "read_rows", lambda path, default: rows)
    scorer = KindScorer()
    result = intake.import_file(tmp_db, tmp_path / "posts.csv", scorer)
    assert (result.new, result.by_source) == (4, {"facebook": 4})
    assert scorer.kinds == [["comment", "comment"], ["post"], ["article"]]
    stored = [r[0] for r in tmp_db.conn.execute("SELECT guid FROM items ORDER BY id")]
    assert sorted(stored) == ["1", "2", "3", "4"]


def test_import_without_kinds_is_one_batch_of_posts(tmp_db, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text(textwrap.dedent("""\
        text,source
        Tin đồn một,facebook
        Tin đồn hai,facebook
        """), encoding="utf-8")
    scorer = KindScorer()
    result = intake.import_file(tmp_db, path, scorer)
    assert result.new == 2
    assert scorer.kinds == [["post", "post"]]


def test_sources_rows_without_content_kind_derive_it(tmp_db):
    row = get_source(tmp_db, ensure_source(tmp_db, "Báo Hà Tĩnh", "rss", "https://baohatinh.vn/rss/home.rss"))
    scorer = KindScorer()
    ingest(tmp_db, row, raws("ht", 1), scorer)
    assert scorer.kinds == [["article"]]


def test_a_crawl_scores_each_source_as_its_configured_kind(tmp_path):
    """Tags and content_kind live in feeds.yaml, not in the sources table: the crawl must carry them."""
    import db
    from monitor.config import load_text
    from monitor.crawl.crawler import crawl_sources
    from tests.servers import TestServer

    def feed(title: str) -> str:
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                f"<item><title>{title}</title><link>https://example.vn/{len(title)}</link><guid>{title}</guid>"
                f"<description>{title}</description></item></channel></rss>")

    class Recorder:
        def __init__(self) -> None:
            self.kinds: dict[str, str] = {}

        def score(self, texts: list[str], kinds: list[str] | None = None) -> list:
            for text, kind in zip(texts, kinds or ["post"] * len(texts), strict=True):
                self.kinds[text.split("\n")[0]] = kind
            return [None] * len(texts)

    with TestServer() as server:
        lines = ["settings:", "  allow_private_networks: true", "  host_delay: 0", "sources:"]
        for name, extra in (("Báo tỉnh", []), ("Trang mạng xã hội", ["    tags: [social]"]),
                            ("Bình luận", ["    content_kind: comment"])):
            url = server.route(f"/{len(name)}.rss", feed(name), content_type="application/rss+xml")
            lines += [f"  - name: {name}", "    kind: rss", f"    url: {url}", "    interval: 15m", *extra]
        scorer = Recorder()
        database = db.connect(tmp_path / "monitor.db")
        try:
            results = crawl_sources(database, load_text("\n".join(lines) + "\n", "feeds.yaml"), scorer=scorer)
        finally:
            database.conn.close()
    assert all(r.status == "ok" for r in results), [r.error for r in results]
    assert scorer.kinds == {"Báo tỉnh": "article", "Trang mạng xã hội": "post", "Bình luận": "comment"}
