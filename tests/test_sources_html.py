"""html listing pages (CSS selectors) and opt-in full article text, on the project's own pages (tests/fixtures)
and, where the shared corpus is, on recorded real pages as well."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import db
from monitor.config import ConfigError, load_text
from monitor.crawl.crawler import crawl_sources
from monitor.crawl.sources import ParseError
from monitor.crawl.sources.article import extract, extract_fallback
from monitor.crawl.sources.html import parse_loose_date
from tests import corpus
from tests.servers import TestServer

VI_HTML = corpus.REALWORLD / "html" / "vietnamese"
HOMEPAGE = corpus.FIXTURES / "html" / "vi-trang-danh-sach.html"
ARTICLE = corpus.FIXTURES / "html" / "vi-bai-viet.html"
LISTINGS = [  # (page, at least this many items, one item's URL part, its title, its language)
    pytest.param(HOMEPAGE, 8, "bac-bo-tin-don-nuoc-gieng", "Sở Y tế Nghệ An bác bỏ tin đồn nước giếng nhiễm độc", "vi",
                 id="project"),
    corpus.param(VI_HTML / "e-vnexpress_homepage_2025-12_from-young146-daily-news-gravity.html", 30,
                 "south-central-vietnam-on-high-alert",
                 "South central Vietnam on high alert for flooding, landslides amid torrential rain forecast", "en",
                 needs="realworld", id="e-vnexpress"),
]
ARTICLES = [  # (page, words of its main text, its publication date as stored)
    pytest.param(ARTICLE, "Phó Giám đốc Sở Y tế", "2026-11-02T17:00:00Z", id="project"),  # 2026-11-03 in Hanoi
    corpus.param(VI_HTML / "vnexpress_article_4672302_2023-11-02_from-htmldate.html",
                 "Bộ trưởng Tài chính Hồ Đức Phớc", "2023-11-01T17:00:00Z", needs="realworld", id="vnexpress"),
]
SELECTORS = "    selectors: {item: 'div.item-news', title: '.title_news_site a', link: '.title_news_site a'," \
            " text: '.lead_news_site'}"


def feeds(body: str) -> object:
    return load_text("settings:\n  allow_private_networks: true\n  host_delay: 0\n  deadline: 5\nsources:\n" + body)


@pytest.fixture
def server():
    with TestServer() as running:
        yield running


@pytest.mark.parametrize("page, at_least, slug, title, language", LISTINGS)
def test_listing_page_with_selectors(server, tmp_path, page, at_least, slug, title, language):
    server.serve_file("/news", page, content_type="text/html; charset=utf-8")
    config = feeds(f"  - name: evne\n    kind: html\n    url: '{server.url('/news')}'\n{SELECTORS}\n")
    database = db.connect(tmp_path / "h.db")
    [result] = crawl_sources(database, config, None)
    assert result.status == "ok", result.error
    assert result.found >= at_least
    row = next(database.query("SELECT * FROM items WHERE url LIKE ?", [f"%{slug}%"]))
    assert row["title"] == title
    assert row["language"] == language
    assert server.requests_to("/robots.txt"), "robots.txt consulted before an HTML page"


def test_layout_change_is_a_clear_error(server, tmp_path):
    server.route("/news", "<html><body><p>redesigned</p></body></html>", content_type="text/html")
    config = feeds(f"  - name: evne\n    kind: html\n    url: '{server.url('/news')}'\n{SELECTORS}\n")
    [result] = crawl_sources(db.connect(tmp_path / "h.db"), config, None)
    assert result.status == "error" and "no element matches item selector 'div.item-news'" in result.error


def test_html_source_without_selectors_is_a_config_error():
    with pytest.raises(ConfigError, match="selectors") as caught:
        feeds("  - name: x\n    kind: html\n    url: https://example.vn/\n")
    assert caught.value.line == 6  # the entry's first line


def test_robots_disallow_on_listing(server, tmp_path):
    server.route("/robots.txt", "User-agent: *\nDisallow: /news\n", content_type="text/plain")
    server.serve_file("/news", HOMEPAGE, content_type="text/html")
    config = feeds(f"  - name: evne\n    kind: html\n    url: '{server.url('/news')}'\n{SELECTORS}\n")
    [result] = crawl_sources(db.connect(tmp_path / "h.db"), config, None)
    assert result.status == "error" and "robots.txt" in result.error
    assert not server.requests_to("/news")


def test_vietnamese_listing_dates():
    assert parse_loose_date("19/04/2017 19:45").isoformat() == "2017-04-19T19:45:00"
    assert parse_loose_date("Thứ tư, 19/4/2017, 07:45 (GMT+7)").isoformat() == "2017-04-19T07:45:00"
    assert parse_loose_date("07:45 19/04/2017").isoformat() == "2017-04-19T07:45:00"
    assert parse_loose_date("2017-04-19T07:45:00+07:00").utcoffset().total_seconds() == 7 * 3600
    assert parse_loose_date("hôm qua") is None


@pytest.mark.parametrize("page, words, published_at", ARTICLES)
def test_full_text_opt_in_fetches_article_and_date(server, tmp_path, page, words, published_at):
    article_url = server.serve_file("/kinh-doanh/4672302.html", page, content_type="text/html; charset=utf-8")
    blocked_url = server.url("/private/1.html")
    server.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    feed = f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>
<item><title>Ông Hồ Đức Phớc sẽ nâng mức giảm trừ gia cảnh</title><link>{article_url}</link>
<description>Bộ trưởng Tài chính cho biết sẽ nâng mức giảm trừ gia cảnh.</description></item>
<item><title>Bài bị chặn</title><link>{blocked_url}</link><description>Tóm tắt ngắn.</description></item>
</channel></rss>"""
    server.route("/feed.rss", feed, content_type="application/rss+xml")
    config = feeds(f"  - name: vne\n    kind: rss\n    url: '{server.url('/feed.rss')}'\n    full_text: true\n")
    database = db.connect(tmp_path / "f.db")
    [result] = crawl_sources(database, config, None)
    assert result.status == "ok" and result.new == 2, result.error
    full = next(database.query("SELECT * FROM items WHERE url = ?", [article_url]))
    assert words in full["text"] and len(full["text"]) > 1000
    assert full["published_at"] == published_at  # the page's date, midnight in Asia/Ho_Chi_Minh
    blocked = next(database.query("SELECT * FROM items WHERE url = ?", [blocked_url]))
    assert blocked["text"] == "Tóm tắt ngắn."
    assert not server.requests_to("/private/1.html")
    crawl_sources(database, config, None)  # unchanged feed: no article re-fetch
    assert len(server.requests_to("/kinh-doanh/4672302.html")) == 1


