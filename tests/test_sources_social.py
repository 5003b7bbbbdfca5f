"""Social source kinds: Mastodon JSON, Telegram channel markup, Reddit and YouTube feeds.

Each runs on responses written for the project (tests/fixtures/social) and, where the shared corpus
is, on recorded real responses as well (rtoot's Mastodon responses, tchan's Telegram fragments,
rss-parser's Reddit feeds, YouTube channel feeds).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import db
from monitor.config import load_text
from monitor.crawl.crawler import crawl_sources
from monitor.crawl.sources import ParseError, bluesky, mastodon, rss, telegram
from monitor.crawl.sources.html import parse_loose_date
from monitor.text.times import parse_time
from tests import corpus
from tests.servers import TestServer

SOCIAL = corpus.REALWORLD / "social"
OWN = corpus.FIXTURES / "social"
RTOOT = SOCIAL / "mastodon" / "rtoot"
TCHAN = SOCIAL / "telegram" / "tchan-fragments"

# Mastodon responses: the project's own and rtoot's recorded ones, by role.
OWN_MASTODON = {"tag": OWN / "mastodon" / "timeline_tag_page1.json", "older": OWN / "mastodon" / "timeline_tag_page2.json",
                "account": OWN / "mastodon" / "account_lookup.json",
                "statuses": OWN / "mastodon" / "account_statuses.json", "home": OWN / "mastodon" / "timeline_home.json"}
RTOOT_MASTODON = {"tag": RTOOT / "get_timeline_hashtag_default.json", "older": RTOOT / "get_timeline_list_default.json",
                  "account": RTOOT / "get_account_default.json",
                  "statuses": RTOOT / "get_account_statuses_default.json", "home": RTOOT / "get_timeline_home_default.json"}
MASTODON = [pytest.param(OWN_MASTODON, id="project"), corpus.param(RTOOT_MASTODON, needs="realworld", id="rtoot")]
TELEGRAM = [pytest.param(OWN / "telegram", id="project"), corpus.param(TCHAN, needs="realworld", id="tchan")]


def squash(text: str) -> str:
    return "".join(text.split())  # tchan and we lay out whitespace around links differently


def config(sources: list[tuple[str, str, str]], extra: str = "") -> object:
    lines = ["settings:", "  allow_private_networks: true", "  host_delay: 0", "  deadline: 5", "sources:"]
    for name, kind, url in sources:
        lines += [f"  - name: {name}", f"    kind: {kind}", f"    url: '{url}'"] + ([extra] if extra else [])
    return load_text("\n".join(lines) + "\n")


@pytest.fixture
def server():
    with TestServer() as running:
        yield running


# --- Mastodon --------------------------------------------------------------------------------------

@pytest.mark.parametrize("files, tag, published_at, starts", [
    pytest.param(OWN_MASTODON, "thanhhoa", "2026-11-20T02:15:00Z", "Sáng nay nước sông Mã dâng cao", id="project"),
    corpus.param(RTOOT_MASTODON, "rstats", "2025-07-17T19:07:48Z", "After a month or so of not using Claude Code",
                 needs="realworld", id="rtoot"),
])
def test_mastodon_hashtag_timeline_with_pagination(server, tmp_path, files, tag, published_at, starts):
    page2 = server.url(f"/api/v1/timelines/tag/{tag}-older")
    server.serve_file(f"/api/v1/timelines/tag/{tag}", files["tag"],
                      content_type="application/json", headers={"Link": f'<{page2}>; rel="next"'})
    server.serve_file(f"/api/v1/timelines/tag/{tag}-older", files["older"], content_type="application/json")
    database = db.connect(tmp_path / "m.db")
    [result] = crawl_sources(database, config([(tag, "mastodon", server.url(f"/tags/{tag}"))],
                                              "    max_pages: 3"), None)
    assert result.status == "ok", result.error
    recorded = json.loads(files["tag"].read_text(encoding="utf-8"))
    older = json.loads(files["older"].read_text(encoding="utf-8"))
    assert result.found == len(recorded) + len(older)
    first = next(database.query("SELECT * FROM items WHERE guid = ?", [recorded[0]["uri"]]))
    assert first["url"] == recorded[0]["url"]
    assert first["published_at"] == published_at
    assert first["author"] == recorded[0]["account"]["acct"]
    assert first["text"].startswith(starts)
    assert "<a" not in first["text"] and f"#{tag}" in first["text"]


@pytest.mark.parametrize("files", MASTODON)
def test_mastodon_account_url_looks_up_then_reads_statuses(server, tmp_path, files):
    account = json.loads(files["account"].read_text(encoding="utf-8"))
    statuses = json.loads(files["statuses"].read_text(encoding="utf-8"))
    server.serve_file("/api/v1/accounts/lookup", files["account"], content_type="application/json")
    server.serve_file(f"/api/v1/accounts/{account['id']}/statuses", files["statuses"], content_type="application/json")
    database = db.connect(tmp_path / "m.db")
    [result] = crawl_sources(database, config([("acct", "mastodon", server.url(f"/@{account['acct']}"))]), None)
    assert result.status == "ok", result.error
    assert result.found == len(statuses) > 0
    lookup = server.requests_to(f"/api/v1/accounts/lookup?acct={account['acct']}")
    assert lookup and lookup[0].headers["accept"] == "application/json"


@pytest.mark.parametrize("files", MASTODON)
def test_mastodon_boost_becomes_the_original_post(files):
    statuses = json.loads(files["home"].read_text(encoding="utf-8"))
    boosts = [s for s in statuses if s.get("reblog")]
    assert boosts or files is RTOOT_MASTODON  # the project's home timeline holds a boost; rtoot's recording none
    items = mastodon.parse(json.dumps(statuses).encode())
    for boost in boosts:  # each maps to the boosted post, noting who boosted it
        item = next(i for i in items if i.guid == boost["reblog"]["uri"])
        assert item.extra["boosted_by"] == boost["account"]["acct"]
        assert item.author == boost["reblog"]["account"]["acct"]
    assert len(items) == len(statuses)


def test_mastodon_error_is_parse_error():
    with pytest.raises(ParseError, match="Mastodon API error"):
        mastodon.parse(b'{"error": "Record not found"}')
    with pytest.raises(ParseError, match="not a Mastodon timeline URL"):
        mastodon.api_url("https://mastodon.social/about")


# --- Telegram --------------------------------------------------------------------------------------

def channel_page(folder: Path = OWN / "telegram") -> bytes:
    """A channel preview page holding every message fragment of `folder` (tchan's layout)."""
    fragments = [path.read_text(encoding="utf-8") for path in sorted(folder.glob("test_parse_*.html"))]
    assert fragments, folder
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>tchantest – Telegram</title></head><body>"
            "<section class=\"tgme_channel_history js-message_history\">" + "".join(fragments)
            + "</section></body></html>").encode("utf-8")


