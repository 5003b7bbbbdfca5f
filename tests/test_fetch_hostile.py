"""A hostile local server: every misbehaviour ends in a clear error within the deadline, good sources still stored."""

from __future__ import annotations

import gzip
import time

import pytest

import db
from monitor.config import Settings, load_text
from monitor.crawl.crawler import crawl_sources
from monitor.crawl.fetch import Fetcher, FetchError
from monitor.crawl.sources import ParseError, rss
from tests import corpus
from tests.servers import ENTITY_BOMB, TestServer, endless, gzip_bomb, redirect, slow_drip

FEED = corpus.FIXTURES / "feeds" / "tin-tong-hop.rss"  # the project's own 25-item Vietnamese feed
WIN1258 = corpus.FIXTURES / "legacy-encodings" / "vi_windows-1258.txt"

FAST = dict(allow_private_networks=True, host_delay=0.0, connect_timeout=1.0, read_timeout=1.0, deadline=2.0,
            max_body_bytes=2 * 1024 * 1024, max_redirects=4)


@pytest.fixture(scope="module")
def hostile():
    with TestServer() as server:
        server.serve_file("/good.rss", FEED)
        server.route("/slow.rss", handler=slow_drip(FEED.read_bytes()[:4000], delay=0.05, chunk=20))
        server.route("/huge.rss", handler=endless())
        server.route("/bomb.rss", gzip_bomb(64 * 1024 * 1024),
                     headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"})
        server.routes["/loop-a"] = redirect("/loop-b")
        server.routes["/loop-b"] = redirect("/loop-a")
        server.route("/gone.rss", b"<html>gone</html>", status=410, content_type="text/html")
        server.route("/broken.rss", b"<html>oops</html>", status=500, content_type="text/html")
        server.route("/page.rss", b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>",
                     content_type="text/html; charset=utf-8")
        server.route("/invalid.rss", b"<rss><channel><item><title>unterminated",
                     content_type="application/rss+xml")
        server.route("/garbage.rss", bytes(range(256)) * 8, content_type="application/octet-stream")
        server.route("/entity-bomb.rss", ENTITY_BOMB, content_type="application/rss+xml")
        with TestServer(host="127.0.0.3") as busy:
            # A 429 holds off its whole host, so the rate-limited source lives on its own address.
            busy.route("/busy.rss", b"slow down", status=429, headers={"Retry-After": "120"})
            server.busy = busy
            yield server


def fetcher(**overrides) -> Fetcher:
    return Fetcher(Settings(**{**FAST, **overrides}))


def test_slow_drip_stops_at_deadline(hostile):
    started = time.monotonic()
    with pytest.raises(FetchError, match="deadline"):
        fetcher().fetch(hostile.url("/slow.rss"), deadline=0.5)
    assert time.monotonic() - started < 1.5


def test_huge_body_capped(hostile):
    with pytest.raises(FetchError, match="body larger than"):
        fetcher(max_body_bytes=1024 * 1024).fetch(hostile.url("/huge.rss"))


def test_gzip_bomb_capped_after_decompression(hostile):
    with pytest.raises(FetchError, match="after decompression"):
        fetcher(max_body_bytes=1024 * 1024).fetch(hostile.url("/bomb.rss"))


def test_gzip_body_is_decoded(hostile):
    hostile.route("/gz.rss", gzip.compress(FEED.read_bytes()),
                  headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"})
    result = fetcher().fetch(hostile.url("/gz.rss"))
    assert result.body == FEED.read_bytes()


def test_redirect_loop(hostile):
    with pytest.raises(FetchError, match="redirect"):
        fetcher().fetch(hostile.url("/loop-a"))


def test_redirect_limit(hostile):
    for i in range(6):
        hostile.routes[f"/hop{i}"] = redirect(f"/hop{i + 1}")
    hostile.serve_file("/hop6", FEED)
    with pytest.raises(FetchError, match="too many redirects"):
        fetcher(max_redirects=3).fetch(hostile.url("/hop0"))
    assert fetcher(max_redirects=6).fetch(hostile.url("/hop0")).final_url == hostile.url("/hop6")


@pytest.mark.parametrize("path,status", [("/gone.rss", 410), ("/broken.rss", 500), ("/nowhere.rss", 404)])
def test_http_errors_name_status_and_url(hostile, path, status):
    with pytest.raises(FetchError) as caught:
        fetcher().fetch(hostile.url(path))
    assert caught.value.status == status
    assert caught.value.reason == f"HTTP {status} from {hostile.url(path)}"


def test_429_retry_after_is_honoured(hostile):
    with pytest.raises(FetchError) as caught:
        guarded = fetcher()
        guarded.fetch(hostile.busy.url("/busy.rss"))
    assert caught.value.status == 429 and caught.value.retry_after == 120
    assert "rate limited" in caught.value.reason
    with pytest.raises(FetchError, match="asked us to wait"):  # the host is held off, nothing sent
        guarded.fetch(hostile.busy.url("/other.rss"))
    assert not hostile.busy.requests_to("/other.rss")


def test_user_agent_names_service_and_contact(hostile):
    fetcher(user_agent="TestMonitor/1", contact_url="https://example.org/contact").fetch(hostile.url("/good.rss"))
    assert hostile.requests_to("/good.rss")[-1].headers["user-agent"] == "TestMonitor/1 (+https://example.org/contact)"


def test_private_addresses_refused_unless_allowed(hostile):
    with pytest.raises(FetchError, match="loopback address 127.0.0.1"):
        fetcher(allow_private_networks=False).fetch(hostile.url("/good.rss"))
    count = len(hostile.requests)
    assert len(hostile.requests) == count  # refused before connecting


def test_redirect_to_disallowed_address_refused_without_connecting(hostile):
    with TestServer(host="127.0.0.2") as other:
        other.serve_file("/target.rss", FEED)
        hostile.routes["/to-internal"] = redirect(other.url("/target.rss"))
        guarded = fetcher(allow_private_networks=False, private_allowlist=["127.0.0.1/32"])
        assert guarded.fetch(hostile.url("/good.rss")).status == 200  # allow-listed host still works
        with pytest.raises(FetchError, match="loopback address 127.0.0.2"):
            guarded.fetch(hostile.url("/to-internal"))
        assert other.requests == []


def test_non_http_schemes_refused(hostile):
    hostile.routes["/to-file"] = redirect("file:///etc/passwd")
    with pytest.raises(FetchError, match="only http"):
        fetcher().fetch(hostile.url("/to-file"))


def test_entity_bomb_does_not_expand(hostile):
    result = fetcher().fetch(hostile.url("/entity-bomb.rss"))
    started = time.monotonic()
    try:
        items = rss.parse(result)
    except ParseError:
        items = []
    assert time.monotonic() - started < 2
    assert all(len(item.title) < 10_000 and len(item.text) < 10_000 for item in items)


def test_non_utf8_body_without_charset_decoded(hostile):
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>'
            + WIN1258.read_bytes().strip() + b"</title><link>http://example.vn/a</link></item></channel></rss>")
    hostile.route("/cp1258.rss", body, content_type="application/rss+xml")
    [item] = rss.parse(fetcher().fetch(hostile.url("/cp1258.rss")))
    assert item.title.startswith("Chữ Quốc ngữ")


@pytest.mark.parametrize("declared", ["xml", "header", "bom"])
def test_utf8_feed_with_one_broken_byte_keeps_its_letters(hostile, declared):
    """A feed declared UTF-8 whose summary lost half a character (as picofeed's grotte_barbu fixture):
    feedparser alone read the whole feed as windows-1252 ("Thanh HÃ³a")."""
    head = b'<?xml version="1.0" encoding="utf-8"?>' if declared == "xml" else b'<?xml version="1.0"?>'
    body = ((b"\xef\xbb\xbf" if declared == "bom" else b"") + head + '<rss version="2.0"><channel><title>t</title>'
            '<item><title>Lũ quét ở Mường Lát, Thanh Hóa</title><link>http://example.vn/a</link>'
            '<description>Người dân sơ tán trong đêm'.encode() + "ố".encode()[:2] + b"</description></item>"
            b"</channel></rss>")
    content_type = "application/rss+xml" + ("; charset=utf-8" if declared == "header" else "")
    hostile.route(f"/cut-{declared}.rss", body, content_type=content_type)
    [item] = rss.parse(fetcher().fetch(hostile.url(f"/cut-{declared}.rss")))
    assert item.title == "Lũ quét ở Mường Lát, Thanh Hóa"
    assert item.text.startswith("Người dân sơ tán trong đêm") and item.text.endswith("\ufffd")


def test_hostile_crawl_finishes_with_reasons_and_good_items_stored(hostile, tmp_path):
    bad = {"slow": "/slow.rss", "huge": "/huge.rss", "bomb": "/bomb.rss", "loop": "/loop-a", "gone": "/gone.rss",
           "broken": "/broken.rss", "page": "/page.rss", "garbage": "/garbage.rss", "missing": "/missing.rss"}
    lines = ["settings:", "  allow_private_networks: true", "  host_delay: 0", "  deadline: 1.5",
             "  connect_timeout: 1", "  read_timeout: 1", "  max_body_bytes: 1048576", "  workers: 6",
             "  host_concurrency: 12", "sources:",
             "  - {name: good, kind: rss, url: '" + hostile.url("/good.rss") + "'}"]
    lines.append("  - {name: invalid, kind: rss, url: '" + hostile.url("/invalid.rss") + "'}")
    lines.append("  - {name: busy, kind: rss, url: '" + hostile.busy.url("/busy.rss") + "'}")
    lines += ["  - {name: " + name + ", kind: rss, url: '" + hostile.url(path) + "'}" for name, path in bad.items()]
    config = load_text("\n".join(lines) + "\n")
    database = db.connect(tmp_path / "h.db")
    started = time.monotonic()
    results = {r.source: r for r in crawl_sources(database, config, scorer=None)}
    assert time.monotonic() - started < 10
    assert results["good"].status == "ok" and results["good"].new == 25
    for name in [*bad, "busy"]:
        assert results[name].status == "error", name
        assert results[name].error, name
    assert "deadline" in results["slow"].error
    assert "body larger" in results["huge"].error and "after decompression" in results["bomb"].error
    assert "redirect" in results["loop"].error
    assert results["gone"].error.startswith("HTTP 410") and results["broken"].error.startswith("HTTP 500")
    assert results["busy"].http_status == 429 and results["busy"].retry_after == 120
    assert "not a feed: HTML page" in results["page"].error
    assert "not a feed" in results["garbage"].error
    # Invalid XML is recovered the way feedparser recovers it, and the run says it was not well-formed.
    assert results["invalid"].status == "ok" and "not well-formed" in results["invalid"].error
    assert len(list(database.query("SELECT id FROM items WHERE source_id ="
                                   " (SELECT id FROM sources WHERE name = 'good')"))) == 25
    stored = {row["name"]: row["last_error"] for row in database.query("SELECT name, last_error FROM sources")}
    assert stored["gone"] == results["gone"].error


def test_proxy_from_settings_receives_the_request():
    with TestServer() as proxy:
        proxy.serve_file("http://feeds.example.invalid/thoi-su.rss", FEED)
        via = Fetcher(Settings(**{**FAST, "proxy": proxy.url("")}))
        result = via.fetch("http://feeds.example.invalid/thoi-su.rss")
        assert result.body == FEED.read_bytes()
        assert proxy.requests[-1].path == "http://feeds.example.invalid/thoi-su.rss"
        with pytest.raises(FetchError, match="loopback"):  # a private target stays refused behind a proxy
            Fetcher(Settings(**{**FAST, "proxy": proxy.url(""), "allow_private_networks": False})).fetch(
                "http://127.0.0.1:9/x")


def test_address_checked_again_at_connect_time(hostile, monkeypatch):
    """DNS may answer differently between our check and the connection (rebinding): the socket is guarded too."""
    guarded = fetcher(allow_private_networks=False)
    monkeypatch.setattr(guarded, "check_url", lambda url: ("127.0.0.1", hostile.port))
    before = len(hostile.requests)
    with pytest.raises(FetchError, match="loopback address 127.0.0.1"):
        guarded.fetch(hostile.url("/good.rss"))
    assert len(hostile.requests) == before
