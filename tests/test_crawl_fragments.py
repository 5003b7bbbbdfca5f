"""Distinct entries anchored on one page stay distinct (issue 15 item 13).

canonical_url dropped every #fragment, so a live blog's updates (bai-viet.html#cap-nhat-3) and a
feed of posts anchored on one page (the RSS 2.0 specification's sample) stored one item and called
the rest "seen". A fragment that can name an entry is kept; empty, navigation and tracking
fragments are still dropped, so the same article with #comments stays one item.
"""

from __future__ import annotations

import pytest

import db
from monitor.config import load_text
from monitor.crawl.crawler import crawl_sources
from monitor.text.urls import canonical_url
from tests.servers import TestServer


@pytest.mark.parametrize("url, expected", [
    ("https://baonghean.vn/bai-viet.html#cap-nhat-3", "https://baonghean.vn/bai-viet.html#cap-nhat-3"),
    ("http://liftoff.msfc.nasa.gov/2003/06/03.html#item573", "https://liftoff.msfc.nasa.gov/2003/06/03.html#item573"),
    ("http://www.pocketsoap.com/weblog/rssTests/rss2.0NSwithModules.xml#1",
     "https://pocketsoap.com/weblog/rssTests/rss2.0NSwithModules.xml#1"),
    ("https://blog.example.vn/bai/#comment-45", "https://blog.example.vn/bai#comment-45"),  # a comments feed
    ("https://example.vn/a.html#section:~:text=l%C5%A9", "https://example.vn/a.html#section"),
    ("https://example.vn/a.html#123;utm_content=Google+Reader", "https://example.vn/a.html#123"),
    ("https://aide.example.vn/#faq-formulaire#utm_source=le%3Alec0f&utm_medium=click",
     "https://aide.example.vn/#faq-formulaire"),
])
def test_fragments_that_name_an_entry_are_kept(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize("fragment", [
    "", "comments", "Comments", "respond", "disqus_thread", "top", "main-content", "more-1234",
    "xtor=RSS-3208", "utm_source=rss&utm_medium=feed", "utm_source=le%3Alec0f&utm_medium=click",
    ":~:text=tin%20gi%E1%BA%A3", ".VKNXX6DF9nQ", ".U4hHPvldV8E.twitter", "sthash.gXb3Tykx.dpuf",
    "#",
])
def test_empty_navigation_and_tracking_fragments_are_dropped(fragment):
    assert canonical_url(f"https://www.example.vn/tin.html#{fragment}") == "https://example.vn/tin.html"


ENTRIES = [("item573", "Star City", "Kế hoạch huấn luyện phi hành gia tại Star City được công bố."),
           ("item572", "Sky watchers", "Người dân quan sát nhật thực một phần vào sáng nay."),
           ("item571", "Astronauts", "Hai phi hành gia trở về sau nhiệm vụ dài ngày.")]


def anchored_feed(page: str) -> str:
    """Three posts on one page, each anchored, as in the RSS 2.0 specification's sample feed."""
    items = "".join(f"<item><title>{title}</title><link>{page}#{anchor}</link><description>{text}</description>"
                    f"<guid>{page}#{anchor}</guid></item>" for anchor, title, text in ENTRIES)
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'


def crawl(database, server: TestServer, extra: str = ""):
    config = load_text("settings:\n  allow_private_networks: true\n  host_delay: 0\n  deadline: 5\nsources:\n"
                       f"  - name: song\n    kind: rss\n    url: '{server.url('/feed.rss')}'\n{extra}")
    [result] = crawl_sources(database, config, None)
    return result


@pytest.fixture()
def server():
    with TestServer() as running:
        yield running


def test_posts_anchored_on_one_page_are_stored_once_each(server, tmp_path):
    server.route("/feed.rss", anchored_feed("http://liftoff.example.vn/2003/06/03.html"),
                 content_type="application/rss+xml")
    database = db.connect(tmp_path / "f.db")
    first = crawl(database, server)
    assert first.status == "ok" and (first.new, first.seen) == (3, 0), first.error
    urls = [row["canonical_url"] for row in database.query("SELECT canonical_url FROM items ORDER BY id")]
    assert urls == [f"https://liftoff.example.vn/2003/06/03.html#{anchor}" for anchor, _, _ in ENTRIES]
    # The same feed again (changed bytes, so it is parsed): every entry is recognised, nothing doubles.
    server.route("/feed.rss", anchored_feed("http://liftoff.example.vn/2003/06/03.html") + "\n",
                 content_type="application/rss+xml")
    again = crawl(database, server)
    assert (again.new, again.seen) == (0, 3)
    assert database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 3


def test_live_blog_updates_with_full_text_stay_distinct(server, tmp_path):
    """The article page holds every update, so it is not fetched as the full text of one of them."""
    page = server.route("/truc-tiep.html", "<html><body><article>" + "<p>Toàn bộ trang tường thuật.</p>" * 40
                        + "</article></body></html>", content_type="text/html; charset=utf-8")
    items = "".join(f"<item><title>Cập nhật {n}</title><link>{page}#cap-nhat-{n}</link>"
                    f"<description>Nội dung cập nhật số {n} về mưa lũ.</description></item>" for n in (1, 2, 3))
    server.route("/feed.rss", f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
                 content_type="application/rss+xml")
    database = db.connect(tmp_path / "live.db")
    result = crawl(database, server, "    full_text: true\n")
    assert result.status == "ok" and result.new == 3, result.error
    texts = [row[0] for row in database.conn.execute("SELECT text FROM items ORDER BY id")]
    assert texts == [f"Nội dung cập nhật số {n} về mưa lũ." for n in (1, 2, 3)]
    assert not server.requests_to("/truc-tiep.html")


def test_same_article_with_comments_anchor_is_still_one_item(server, tmp_path):
    page = "http://tin.example.vn/bai-1.html"
    items = (f"<item><title>Bài 1</title><link>{page}</link><description>Nội dung bài một.</description></item>"
             f"<item><title>Bình luận bài 1</title><link>{page}#comments</link>"
             f"<description>Cùng bài, đường dẫn tới phần bình luận.</description></item>")
    server.route("/feed.rss", f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
                 content_type="application/rss+xml")
    result = crawl(db.connect(tmp_path / "c.db"), server)
    assert (result.new, result.seen) == (1, 1)