def expected_messages(folder: Path) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "expected.jsonl").read_text(encoding="utf-8").splitlines()]
    return [r["expected"] for r in rows if isinstance(r["expected"], dict)
            and r["expected"].get("__type__") == "ChannelMessage"]


@pytest.mark.parametrize("folder", TELEGRAM)
def test_telegram_channel_page_items_match_tchan_expectations(server, tmp_path, folder):
    expected = expected_messages(folder)
    server.route("/s/tchantest", channel_page(folder), content_type="text/html; charset=utf-8")
    database = db.connect(tmp_path / "t.db")
    [result] = crawl_sources(database, config([("tchan", "telegram", server.url("/tchantest"))]), None)
    assert result.status == "ok", result.error
    stored = {row["url"]: row for row in database.query("SELECT * FROM items")}
    checked = 0
    for message in expected:
        url = f"https://t.me/{message['channel']}/{message['id']}"
        if message["type"] == "service" or not message["text"]:
            continue
        row = stored.get(url)
        assert row is not None, url
        assert squash(row["text"]) == squash(message["text"]), url
        assert row["published_at"] == message["created_at"].replace("+00:00", "Z")
        if message["author"]:
            assert row["author"] == message["author"]
        checked += 1
    assert checked >= min(15, sum(1 for m in expected if m["type"] != "service" and m["text"])) > 0
    assert not any("Channel created" in row["text"] for row in stored.values())


def test_telegram_respects_robots_txt(server, tmp_path):
    server.route("/robots.txt", "User-agent: *\nDisallow: /s/\n", content_type="text/plain")
    server.route("/s/tchantest", channel_page(), content_type="text/html")
    database = db.connect(tmp_path / "t.db")
    [result] = crawl_sources(database, config([("tchan", "telegram", server.url("/s/tchantest"))]), None)
    assert result.status == "error" and "robots.txt" in result.error
    assert not server.requests_to("/s/tchantest")


def test_telegram_page_without_posts_is_an_error():
    with pytest.raises(ParseError, match="not a Telegram channel page"):
        telegram.parse(b"<html><body><h1>Welcome</h1></body></html>")


# --- Bluesky ---------------------------------------------------------------------------------------

