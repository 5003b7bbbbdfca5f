"""Idle ("gone dark") sources are counted only for periods in which they existed and were enabled, and
/reports/ opens on the most recent week with data (issue 13 item 4), on test_report_build's hand-built world.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from test_report_build import build_world

import db
import db.users
from monitor.reports import build_report, iso_week
from monitor.reports.period import current_week, latest_week_with_data, week_of
from tests import helpers

# ---- idle ("gone dark") sources: only while they existed and were enabled ----

def _add_source(database, source_id: int, name: str, created: str, language: str = "km") -> None:
    database.conn.execute("INSERT INTO sources (id, name, kind, url, language, created_at) VALUES (?, ?, 'rss', ?, ?, ?)",
                          (source_id, name, f"https://example.org/{source_id}", language, created))


def test_a_source_added_after_the_period_is_not_idle_in_it(tmp_db):
    build_world(tmp_db)
    _add_source(tmp_db, 5, "Nguồn mới", "2026-11-25T03:00:00Z")  # in W48
    w47 = build_report(tmp_db, iso_week("2026-W47"))
    assert "Nguồn mới" not in {row[0] for row in w47.table("coverage_sources").rows}
    assert "Nguồn mới" not in {row[0] for row in w47.table("crawled_by_source").rows}
    assert "km" not in {row[0] for row in w47.table("coverage_by_language").rows}
    assert w47.table("summary").lookup("sources_gone_dark", "value") == 1  # Old English only, as before
    w48 = build_report(tmp_db, iso_week("2026-W48"))
    new = {row["source"]: row for row in w48.table("coverage_sources").as_dicts()}["Nguồn mới"]
    assert new["problems"] == "gone dark"  # it existed in W48 and brought nothing
    assert ["km", 1, 0, 0, 0, 0, "no items"] in w48.table("coverage_by_language").rows


def test_a_source_counts_for_the_weeks_it_was_enabled(tmp_db):
    """Disabled before W47: not listed in it; enabled in W47 and disabled since: listed in W47 (a report
    for an old week does not change when feeds.yaml changes later)."""
    build_world(tmp_db)
    _add_source(tmp_db, 5, "Đã gỡ", "2026-10-01T00:00:00Z")
    _add_source(tmp_db, 6, "Gỡ sau", "2026-10-01T00:00:00Z")
    conn = tmp_db.conn
    conn.execute("UPDATE sources SET enabled = 0 WHERE id IN (5, 6)")
    conn.execute("UPDATE source_enabled_log SET changed_at = '2026-11-01T00:00:00Z' WHERE source_id = 5 AND enabled = 0")
    conn.execute("UPDATE source_enabled_log SET changed_at = '2026-11-24T00:00:00Z' WHERE source_id = 6 AND enabled = 0")
    w47 = build_report(tmp_db, iso_week("2026-W47"))
    listed = {row["source"]: row["problems"] for row in w47.table("coverage_sources").as_dicts()}
    assert "Đã gỡ" not in listed and listed["Gỡ sau"] == "gone dark"
    assert w47.table("summary").lookup("sources_gone_dark", "value") == 2  # Old English, Gỡ sau
    assert "Gỡ sau" not in {row[0] for row in build_report(tmp_db, iso_week("2026-W49")).table("coverage_sources").rows}


def test_enabling_and_disabling_a_source_is_logged_by_every_writer(tmp_db):
    from db.sources import ensure_source, sync_sources

    class Source:
        kind, url, language, interval_seconds, tags = "rss", "https://example.org/a", "vi", 3600, []

        def __init__(self, name, enabled=True):
            self.name, self.enabled = name, enabled

    ids = sync_sources(tmp_db, [Source("A")])
    sync_sources(tmp_db, [Source("A")])  # unchanged: no entry
    sync_sources(tmp_db, [])  # removed from feeds.yaml: disabled
    sync_sources(tmp_db, [Source("A")])  # back
    intake = ensure_source(tmp_db, "web reports", "manual", "https://example.org/manual")
    log = tmp_db.conn.execute("SELECT source_id, enabled FROM source_enabled_log ORDER BY id").fetchall()
    assert log == [(ids["A"], 1), (ids["A"], 0), (ids["A"], 1), (intake, 0)]


def test_the_migration_backfills_from_the_oldest_of_creation_first_item_and_first_run(tmp_db):
    """Existing sources get their current state since they were first known (items may predate the row)."""
    build_world(tmp_db)
    conn = tmp_db.conn
    conn.execute("UPDATE sources SET created_at = '2026-11-20T00:00:00Z'")  # after their first items and runs
    conn.executescript("DROP TRIGGER source_enabled_log_insert; DROP TRIGGER source_enabled_log_update;"
                       " DROP TABLE source_enabled_log; DELETE FROM schema_version WHERE version = 65;")
    assert "065_source_enabled_log.sql" in db.migrate(tmp_db)
    since = dict(conn.execute("SELECT source_id, changed_at FROM source_enabled_log").fetchall())
    assert since == {1: "2026-11-09T00:00:00Z", 2: "2026-11-18T05:00:00Z", 3: "2026-11-20T00:00:00Z",
                     4: "2026-11-10T03:00:00Z"}  # item 10; item 4; created (item 6 came later); item 8 (runs 11-12)
    assert {row[0] for row in build_report(tmp_db, iso_week("2026-W46")).table("crawled_by_source").rows} == {
        "VnExpress", "Old English"}  # Báo Thanh Hóa (first item 11-18) and Mastodon FR were not there yet


# ---- the week /reports/ opens on ----

def test_the_default_week_is_the_latest_with_data_else_this_week(tmp_db, tmp_path):
    build_world(tmp_db)  # items from 11-09T00:00Z (W46) to 11-22T17:30Z (W48), the last decision 11-23T02:00Z (W48)
    conn = tmp_db.conn
    wednesday_w49 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    assert latest_week_with_data(conn, wednesday_w49).label == "2026-W48"  # the previous week has data
    assert latest_week_with_data(conn, datetime(2026, 12, 23, 3, 0, tzinfo=UTC)).label == "2026-W48"  # 3 weeks on
    # Data only in this week (W46, on Tue 11-10): this week so far; and so with no data at all.
    assert latest_week_with_data(conn, datetime(2026, 11, 10, 3, 0, tzinfo=UTC)).label == "2026-W46"
    empty = db.connect(tmp_path / "empty.db")
    assert latest_week_with_data(empty.conn, wednesday_w49).label == "2026-W49"
    empty.conn.close()


PASSWORD = "correct horse battery"


def _app_with_data_days_ago(tmp_path, days: int | None):
    """A database with an analyst and, unless `days` is None, one source and one item first seen `days` ago."""
    path = tmp_path / "web.db"
    database = db.connect(path)
    db.users.add_user(database, "ana", PASSWORD, "analyst")
    if days is not None:
        seen = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        created = (datetime.now(UTC) - timedelta(days=days + 30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        _add_source(database, 1, "Báo cũ", created, "vi")
        _add_source(database, 2, "Nguồn hôm qua", (datetime.now(UTC) - timedelta(days=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"), "vi")
        database.conn.execute("INSERT INTO items (id, source_id, guid, title, fetched_at, content_hash, language)"
                              " VALUES (1, 1, 'g1', 'Tin cũ', ?, 'h1', 'vi')", (seen,))
    database.conn.close()
    client = helpers.make_app(path).test_client()
    helpers.login(client, "ana", PASSWORD)
    return client


def test_reports_page_opens_on_the_week_of_data_three_weeks_old(tmp_path):
    """Issue 13 item 4: /reports/ opened on the previous week, empty, listing sources that did not exist yet."""
    from zoneinfo import ZoneInfo

    client = _app_with_data_days_ago(tmp_path, 21)
    local_day = (datetime.now(UTC) - timedelta(days=21)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    week = week_of(local_day).label
    html = client.get("/reports/").get_data(as_text=True)
    assert f'data-period="{week}"' in html and f'value="{week}" selected' in html
    assert f"week={week}" in html  # the download links are that week's
    assert "Nguồn hôm qua" not in html  # added yesterday: not idle three weeks ago
    download = json.loads(client.get("/reports/download?format=json").data)
    assert download["meta"]["period"] == week and download["tables"]["summary"]["rows"][0]["value"] == 1


def test_reports_page_on_a_fresh_installation_opens_on_this_week_so_far(tmp_path):
    client = _app_with_data_days_ago(tmp_path, None)
    this_week = current_week().label  # in the service's zone, Asia/Ho_Chi_Minh, as the analyst's
    html = client.get("/reports/").get_data(as_text=True)
    assert f'data-period="{this_week}"' in html and f'value="{this_week}" selected' in html
