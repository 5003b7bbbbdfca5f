"""One bad link costs only that link's full text, never the source or a report (issue 15 item 14).

An article URL with a control character, or one redirecting to `http:foo`, made httpx raise
InvalidURL, which is not an httpx.HTTPError: it escaped the fetcher and failed the whole source.
"""

from __future__ import annotations

import pytest

import db
from monitor.config import Settings, load_text
from monitor.crawl.crawler import crawl_sources
from monitor.crawl.fetch import Fetcher, FetchError
from tests import helpers
from tests.servers import TestServer, redirect

PARAGRAPH = ("Chiều 12/11, Ủy ban nhân dân tỉnh tổ chức họp báo thông tin về tình hình mưa lũ, "
             "khẳng định không có chuyện xả lũ đồng loạt như tin đồn lan truyền trên mạng xã hội. ")


def article_page(number: int) -> str:
    body = "".join(f"<p>{PARAGRAPH}Đoạn {k} của bài {number}.</p>" for k in range(8))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Bài {number}</title></head>"
            f"<body><article><h1>Bài {number}</h1>{body}</article></body></html>")


@pytest.fixture()
def server():
    with TestServer() as running:
        yield running


def feed_with_bad_links(server: TestServer) -> tuple[str, dict[str, str]]:
    """A feed of six items: four good article pages, one link with DEL in it, one redirecting to http:foo."""
    links = {}
    for number in range(1, 5):
        links[f"good{number}"] = server.route(f"/bai-{number}.html", article_page(number),
                                              content_type="text/html; charset=utf-8")
    links["control"] = server.url("/bai-5\x7f.html")
    server.routes["/bai-6.html"] = redirect("http:foo")
    links["redirect"] = server.url("/bai-6.html")
    items = "".join(f"<item><title>Tin {name}</title><link>{url}</link><guid isPermaLink='false'>{name}</guid>"
                    f"<description>Tóm tắt {name}: tin đồn xả lũ.</description></item>"
                    for name, url in links.items())
    feed = f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    server.route("/feed.rss", feed, content_type="application/rss+xml; charset=utf-8")
    return server.url("/feed.rss"), links


@pytest.mark.parametrize("path, location", [("/bai\x7f.html", None), ("/to-http-foo", "http:foo"),
                                            ("/to-control", "/bai\x7f.html")])
def test_invalid_urls_are_fetch_errors_naming_the_url(server, path, location):
    if location is not None:
        server.routes[path] = redirect(location)
    url = server.url(path)
    with Fetcher(Settings(allow_private_networks=True, host_delay=0.0)) as fetcher:
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(url)
    assert repr(url)[1:-1] in caught.value.reason or url in caught.value.reason
    assert caught.value.url == url


def test_bad_article_links_cost_only_their_full_text(server, tmp_path):
    feed_url, links = feed_with_bad_links(server)
    config = load_text("settings:\n  allow_private_networks: true\n  host_delay: 0\n  deadline: 5\nsources:\n"
                       f"  - name: tinh\n    kind: rss\n    url: '{feed_url}'\n    full_text: true\n")
    database = db.connect(tmp_path / "bad-links.db")
    [result] = crawl_sources(database, config, None)
    assert result.status == "ok" and (result.found, result.new) == (6, 6), result.error
    texts = {row["guid"]: row["text"] for row in database.query("SELECT guid, text FROM items")}
    assert all("Đoạn 7 của bài" in texts[f"good{n}"] for n in range(1, 5))  # full text of the good pages
    assert texts["control"] == "Tóm tắt control: tin đồn xả lũ."  # the feed's summary is kept
    assert texts["redirect"] == "Tóm tắt redirect: tin đồn xả lũ."
    # The run says which links could not be read, and why, without failing the source.
    assert "full text not read for 2 of 6 items" in result.error
    assert "bai-5\\x7f.html" in result.error and "/bai-6.html" in result.error
    source = next(database.query("SELECT consecutive_failures FROM sources WHERE name = 'tinh'"))
    assert source["consecutive_failures"] == 0


def test_report_form_with_a_bad_link_keeps_the_report(server, world):
    path, _ = world
    app = helpers.make_app(path, SCORER=None)
    client = app.test_client()
    assert helpers.login(client, "ana").status_code in (302, 303)
    server.routes["/to-http-foo"] = redirect("http:foo")
    for url, text in ((server.url("/bai\x7f.html"), "Người dân gửi: tin đồn xả lũ ở Nghệ An"),
                      (server.url("/to-http-foo"), "Người dân gửi: tin đồn đóng cửa chợ")):
        response = client.post("/report", data={"url": url, "text": text})
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        assert "/items/" in response.headers["Location"]
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert 'class="flash error"' in page  # "the page could not be read (…); stored with what you gave"
        database = db.connect(path)
        stored = database.conn.execute("SELECT text FROM items WHERE url = ?", (url,)).fetchone()
        database.conn.close()
        assert stored == (text,)