BLUESKY_FEED = {
    "feed": [
        {"post": {"uri": "at://did:plc:abc/app.bsky.feed.post/3kxyz", "cid": "bafy1",
                  "author": {"did": "did:plc:abc", "handle": "tinnong.bsky.social", "displayName": "Tin nóng"},
                  "record": {"$type": "app.bsky.feed.post", "text": "Thông tin về cơn bão số 3 đổ bộ Thanh Hoá",
                             "createdAt": "2026-11-20T03:15:00.000Z", "langs": ["vi"]},
                  "indexedAt": "2026-11-20T03:15:01.000Z"}},
        {"post": {"uri": "at://did:plc:def/app.bsky.feed.post/3kabc", "cid": "bafy2",
                  "author": {"did": "did:plc:def", "handle": "other.bsky.social"},
                  "record": {"$type": "app.bsky.feed.post", "text": "Reposted story",
                             "createdAt": "2026-11-19T01:00:00Z"}},
         "reason": {"$type": "app.bsky.feed.defs#reasonRepost", "by": {"handle": "tinnong.bsky.social"}}},
    ],
    "cursor": "2026-11-19T01:00:00Z",
}


def test_bluesky_author_feed(server, tmp_path):
    server.route("/xrpc/app.bsky.feed.getAuthorFeed", json.dumps(BLUESKY_FEED), content_type="application/json")
    database = db.connect(tmp_path / "b.db")
    url = server.url("/xrpc/app.bsky.feed.getAuthorFeed?actor=tinnong.bsky.social")
    [result] = crawl_sources(database, config([("bsky", "bluesky", url)]), None)
    assert result.status == "ok" and result.new == 2, result.error
    row = next(database.query("SELECT * FROM items WHERE guid = 'at://did:plc:abc/app.bsky.feed.post/3kxyz'"))
    assert row["url"] == "https://bsky.app/profile/tinnong.bsky.social/post/3kxyz"
    assert row["published_at"] == "2026-11-20T03:15:00Z" and row["language"] == "vi"
    assert bluesky.api_url("https://bsky.app/profile/tinnong.bsky.social").startswith(bluesky.PUBLIC_API)
    items = bluesky.parse(json.dumps(BLUESKY_FEED).encode())
    assert items[1].extra["reposted_by"] == "tinnong.bsky.social"


# --- Reddit and YouTube through rss ----------------------------------------------------------------

@pytest.mark.corpus("realworld")  # rss-parser's Reddit feeds with its recorded parse
@pytest.mark.parametrize("name", ["reddit.rss", "reddit-atom.rss", "reddit-home.rss"])
def test_reddit_feeds_match_rss_parser_expectations(name):
    expected = json.loads((SOCIAL / "reddit" / f"{name}-parser-output.json").read_text())["feed"]["items"]
    items = rss.parse((SOCIAL / "reddit" / name).read_bytes())
    assert [i.title for i in items] == [e["title"] for e in expected]
    assert [i.url for i in items] == [e["link"] for e in expected]
    for item, entry in zip(items, expected, strict=True):
        when = entry.get("pubDate") or entry.get("isoDate")
        if when:
            assert item.published.timestamp() == (parse_time(when) or parse_loose_date(when)).timestamp()


@pytest.mark.parametrize("path", [pytest.param(OWN / "youtube" / "channel_feed.xml", id="project")] + [
    corpus.param(path, needs="realworld", id=path.name) for path in sorted((SOCIAL / "youtube").glob("*.xml"))])
def test_youtube_channel_feeds(path: Path):
    items = rss.parse(path.read_bytes())
    text = path.read_text(encoding="utf-8")
    assert len(items) == text.count("<entry>") > 0
    assert all(item.url and item.title and item.published for item in items)


@pytest.mark.parametrize("folder", TELEGRAM)
def test_telegram_max_pages_follows_older_posts(server, tmp_path, folder):
    fragments = [path.read_text(encoding="utf-8") for path in sorted(folder.glob("test_parse_text_*.html"))]
    assert len(fragments) >= 2
    newer, older = fragments[: len(fragments) // 2], fragments[len(fragments) // 2:]
    page = ('<html><body><section class="tgme_channel_history">{posts}</section>{more}</body></html>')
    server.route("/s/tchantest", page.format(
        posts="".join(newer), more='<a class="tme_messages_more" data-before="3" href="/s/tchantest?before=3"></a>'),
        content_type="text/html; charset=utf-8")
    server.route("/s/tchantest?before=3", page.format(posts="".join(older), more=""),
                 content_type="text/html; charset=utf-8")
    database = db.connect(tmp_path / "t.db")
    [result] = crawl_sources(database, config([("tchan", "telegram", server.url("/s/tchantest"))],
                                              "    max_pages: 2"), None)
    assert result.status == "ok", result.error
    assert server.requests_to("/s/tchantest?before=3")
    one_page = telegram.parse(page.format(posts="".join(newer), more="").encode())
    assert result.found > len(one_page)
