"""Issue 11 under hostile input (a reviewer's findings, each once failing): ClaimReview JSON-LD from someone
else's page, `monitor claims import` files that are not what they claim to be, feeds.yaml values that load
but break the alert scan or sender later, secrets in the logs, and query parameters the queue ignored."""

from __future__ import annotations

import json

from monitor.crawl.crawler import crawl_sources
from monitor.known_claims.claimreview import MAX_REVIEWS, claims_in_html
from tests.servers import TestServer


def _ld(data: object | str) -> str:
    block = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f'<script type="application/ld+json">{block}</script>'


def _review(i: int, **fields: object) -> dict:
    return {"@type": "ClaimReview", "claimReviewed": f"Tin đồn số {i}: đập thủy điện sắp vỡ ở huyện {i}",
            "url": f"https://kiemchung.example.vn/{i}", "reviewRating": {"alternateName": "Sai"}, **fields}


# --- ClaimReview from a hostile page ----------------------------------------------------------------------

def test_json_ld_nested_past_the_recursion_limit_is_skipped_not_raised():
    deep = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError, which is not a ValueError
    assert claims_in_html(_ld(deep) + _ld(_review(1)), "https://kiemchung.example.vn/p") != []


def test_thousands_of_reviews_on_one_page_are_bounded():
    page = "".join(_ld([_review(i + 1000 * block) for i in range(1000)]) for block in range(10))
    assert len(claims_in_html(page, "https://kiemchung.example.vn/p")) == MAX_REVIEWS


def test_non_text_and_oversized_review_fields_are_refused_or_cut():
    reviews = [_review(1, claimReviewed=12345), _review(2, claimReviewed=True), _review(3, claimReviewed={"a": 1}),
               _review(4, url="https://kiemchung.example.vn/a b"), _review(5, url="javascript:alert(1)"),
               _review(6, reviewRating={"name": "S" * 50_000}, author={"name": "<b>x</b>" * 10_000},
                       inLanguage={"name": 5})]
    [claim] = claims_in_html(_ld(reviews), "javascript:alert(2)")
    assert claim.text.startswith("Tin đồn số 6") and claim.url == "https://kiemchung.example.vn/6"
    assert len(claim.verdict) <= 200 and len(claim.publisher) <= 200 and claim.language is None


def test_a_feed_item_with_hostile_json_ld_does_not_lose_the_source_s_items(tmp_db):
    deep = "[" * 100_000 + "]" * 100_000
    content = (_ld(deep) + "<p>Bài viết bình thường</p>").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    rss = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
           "<item><title>Tin một</title><link>https://a.example.vn/1</link><guid>1</guid>"
           f"<description>{content}</description></item>"
           "<item><title>Tin hai</title><link>https://a.example.vn/2</link><guid>2</guid>"
           "<description>Nội dung</description></item></channel></rss>")
    from monitor.config import load_text

    with TestServer() as server:
        server.route("/hostile.rss", rss.encode(), content_type="application/rss+xml")
        config = load_text("settings:\n  allow_private_networks: true\n  host_delay: 0\nsources:\n"
                           f"  - name: hostile\n    kind: rss\n    url: {server.url('/hostile.rss')}\n")
        [result] = crawl_sources(tmp_db, config, scorer=None)
    assert (result.status, result.new) == ("ok", 2), result.error
