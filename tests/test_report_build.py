"""Report figures on a small hand-built database, checked against answers computed by hand.

The world (week 2026-W47 = Mon 2026-11-16 … Sun 2026-11-22 in Asia/Ho_Chi_Minh, UTC+7, i.e.
[2026-11-15T17:00Z, 2026-11-22T17:00Z)):

item src            fetched_at (UTC)        local               flags        status now  model
 1   VnExpress      2026-11-16T02:00Z       Mon 16 09:00        mis          confirmed   m1
 2   VnExpress      2026-11-15T16:59Z       Sun 15 23:59 (W46)  mis          dismissed   m1
 3   VnExpress      2026-11-15T17:00Z       Mon 16 00:00 (W47)  harm         dismissed   m2
 4   Báo Thanh Hóa  2026-11-18T05:00Z       Wed 18 12:00        mis, harm    confirmed   m2
 5   Báo Thanh Hóa  2026-11-22T17:30Z       Mon 23 00:30 (W48)  mis          flagged     m2
 6   Mastodon FR    2026-11-20T10:00Z       Fri 20 17:00        -            new         m2
 7   VnExpress      2026-11-21T23:00Z       Sun 22 06:00        mis          escalated   m2
 8   Old English    2026-11-10T03:00Z       W46                 -            new         m1
 9   Báo Thanh Hóa  2026-11-19T08:00Z       Thu 19 15:00        mis          confirmed   m2
10   VnExpress      2026-11-09T00:00Z       W46                 mis          confirmed   m1

decision item user action                   created_at (UTC)     week
 d1      10   lan  confirm_misinformation   2026-11-09T04:00Z    W46  (4 h after first seen)
 d2       2   lan  dismiss                  2026-11-15T18:00Z    W47  (1 h 1 min)
 d3       1   lan  confirm_misinformation   2026-11-16T05:00Z    W47  (3 h)
 d4       4   minh confirm_harm             2026-11-19T05:00Z    W47  (24 h)
 d5       9   minh dismiss                  2026-11-19T18:00Z    W47  (10 h)
 d6       9   minh reopen                   2026-11-20T00:00Z    W47
 d7       9   lan  confirm_misinformation   2026-11-20T06:00Z    W47
 d8       7   lan  escalate                 2026-11-22T01:00Z    W47  (2 h)
 d9       3   lan  dismiss                  2026-11-23T02:00Z    W48  (after the week: item 3 was open at its end)

clusters: 1 = items 1, 4, 9, 10 · 2 = items 3, 6 · 3 = item 7 (+ a repost on Báo Thanh Hóa 11-22T05:00Z, not\nstored) · 4 = items 2, 8 (W46 only) · 5 = item 5 (W48).
crawl runs: Old English errors on 11-12 (W46), 11-17 and 11-18; VnExpress ok 11-19, error 11-20; Thanh Hóa ok.

Every test on the world runs once per backend (SQLite, PostgreSQL: the `database_url` fixture), and
test_the_report_is_the_same_on_both_backends holds every figure and row of the two reports identical,
types included.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

import db
from db.decisions import GENESIS, row_hash
from monitor.reports import build_report, iso_week
from monitor.reports.period import custom, quarter

SOURCES = [
    # id, name, kind, language, enabled, paused, consecutive_failures
    (1, "VnExpress", "rss", "vi", 1, 0, 0),
    (2, "Báo Thanh Hóa", "html", "vi", 1, 0, 0),
    (3, "Mastodon FR", "mastodon", "fr", 1, 1, 0),
    (4, "Old English", "rss", "en", 1, 0, 4),
]
USERS = [(1, "lan", "moderator"), (2, "minh", "admin"), (3, "an", "analyst")]
ITEMS = [
    # id, source, fetched_at, language, flags, status, model, title
    (1, 1, "2026-11-16T02:00:00Z", "vi", ["misinformation"], "confirmed", "m1",
     "Tin giả về vắc xin, gọi 0912 345 678"),
    (2, 1, "2026-11-15T16:59:00Z", "vi", ["misinformation"], "dismissed", "m1", "Tin đồn bão số 9"),
    (3, 1, "2026-11-15T17:00:00Z", "vi", ["harm"], "dismissed", "m2", "Kêu gọi tụ tập"),
    (4, 2, "2026-11-18T05:00:00Z", "vi", ["misinformation", "harm"], "confirmed", "m2",
     "Tin giả vắc xin gây vô sinh, liên hệ tuyen@example.vn"),
    (5, 2, "2026-11-22T17:30:00Z", "vi", ["misinformation"], "flagged", "m2", "Tin giả lúc nửa đêm"),
    (6, 3, "2026-11-20T10:00:00Z", "fr", [], "new", "m2", "Météo à Hanoï"),
    (7, 1, "2026-11-21T23:00:00Z", "vi", ["misinformation"], "escalated", "m2", "=HYPERLINK(\"x\") CCCD 001203004567"),
    (8, 4, "2026-11-10T03:00:00Z", "en", [], "new", "m1", "Weather in Hue"),
    (9, 2, "2026-11-19T08:00:00Z", "vi", ["misinformation"], "confirmed", "m2", "Tin giả vắc xin lần nữa"),
    (10, 1, "2026-11-09T00:00:00Z", "vi", ["misinformation"], "confirmed", "m1", "Tin giả tuần trước"),
]
DECISIONS = [
    # item, user, action, old, new, created_at, note
    (10, 1, "confirm_misinformation", "flagged", "confirmed", "2026-11-09T04:00:00Z", "checked"),
    (2, 1, "dismiss", "flagged", "dismissed", "2026-11-15T18:00:00Z", "satire"),
    (1, 1, "confirm_misinformation", "flagged", "confirmed", "2026-11-16T05:00:00Z", "call 0987.654.321"),
    (4, 2, "confirm_harm", "flagged", "confirmed", "2026-11-19T05:00:00Z", ""),
    (9, 2, "dismiss", "flagged", "dismissed", "2026-11-19T18:00:00Z", ""),
    (9, 2, "reopen", "dismissed", "flagged", "2026-11-20T00:00:00Z", "new evidence"),
    (9, 1, "confirm_misinformation", "flagged", "confirmed", "2026-11-20T06:00:00Z", ""),
    (7, 1, "escalate", "flagged", "escalated", "2026-11-22T01:00:00Z", "to the province"),
    (3, 1, "dismiss", "flagged", "dismissed", "2026-11-23T02:00:00Z", ""),
]

CLUSTERS = {1: (1, 4, 9, 10), 2: (3, 6), 3: (7,), 4: (2, 8), 5: (5,)}
# An exact repost of item 7's story on Báo Thanh Hóa, not stored again (the crawler's cluster_sources).
REPOSTS = [(3, 2, "2026-11-22T05:00:00Z")]
CRAWL_RUNS = [
    (4, "2026-11-12T00:00:00Z", "error"), (4, "2026-11-17T00:00:00Z", "error"), (4, "2026-11-18T00:00:00Z", "error"),
    (1, "2026-11-19T00:00:00Z", "ok"), (1, "2026-11-20T00:00:00Z", "error"), (2, "2026-11-19T00:00:00Z", "ok"),
]


def build_world(database) -> None:
    """Insert the hand-built world above (directly, with a valid decision hash chain)."""
    conn = database.conn
    with db.transaction(database):
        for sid, name, kind, language, enabled, paused, failures in SOURCES:
            conn.execute("INSERT INTO sources (id, name, kind, url, language, enabled, paused, consecutive_failures,"
                         " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (sid, name, kind, f"https://example.org/{sid}", language, enabled, paused, failures,
                          "2026-01-01T00:00:00Z"))
        for uid, name, role in USERS:
            conn.execute("INSERT INTO users (id, name, password_hash, role, created_at) VALUES (?, ?, 'x', ?, ?)",
                         (uid, name, role, "2026-01-01T00:00:00Z"))
        for iid, sid, fetched, language, flags, status, model, title in ITEMS:
            conn.execute(
                "INSERT INTO items (id, source_id, guid, url, title, text, fetched_at, language, content_hash,"
                " score_misinformation, score_harm, model_version, status, flag_reasons)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (iid, sid, f"g{iid}", f"https://example.org/{sid}/{iid}", title, title, fetched, language,
                 f"h{iid}", 0.9 if "misinformation" in flags else 0.1, 0.8 if "harm" in flags else 0.05, model,
                 status, json.dumps(flags)))
        for cluster_id, members in CLUSTERS.items():
            first = min(fetched for iid, _, fetched, *_ in ITEMS if iid in members)
            conn.execute("INSERT INTO clusters (id, first_seen_at, last_seen_at, size) VALUES (?, ?, ?, ?)",
                         (cluster_id, first, first, len(members)))
            conn.execute(f"UPDATE items SET cluster_id = ? WHERE id IN ({','.join('?' * len(members))})",
                         (cluster_id, *members))
        for sid, started, status in CRAWL_RUNS:
            conn.execute("INSERT INTO crawl_runs (source_id, started_at, finished_at, status) VALUES (?, ?, ?, ?)",
                         (sid, started, started, status))
        for cluster_id, sid, seen in REPOSTS:
            conn.execute("INSERT INTO cluster_sources (cluster_id, source_id, first_seen_at) VALUES (?, ?, ?)",
                         (cluster_id, sid, seen))
        prev = GENESIS
        for item, user, action, old, new, created, note in DECISIONS:
            digest = row_hash(prev, item, user, action, old, new, note, created)
            conn.execute("INSERT INTO decisions (item_id, user_id, action, old_status, new_status, note, created_at,"
                         " prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (item, user, action, old, new, note, created, prev, digest))
            prev = digest
        add_signals(conn)


# The early-warning signals (issue 11; answers in tests/test_report_warning.py): Thanh Hóa (p:38) is the
# jurisdiction; phường Hạc Thành (c:14797) lies in it, Nghệ An (p:40) does not.
PLACES = [
    # item, about the jurisdiction, places (code, level, province)
    (1, 1, [("p:38", "province", "p:38")]),
    (4, 1, [("p:38", "province", "p:38"), ("c:14797", "commune", "p:38")]),
    (6, 1, [("c:14797", "commune", "p:38")]),
    (9, 0, [("p:40", "province", "p:40")]),
    (2, 1, [("p:38", "province", "p:38")]),
    (5, 1, [("p:38", "province", "p:38")]),
]
KNOWN_CLAIMS = [
    # id, text, verdict, url, created_at
    (1, "Vắc xin gây vô sinh", "Sai sự thật", "https://example.org/r/1", "2026-11-17T00:00:00Z"),
    (2, "Ngân hàng sắp đóng cửa", "false", None, "2026-11-09T00:00:00Z"),
    (3, "Bão số 10 sắp vào", "Gây hiểu lầm", "https://example.org/r/3", "2026-11-25T00:00:00Z"),
]
CLAIM_MATCHES = [(4, 1, "2026-11-18T05:00:00Z"), (9, 1, "2026-11-19T08:00:00Z"), (9, 2, "2026-11-19T08:00:00Z"),
                 (2, 2, "2026-11-15T16:59:00Z")]
SPIKES = [("lan-nhanh", "story_sources", "1", "2026-11-20T00:00:00Z"),
          ("tu-khoa", "rule_rate", "Kêu gọi", "2026-11-21T00:00:00Z"),
          ("lan-nhanh", "story_sources", "4", "2026-11-10T00:00:00Z")]


ALERTS = [
    # story, item, channel, status, created_at
    (1, 4, "email", "sent", "2026-11-18T05:00:10Z"), (1, 4, "telegram", "failed", "2026-11-18T05:00:10Z"),
    (3, 7, "email", "sent", "2026-11-21T23:00:10Z"), (4, 2, "email", "sent", "2026-11-15T16:59:10Z"),
]


def add_signals(conn) -> None:
    """The places, debunked-claim matches and spikes above (inside build_world's transaction)."""
    for item, about, places in PLACES:
        conn.execute("UPDATE items SET about_jurisdiction = ? WHERE id = ?", (about, item))
        conn.executemany("INSERT INTO item_places (item_id, code, level, province_code) VALUES (?, ?, ?, ?)",
                         [(item, *place) for place in places])
    conn.executemany("INSERT INTO known_claims (id, text, text_key, verdict, url, origin, created_at)"
                     " VALUES (?, ?, ?, ?, ?, 'import', ?)",
                     [(cid, text, text.lower(), verdict, url, created) for cid, text, verdict, url, created in KNOWN_CLAIMS])
    conn.executemany("INSERT INTO claim_matches (item_id, claim_id, similarity, matched_at) VALUES (?, ?, 0.8, ?)",
                     CLAIM_MATCHES)
    conn.executemany("INSERT INTO spikes (rule, kind, subject, window_start, fired_at, observed)"
                     " VALUES (?, ?, ?, ?, ?, 5)", [(rule, kind, subject, fired, fired) for rule, kind, subject, fired in SPIKES])
    conn.executemany("INSERT INTO alerts (story, item_id, events, channel, status, created_at, updated_at)"
                     " VALUES (?, ?, '[\"flagged_high\"]', ?, ?, ?, ?)",
                     [(story, item, channel, status, at, at) for story, item, channel, status, at in ALERTS])


@pytest.fixture()
def world(database_url):
    database = db.connect(database_url)
    build_world(database)
    yield database
    database.close()


@pytest.fixture()
def w47(world):
    return build_report(world, iso_week("2026-W47"))


def test_period_bounds_are_local_days_in_utc():
    week = iso_week("2026-W47")
    assert (week.first_day.isoformat(), week.last_day.isoformat()) == ("2026-11-16", "2026-11-22")
    assert (week.start_utc, week.end_utc) == ("2026-11-15T17:00:00Z", "2026-11-22T17:00:00Z")
    assert week.previous().label == "2026-W46"
    assert iso_week("2026-W01").previous().label == "2025-W52"
    q4 = quarter("2026-Q4")
    assert (q4.start_utc, q4.end_utc) == ("2026-09-30T17:00:00Z", "2026-12-31T17:00:00Z")
    assert q4.previous().label == "2026-Q3"
    assert quarter("2026-Q1").previous().label == "2025-Q4"
    span = custom("2026-11-01", "2026-11-10")
    assert span.previous().first_day.isoformat() == "2026-10-22"
    assert span.previous().last_day.isoformat() == "2026-10-31"


def test_bad_periods_are_clear_errors():
    from monitor.reports import PeriodError
    with pytest.raises(PeriodError, match="2026-W47"):
        iso_week("2026-47")
    with pytest.raises(PeriodError, match="no ISO week 54"):
        iso_week("2026-W54")
    with pytest.raises(PeriodError, match="before"):
        custom("2026-11-10", "2026-11-01")


@pytest.mark.parametrize("make, text", [
    (lambda: quarter("9999-Q4"), "9999-Q4"), (lambda: iso_week("0001-W01"), "0001-W01"),
    (lambda: iso_week("9999-W52"), "9999-W52"), (lambda: custom("0001-01-01", "2026-01-01"), "0001-01-01"),
    (lambda: custom("2026-01-01", "9999-12-31"), "9999-12-31"),
])
def test_periods_beyond_the_supported_years_are_clear_errors(make, text):
    """Near the years 1 and 9999 the period arithmetic overflowed (a 500 on /reports/, issue 15 item 11)."""
    from monitor.reports import PeriodError
    with pytest.raises(PeriodError, match=text):
        make().previous().start_utc  # noqa: B018 - what build_report computes first


def test_headline_figures_with_change(w47):
    summary = {row[0]: row[1:] for row in w47.table("summary").rows}
    assert summary["items_crawled"] == [6, 3, 3]  # items 1,3,4,6,7,9 vs 2,8,10
    assert summary["items_flagged"] == [5, 2, 3]
    assert summary["decisions"] == [7, 1, 6]
    assert summary["confirmed_misinformation"] == [2, 1, 1]
    assert summary["confirmed_harm"] == [1, 0, 1]
    assert summary["dismissed"] == [2, 0, 2]
    assert summary["escalated"] == [1, 0, 1]
    assert summary["reopened"] == [1, 0, 1]
    assert summary["backlog_open"] == [2, 1, 1]
    assert summary["precision_all_flags"] == [0.75, 1.0, -0.25]
    assert summary["hours_to_decision_median"] == [3.0, 4.0, -1.0]
    assert summary["hours_to_decision_p90"] == [24.0, 4.0, 20.0]
    assert w47.empty is False


def test_week_boundary_and_time_zone_edge(world):
    """16:59Z Sunday is W46, 17:00Z is Monday 00:00 local (W47), 17:30Z on the 22nd is Monday in W48."""
    w47 = build_report(world, iso_week("2026-W47"))
    ids = {row[0] for row in w47.items.rows}
    assert 3 in ids and 5 not in ids
    assert 2 in ids  # not crawled in W47 but decided in it
    w48 = build_report(world, iso_week("2026-W48"))
    assert w48.headline("items_crawled") == 1
    assert {row[0] for row in w48.items.rows} == {3, 5}  # 5 crawled; 3 decided (d9)
    assert w48.table("daily").rows[0] == ["2026-11-23", 1, 1]


def test_crawled_by_source_kind_language(w47):
    by_source = {row[0]: row[1:] for row in w47.table("crawled_by_source").rows}
    assert by_source["VnExpress"] == ["rss", "vi", 3, 2, 1]
    assert by_source["Báo Thanh Hóa"] == ["html", "vi", 2, 0, 2]
    assert by_source["Mastodon FR"] == ["mastodon", "fr", 1, 0, 1]
    assert by_source["Old English"] == ["rss", "en", 0, 1, -1]
    assert {row[0]: row[1:] for row in w47.table("crawled_by_kind").rows} == {
        "rss": [3, 3, 0], "html": [2, 0, 2], "mastodon": [1, 0, 1]}
    assert {row[0]: row[1:] for row in w47.table("crawled_by_language").rows} == {
        "vi": [5, 2, 3], "fr": [1, 0, 1], "en": [0, 1, -1]}


def test_daily_volumes_are_local_days(w47):
    assert w47.table("daily").rows == [
        ["2026-11-16", 2, 2], ["2026-11-17", 0, 0], ["2026-11-18", 1, 1], ["2026-11-19", 1, 1],
        ["2026-11-20", 1, 0], ["2026-11-21", 0, 0], ["2026-11-22", 1, 1]]


def test_flags_decisions_backlog(w47):
    flagged = {row[0]: row[1:] for row in w47.table("flagged_by_category").rows}
    assert flagged == {"misinformation": [4, 2, 2], "harm": [2, 0, 2]}
    decisions = {row[0]: row[1:] for row in w47.table("decisions").rows}
    assert decisions["confirmed_misinformation"] == [2, 1, 1]
    assert decisions["reopened"] == [1, 0, 1]
    # item 3 was decided only in W48, so it was still open at the end of W47; item 7 escalated.
    assert {row[0]: row[1:] for row in w47.table("backlog").rows} == {"flagged": [1, 1, 0], "escalated": [1, 0, 1]}


def test_precision_and_time_to_decision(w47):
    precision = {row[0]: row[1:] for row in w47.table("precision_by_category").rows}
    assert precision["all flags"] == [4, 3, 0.75, 1.0, -0.25]
    assert precision["misinformation"] == [4, 2, 0.5, 1.0, -0.5]  # item 4 was confirmed as harm, not mis
    assert precision["harm"] == [1, 1, 1.0, None, None]
    by_model = {row[0]: row[1:] for row in w47.table("precision_by_model").rows}
    assert by_model == {"m1": [2, 1, 0.5, 1.0, -0.5], "m2": [2, 2, 1.0, None, None]}
    ttd = {row[0]: row[1:] for row in w47.table("time_to_decision").rows}
    assert ttd["decided items"] == [5, 1, 4]  # first decisions: d2, d3, d4, d5, d8
    assert ttd["median"][0] == 3.0 and ttd["p90"][0] == 24.0


def test_moderator_throughput_is_admin_level(w47):
    table = w47.table("moderator_throughput")
    assert table.admin_only is True
    rows = table.as_dicts()
    assert [(r["moderator"], r["decisions"], r["previous"]) for r in rows] == [("lan", 4, 1), ("minh", 3, 0)]
    assert rows[0]["confirmed_misinformation"] == 2 and rows[1]["reopened"] == 1


def test_item_rows_one_per_decision(w47):
    rows = w47.items.as_dicts()
    assert len(rows) == 9  # items 1,2,3,4,6,7 once; item 9 three times (d5, d6, d7)
    nine = [r for r in rows if r["item_id"] == 9]
    assert [r["action"] for r in nine] == ["dismiss", "reopen", "confirm_misinformation"]
    assert nine[2]["decided_by"] == "lan" and nine[2]["decided_at_utc"] == "2026-11-20T06:00:00Z"
    assert nine[2]["decided_at_local"] == "2026-11-20 13:00"
    two = next(r for r in rows if r["item_id"] == 2)
    assert two["listed_because"] == "decided" and two["note"] == "satire" and two["new_status"] == "dismissed"
    three = next(r for r in rows if r["item_id"] == 3)
    assert three["decision_id"] is None and three["first_seen_local"] == "2026-11-16 00:00"


def test_empty_week_is_a_valid_report_saying_so(world):
    report = build_report(world, iso_week("2026-W30"))
    assert report.empty is True
    assert "Không thu thập tin nào" in report.notes[0]  # Vietnamese by default
    assert "No items" in build_report(world, iso_week("2026-W30"), lang="en").notes[0]
    assert report.headline("items_crawled") == 0
    assert report.items.rows == []
    assert report.headline("precision_all_flags") is None


def test_top_spreading_clusters(w47):
    table = w47.table("top_clusters")
    rows = table.as_dicts()
    assert [r["cluster_id"] for r in rows] == [1, 2, 3]  # cluster 4 had nothing in W47
    one = rows[0]
    assert (one["sources"], one["new_sources"], one["items"]) == (2, 1, 4)
    assert one["first_seen_local"] == "2026-11-09 07:00" and one["status"] == "confirmed"
    assert one["source_names"] == "Báo Thanh Hóa, VnExpress" and one["title"] == "Tin giả tuần trước"
    assert (rows[1]["sources"], rows[1]["new_sources"], rows[1]["status"]) == (2, 2, "dismissed")
    assert (rows[2]["sources"], rows[2]["items"], rows[2]["status"]) == (2, 1, "escalated")  # the repost counts
    assert rows[2]["source_names"] == "Báo Thanh Hóa, VnExpress"
    assert w47.headline("stories_multi_source") == 3 and w47.headline("stories_multi_source", "previous") == 1


def test_top_terms_in_confirmed_items(w47):
    rows = w47.table("top_terms").rows
    # confirmed in W47: items 1, 4, 9 (d3, d4, d7); in W46: item 10 ("Tin giả tuần trước").
    assert rows[:3] == [["tin giả", 3, 1, 2], ["vắc xin", 3, 0, 3], ["giả vắc", 2, 0, 2]]
    terms = {row[0] for row in rows}
    assert "tin" not in terms and "về" not in terms  # covered by a phrase; a stop word
    assert not any(ch.isdigit() for term in terms for ch in term)
    assert not any("example" in term or "tuyen" in term for term in terms)  # e-mail never a term


def test_most_flagged_sources(w47):
    assert w47.table("most_flagged_sources").rows == [
        ["VnExpress", 3, 3, 1.0, 2, 1], ["Báo Thanh Hóa", 2, 2, 1.0, 0, 2]]


def test_coverage_health(w47):
    rows = {r["source"]: r for r in w47.table("coverage_sources").as_dicts()}
    assert list(rows) == ["Mastodon FR", "Old English", "VnExpress"]
    assert rows["Mastodon FR"]["problems"] == "paused"
    old = rows["Old English"]
    assert old["problems"] == "gone dark, failing"
    assert (old["items"], old["previous"], old["error_runs"], old["runs"], old["consecutive_failures"]) == (0, 1, 2, 2, 4)
    assert old["last_item_local"] == "2026-11-10 10:00"
    assert rows["VnExpress"]["problems"] == "failing" and rows["VnExpress"]["error_runs"] == 1
    summary = {row[0]: row[1:] for row in w47.table("summary").rows}
    assert summary["sources_gone_dark"] == [1, 1, 0]
    assert summary["sources_paused"] == [1, None, None]
    assert summary["sources_failing"] == [2, 1, 1]
    assert w47.table("coverage_by_language").rows == [
        ["en", 1, 0, 0, 1, -1, "no items"], ["fr", 0, 0, 1, 0, 1, ""], ["vi", 2, 2, 5, 2, 3, ""]]
    assert summary["language_gaps"][0] == 1


def test_datasette_views_agree_with_the_report(tmp_db):
    """The shipped views give analysts the same weekly counts, in local ISO weeks (Datasette reads SQLite)."""
    build_world(tmp_db)
    w47 = build_report(tmp_db, iso_week("2026-W47"))
    conn = tmp_db.conn
    weeks = dict(conn.execute("SELECT item_id, local_week FROM report_items").fetchall())
    assert weeks[2] == "2026-W46" and weeks[3] == "2026-W47" and weeks[5] == "2026-W48"
    crawled = conn.execute("SELECT SUM(items), SUM(flagged) FROM report_weekly_crawled WHERE local_week = '2026-W47'")
    assert list(crawled.fetchone()) == [w47.headline("items_crawled"), w47.headline("items_flagged")]
    decided = conn.execute("SELECT SUM(decisions) FROM report_weekly_decisions WHERE local_week = '2026-W47'")
    assert decided.fetchone()[0] == w47.headline("decisions")
    assert conn.execute("SELECT hours_since_first_seen FROM report_decisions WHERE decision_id = 4").fetchone()[0] == 24.0
    clusters = {row[0]: row[1:] for row in conn.execute("SELECT cluster_id, items, sources FROM report_clusters")}
    assert clusters[1] == (4, 2)
    health = {row[0]: row[1] for row in conn.execute("SELECT source, last_item_at FROM report_source_health")}
    assert health["Old English"] == "2026-11-10T03:00:00Z"
    # The year boundary: Thursday rule puts 2027-01-01 (a Friday) in 2026-W53.
    assert conn.execute("SELECT strftime('%Y', date('2027-01-01', '-3 days', 'weekday 4'))").fetchone()[0] == "2026"


def test_zone_with_daylight_saving_uses_true_local_days(database_url):
    """Europe/Paris leaves summer time at 2026-10-25T01:00Z: both 00:30Z and 01:30Z are 02:30 local."""
    from monitor.reports.figures import fixed_offset
    database = db.connect(database_url)
    conn = database.conn
    conn.execute("INSERT INTO sources (id, name, kind, url, created_at) VALUES (1, 'RFI', 'rss', 'https://x.fr', 'x')")
    for iid, fetched in ((1, "2026-10-25T00:30:00Z"), (2, "2026-10-25T01:30:00Z"), (3, "2026-10-25T22:30:00Z"),
                         (4, "2026-10-25T23:30:00Z")):
        conn.execute("INSERT INTO items (id, source_id, guid, fetched_at, content_hash) VALUES (?, 1, ?, ?, ?)",
                     (iid, f"g{iid}", fetched, f"h{iid}"))
    period = custom("2026-10-24", "2026-10-26", zone="Europe/Paris")
    assert fixed_offset(period) is None and fixed_offset(iso_week("2026-W47")) == 7 * 3600
    report = build_report(database, period)
    assert [row[1] for row in report.items.rows] == ["2026-10-25 02:30", "2026-10-25 02:30", "2026-10-25 23:30",
                                                     "2026-10-26 00:30"]
    assert report.table("daily").rows == [["2026-10-24", 0, 0], ["2026-10-25", 3, 0], ["2026-10-26", 1, 0]]
    database.close()


def _figures(report) -> list[tuple]:
    """Every table's name, columns and rows, the item rows last, as repr: a count that came back as a
    Decimal or a 0/1 as a boolean differs here, where == would call them equal."""
    return [(table.name, table.columns, repr(table.rows)) for table in [*report.tables, report.items]]


@pytest.mark.parametrize("period", [
    iso_week("2026-W47"), iso_week("2026-W48"), quarter("2026-Q4"),
    custom("2026-10-20", "2026-11-30", zone="Europe/Paris"),  # summer time ends inside: the per-day CASE
], ids=["W47", "W48", "Q4", "dst"])
def test_the_report_is_the_same_on_both_backends(tmp_db, pg_url, period):
    """The same data on SQLite and on PostgreSQL gives the same report: every headline figure, table and
    row, with the same types (issue 14: every feature works on both)."""
    postgres = db.connect(pg_url)
    try:
        build_world(tmp_db)
        build_world(postgres)
        on_sqlite, on_postgres = build_report(tmp_db, period), build_report(postgres, period)
    finally:
        postgres.close()
    assert not on_sqlite.empty and on_sqlite.table("summary").rows
    assert _figures(on_postgres) == _figures(on_sqlite)
    assert dataclasses.replace(on_postgres, generated_at="") == dataclasses.replace(on_sqlite, generated_at="")


@pytest.mark.parametrize("text, expected", [
    ("gọi 0912 345 678 ngay", "gọi [phone] ngay"),
    ("+84 912.345.678", "[phone]"),
    ("hotline 0987654321.", "hotline [phone]."),
    ("CCCD 001203004567, CMND 123456789", "CCCD [id], CMND [id]"),
    ("thư cho nguyen.van.a+tin@mail.example.vn nhé", "thư cho [email] nhé"),
    ("năm 2026, 15 người, mã 12345", "năm 2026, 15 người, mã 12345"),
])
def test_redaction_patterns(text, expected):
    from monitor.reports.redact import redact_text
    assert redact_text(text) == expected