def test_extraction_fallback_when_trafilatura_finds_nothing():
    html = "<html><body><div><p>" + "Đoạn văn bản chính của bài báo. " * 20 + "</p><p>Đoạn hai.</p></div>" \
           "<nav><p>menu menu menu</p></nav></body></html>"
    assert extract_fallback(html).startswith("Đoạn văn bản chính")
    text, _ = extract(html)
    assert "Đoạn văn bản chính" in text and "menu" not in text


def test_the_installed_article_extractor_is_trafilatura():
    """Issue 15 item 2: with lxml >= 5.2, trafilatura imports only when lxml_html_clean is installed too;
    without it every article silently went through the fallback."""
    from monitor.crawl.sources import article

    assert article.extractor() == "trafilatura"


def test_the_extractor_check_reports_the_fallback_when_trafilatura_cannot_be_imported():
    """What a fresh install without lxml_html_clean looks like (lxml.html.clean unimportable), in a child
    process so this process keeps its modules: the check names the fallback and why, and articles still
    come out (by the fallback)."""
    script = (
        "import sys\n"
        "sys.modules['lxml.html.clean'] = None  # import lxml.html.clean now raises ImportError\n"
        "from monitor.crawl.sources import article\n"
        "print(article.extractor())\n"
        f"print(article.extract(open({str(ARTICLE)!r}, encoding='utf-8').read())[0][:60])\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=corpus.REPO, env={**os.environ, "PYTHONPATH": str(corpus.REPO)})
    assert proc.returncode == 0, proc.stderr
    check, text = proc.stdout.splitlines()[:2]
    assert check.startswith("fallback: trafilatura cannot be imported (") and "lxml.html.clean" in check, check
    assert "Sở Y tế Nghệ An" in text or "Những ngày qua" in text, text


def test_parse_error_type_is_exported():
    assert issubclass(ParseError, ValueError)
