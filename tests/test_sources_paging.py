"""Paged sources keep the pages they read when a later page fails (issue 15 item 15).

Mastodon (and Telegram, which walks its pages the same way) used to drop page 1's posts when
page 2 failed, and the source failed. Now the posts read are stored, the run says which page was
not read, and the next pass walks every page again.
"""

from __future__ import annotations

import json

import pytest

import db
from monitor.config import load_text
from monitor.crawl.crawler import crawl_sources
from tests.servers import TestServer

TAG = "/api/v1/timelines/tag/vietnam"
OLDER = "/api/v1/timelines/tag/vietnam-older"


def config(name: str, kind: str, url: str) -> object:
    return load_text("settings:\n  allow_private_networks: true\n  host_delay: 0\n  deadline: 5\nsources:\n"
                     f"  - name: {name}\n    kind: {kind}\n    url: '{url}'\n    max_pages: 3\n")


def statuses(numbers: range) -> str:
    return json.dumps([{"id": str(n), "uri": f"https://m.example.vn/users/tin/statuses/{n}",
                        "url": f"https://m.example.vn/@tin/{n}", "created_at": "2026-11-20T01:00:00Z",
                        "content": f"<p>Bài đăng số {n}: tin đồn mất điện toàn tỉnh</p>", "language": "vi",
                        "account": {"acct": "tin"}} for n in numbers], ensure_ascii=False)


@pytest.fixture()
def server():
    with TestServer() as running:
        yield running


def source_state(database, name: str) -> dict:
    return next(database.query("SELECT etag, body_hash, consecutive_failures FROM sources WHERE name = ?", [name]))


@pytest.mark.parametrize("broken, reason", [
    (dict(body=b"<html>upstream error</html>", status=502, content_type="text/html"), "HTTP 502"),
    (dict(body=b"{not json", content_type="application/json"), "invalid JSON"),
])
def test_mastodon_keeps_page_one_when_page_two_fails(server, tmp_path, broken, reason):
    server.route(TAG, statuses(range(1, 4)), content_type="application/json", etag='"page-1"',
                 headers={"Link": f'<{server.url(OLDER)}>; rel="next"'})
    server.route(OLDER, **broken)
    database = db.connect(tmp_path / "m.db")
    source = config("vietnam", "mastodon", server.url("/tags/vietnam"))
    [result] = crawl_sources(database, source, None)
    assert result.status == "ok" and (result.found, result.new) == (3, 3), result.error
    assert "page 2 not read" in result.error and reason in result.error and server.url(OLDER) in result.error
    state = source_state(database, "vietnam")
    assert state["consecutive_failures"] == 0
    assert state["etag"] is None and state["body_hash"] is None  # the next pass walks every page again
    # Page 2 comes back: the unchanged first page is not taken for "nothing new", page 2 is stored.
    server.route(OLDER, statuses(range(4, 6)), content_type="application/json")
    [again] = crawl_sources(database, source, None)
    assert again.status == "ok" and (again.new, again.seen) == (2, 3) and again.error is None
    assert source_state(database, "vietnam")["etag"] == '"page-1"'


def telegram_page(numbers: range, before: int | None) -> str:
    posts = "".join(f'<div class="tgme_widget_message" data-post="tinnghean/{n}">'
                    f'<div class="tgme_widget_message_text">Tin số {n}: cảnh báo lừa đảo</div>'
                    f'<time datetime="2026-11-20T01:00:00+00:00"></time></div>' for n in numbers)
    more = (f'<a class="tme_messages_more" data-before="{before}" href="/s/tinnghean?before={before}"></a>'
            if before else "")
    return f'<html><body><section class="tgme_channel_history">{posts}</section>{more}</body></html>'


def test_telegram_keeps_page_one_when_page_two_fails(server, tmp_path):
    server.route("/s/tinnghean", telegram_page(range(10, 13), before=10), content_type="text/html; charset=utf-8")
    server.route("/s/tinnghean?before=10", "<html>busy</html>", status=503, content_type="text/html")
    database = db.connect(tmp_path / "t.db")
    [result] = crawl_sources(database, config("tinnghean", "telegram", server.url("/s/tinnghean")), None)
    assert result.status == "ok" and result.new == 3, result.error
    assert "page 2 not read" in result.error and "HTTP 503" in result.error
