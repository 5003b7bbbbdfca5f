"""End to end (issue 11 item 5), with real components on 127.0.0.1: a debunked claim imported with
`monitor claims import`, then the scheduler crawls a story spreading across 5 local RSS sources that mentions
a commune of the configured province (Thanh Hóa) and repeats the claim (the real crawler, dedup, place
tagging, claim matching that flags it whatever the model says, the spike job), and the alert jobs deliver it
through Apprise to a local SMTP server (aiosmtpd), a webhook receiver and a Telegram-Bot-API-shaped server:
exactly one alert per channel for the story, with its links, the rebuttal's and the place, within 60 s of the
first copy being stored; another copy within the cooldown sends nothing, one after it sends the second alert."""

from __future__ import annotations

import time

import db
from db import alerts as store
from monitor.cli import main
from monitor.config import FeedsConfig, SourceConfig
from monitor.crawl.crawler import crawl_source
from monitor.schedule.scheduler import Scheduler
from tests.alert_support import TOKEN, Smtp, posts, receiver, settings_for
from tests.helpers import FakeScorer
from tests.scheduler_fixtures import rss, wait_for

STORY = "Xã Đông Tiến (Thanh Hóa) có dịch lạ, người dân hoang mang"
BODY = ("Tin đồn xã Đông Tiến, huyện Đông Sơn, tỉnh Thanh Hóa xuất hiện dịch bệnh lạ khiến nhiều người tử vong, "
        "chính quyền giấu thông tin, người dân cần chia sẻ gấp để mọi người biết")
CLAIM = "Xã Đông Tiến, Thanh Hóa xuất hiện dịch bệnh lạ khiến nhiều người tử vong, chính quyền giấu thông tin"
REBUTTAL = "https://thanhhoa.gov.vn/bac-bo/dich-la-dong-tien"


def story_feed(n: int, extra: int = 0) -> bytes:
    items = [(f"s{n}-dich-la", f"{STORY}")]
    items += [(f"s{n}-other-{k}", f"Tin địa phương số {k} của nguồn {n}: lịch cắt điện tuần này") for k in range(2)]
    items += [(f"s{n}-copy-{k}", f"{STORY} (cập nhật {k})") for k in range(extra)]
    body = rss(f"nguon{n}", items).decode()
    # The copies share the story's text (dedup makes them one cluster); the others are not flagged.
    return body.replace(f"<description>{STORY}", f"<description>{BODY}. {STORY}").encode()


def rules_cooled(database) -> bool:
    """The new copy was flagged and scanned (an event), and the cooldown kept it from a second alert."""
    flagged = database.conn.execute("SELECT status FROM items WHERE title LIKE ?", (STORY + " (cập nhật%",))
    return [row[0] for row in flagged] == ["flagged"] and int(store.cursor(database, "items")) >= max(
        row[0] for row in database.conn.execute("SELECT id FROM items"))


def import_claim(db_path, tmp_path) -> None:
    claims = tmp_path / "bac-bo.csv"
    claims.write_text(f'claim,url,verdict,language,publisher\n"{CLAIM}",{REBUTTAL},Sai sự thật,vi,'
                      "Cổng TTĐT tỉnh Thanh Hóa\n", encoding="utf-8")
    db.connect(db_path).conn.close()  # the service's database, created as `monitor init` does
    assert main(["--db", str(db_path), "claims", "import", str(claims)]) == 0


def test_a_story_across_five_sources_gives_one_alert_per_channel_then_one_after_the_cooldown(db_path, tmp_path):
    import_claim(db_path, tmp_path)
    with Smtp() as smtp, receiver() as server:
        urls = [server.route(f"/s{n}.xml", story_feed(n), content_type="application/rss+xml") for n in range(1, 6)]
        settings = settings_for(server, smtp, cooldown=12)  # Telegram: claim_match and spike only
        settings.allow_private_networks, settings.respect_robots, settings.host_delay = True, False, 0
        settings.jurisdiction = ("p:38",)  # Thanh Hóa, as `jurisdiction: Thanh Hóa` loads
        sources = [SourceConfig(name=f"nguon{n}", kind="rss", url=url, interval_seconds=3600)
                   for n, url in enumerate(urls, 1)]
        scheduler = Scheduler(db_path, config=FeedsConfig("feeds.yaml", settings, sources), crawl=crawl_source,
                              scorer=FakeScorer(), heartbeat_seconds=0.5, reconcile_seconds=0.5, housekeeping=False,
                              first_run_spread=0.3, alerts_seconds=1.0, spike_check_seconds=0.5)
        scheduler.start()
        try:
            database = db.connect(db_path, migrate_schema=False)
            wait_for(lambda: len(smtp.inbox.messages) and posts(server, "/hook")
                     and posts(server, f"/bot{TOKEN}/sendMessage"), timeout=60)
            delivered = time.time()
            first_stored = database.conn.execute("SELECT MIN(fetched_at) FROM items WHERE title = ?",
                                                 (STORY,)).fetchone()[0]
            assert delivered - db.from_iso(first_stored).timestamp() <= 60
            copies = database.conn.execute("SELECT id, url, cluster_id FROM items WHERE title = ? ORDER BY id",
                                           (STORY,)).fetchall()
            assert len(copies) == 5 and len({cluster for _, _, cluster in copies}) == 1
            time.sleep(2.5)  # a few more scan and send passes: still one alert per channel
            texts = [*smtp.inbox.bodies(), *(p["message"] for p in posts(server, "/hook")),
                     *(p["text"] for p in posts(server, f"/bot{TOKEN}/sendMessage"))]
            assert len(texts) == 3
            for text in texts:
                assert STORY in text and "https://canhbao.example.gov.vn/items/" in text
                assert "Trùng với tin đã được bác bỏ" in text and REBUTTAL in text
                assert "Phường Đông Tiến (c:15853)" in text  # the commune, by name
                assert sum(url in text for _, url, _ in copies) >= 1
            for text in texts[:2]:  # e-mail and webhook take 'jurisdiction'; the Telegram group does not
                assert "Tin gắn cờ liên quan đến địa bàn: Phường Đông Tiến (c:15853)" in text
            assert "liên quan đến địa bàn" not in texts[2]
            assert {r["channel"] for r in store.all_alerts(database)} == {"truc-ban-email", "nhom-telegram",
                                                                          "webhook"}
            assert len(store.all_alerts(database)) == 3
            # Within the cooldown a new copy sends nothing; after it, the story's second alert goes out.
            server.route("/s1.xml", story_feed(1, extra=1), content_type="application/rss+xml")
            scheduler.run_now("nguon1")
            wait_for(lambda: database.conn.execute("SELECT COUNT(*) FROM items WHERE title LIKE ?",
                                                   (STORY + " (cập nhật%",)).fetchone()[0], timeout=10)
            time.sleep(2.5)
            assert len(posts(server, "/hook")) == 1
            assert rules_cooled(database)
            sent_at = db.from_iso(store.all_alerts(database)[0]["created_at"]).timestamp()
            time.sleep(max(0.0, sent_at + 14 - time.time()))  # times are stored to the second
            server.route("/s2.xml", story_feed(2, extra=1), content_type="application/rss+xml")
            scheduler.run_now("nguon2")
            wait_for(lambda: len(posts(server, "/hook")) == 2, timeout=30)
            assert len(store.all_alerts(database)) == 6
            database.conn.close()
        finally:
            assert scheduler.stop(timeout=10)
