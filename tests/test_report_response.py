"""The report's Response section (follow-ups), idle sources only while they existed, and the week /reports/
opens on — all on test_report_build's hand-built world, with answers computed by hand.

Follow-ups added to that world (W47 = [2026-11-15T17:00Z, 2026-11-22T17:00Z), W46 the week before;
items first seen: 1 at 11-16T02:00Z, 4 at 11-18T05:00Z, 9 at 11-19T08:00Z, 10 at 11-09T00:00Z):

id item kind        agency/due         created (UTC)   week  outcomes recorded (UTC)
f1  10  rebuttal    due 11-23          11-10T00:00     W46   —                          (first for 10: 24 h)
f2  10  takedown    due 11-14          11-12T00:00     W46   removed 11-13
f3   1  takedown    due 11-20          11-16T06:00     W47   removed 11-18               (first for 1: 4 h)
f4   1  rebuttal    —                  11-16T08:00     W47   —
f5   4  takedown    due 11-21          11-18T15:00     W47   still_online 11-20, removed 11-25 (first for 4: 10 h)
f6   4  referral    police, due 11-22  11-19T00:00     W47   —
f7   9  referral    "Ban Tuyên giáo",  11-21T08:00     W47   —                          (first for 9: 48 h)
                    due 11-21
f8   9  takedown    due 11-30          11-22T10:00     W47   no_response 11-29
f9   1  contacted   —                  11-24T00:00     W48   —
f10 10  referral    culture_information 11-14T00:00    W46   corrected 11-14T12:00

W47: rebuttals 1, takedowns 3, referrals 2 (police 1, "Ban Tuyên giáo" 1), contacted 0, all 6;
     takedown outcomes at the week's end: removed 1 (f3), still_online 1 (f5: removed only later), pending 1 (f8);
     first actions 4, 10, 48 h: median 10, p90 48; open at the end: f1, f4, f6, f7, f8 = 5; overdue (due before
     Mon 11-23, the day the week ends): f6, f7 = 2.
W46: rebuttals 1, takedowns 1, referrals 1 (culture_information), all 3; removed 1 (f2); first actions 24 h;
     open at its end: f1 = 1 (due 11-23: not overdue) → overdue 0.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

import db
import db.users
from monitor.reports import build_report, iso_week, render
from monitor.reports.display import wording
from monitor.reports.period import current_week, latest_week_with_data, week_of
from monitor.reports.response import response_section
from tests import helpers
from tests.test_report_build import build_world

FOLLOWUPS = [
    # id, item, kind, agency, due_on, created_at, outcomes [(outcome, at)]
    (1, 10, "rebuttal_published", None, "2026-11-23", "2026-11-10T00:00:00Z", []),
    (2, 10, "takedown_requested", None, "2026-11-14", "2026-11-12T00:00:00Z", [("removed", "2026-11-13T00:00:00Z")]),
    (3, 1, "takedown_requested", None, "2026-11-20", "2026-11-16T06:00:00Z", [("removed", "2026-11-18T00:00:00Z")]),
    (4, 1, "rebuttal_published", None, None, "2026-11-16T08:00:00Z", []),
    (5, 4, "takedown_requested", None, "2026-11-21", "2026-11-18T15:00:00Z",
     [("still_online", "2026-11-20T00:00:00Z"), ("removed", "2026-11-25T00:00:00Z")]),
    (6, 4, "referred_to_agency", "police", "2026-11-22", "2026-11-19T00:00:00Z", []),
    (7, 9, "referred_to_agency", "Ban Tuyên giáo", "2026-11-21", "2026-11-21T08:00:00Z", []),
    (8, 9, "takedown_requested", None, "2026-11-30", "2026-11-22T10:00:00Z", [("no_response", "2026-11-29T00:00:00Z")]),
    (9, 1, "poster_contacted", None, None, "2026-11-24T00:00:00Z", []),
    (10, 10, "referred_to_agency", "culture_information", None, "2026-11-14T00:00:00Z",
     [("corrected", "2026-11-14T12:00:00Z")]),
]


def add_followups(database) -> None:
    """The follow-ups above, as the workplace stores them: the row with its latest outcome, and a log entry
    for its creation and each outcome (hashes are not what the report reads)."""
    conn = database.conn
    log_id = 0
    with db.transaction(database):
        for fid, item, kind, agency, due_on, created, outcomes in FOLLOWUPS:
            last = outcomes[-1] if outcomes else ("pending", None)
            conn.execute(
                "INSERT INTO followups (id, item_id, kind, link, platform, agency, due_on, outcome, user_id, user_name,"
                " created_at, outcome_user_id, outcome_user_name, outcome_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 'lan',"
                " ?, ?, ?, ?)",
                (fid, item, kind, "https://example.org/r" if kind == "rebuttal_published" else None,
                 "facebook" if kind == "takedown_requested" else None, agency, due_on, last[0], created,
                 1 if last[1] else None, "lan" if last[1] else None, last[1]))
            entries = [("created", json.dumps({"kind": kind}), created)]
            entries += [("outcome", json.dumps({"outcome": outcome, "outcome_at": at}), at) for outcome, at in outcomes]
            for event, payload, at in entries:
                log_id += 1
                conn.execute("INSERT INTO followup_log (id, followup_id, event, payload, user_id, created_at, prev_hash,"
                             " row_hash) VALUES (?, ?, ?, ?, 1, ?, 'x', 'x')", (log_id, fid, event, payload, at))


@pytest.fixture()
def world(any_db):
    """The hand-built world with its follow-ups on this run's backend: every case runs on both."""
    build_world(any_db)
    add_followups(any_db)
    return any_db


@pytest.fixture()
def w47(world):
    return build_report(world, iso_week("2026-W47"), lang="en")


def _rows(report, name):
    return {row[0]: row[1:] for row in report.table(name).rows}


def test_followups_by_kind_with_previous_and_change(w47):
    assert _rows(w47, "response_actions") == {
        "rebuttal_published": [1, 1, 0], "takedown_requested": [3, 1, 2], "referred_to_agency": [2, 1, 1],
        "poster_contacted": [0, 0, 0], "followups_total": [6, 3, 3]}


def test_takedown_outcomes_are_those_recorded_by_the_end_of_the_period(w47):
    """f5 was still online at the end of W47 and removed only on 11-25; f8's 'no response' came on 11-29."""
    assert w47.table("takedown_outcomes").rows == [
        ["removed", 1, 1, 0], ["still_online", 1, 0, 1], ["corrected", 0, 0, 0], ["no_response", 0, 0, 0],
        ["pending", 1, 0, 1]]


def test_the_previous_column_is_what_the_previous_weeks_report_said(world):
    """W48's previous column is W47 as of W47's end (f5 still online, f8 pending), as W47's own report says.
    W48 itself records f9 only; open at its end (Mon 11-30 local): f1, f4, f6, f7, f9 (f5 removed 11-25, f8 'no
    response' 11-29), of which f1 (due 11-23), f6 and f7 are overdue."""
    w47 = build_report(world, iso_week("2026-W47"), lang="en")
    w48 = build_report(world, iso_week("2026-W48"), lang="en")
    assert [row[2] for row in w48.table("takedown_outcomes").rows] == [row[1] for row in
                                                                       w47.table("takedown_outcomes").rows]
    assert _rows(w48, "response_actions")["poster_contacted"] == [1, 0, 1]
    assert _rows(w48, "followups_open") == {"followups_open": [5, 5, 0], "followups_overdue": [3, 2, 1]}


def test_referrals_by_agency_list_a_named_agency_under_its_name(w47):
    assert w47.table("referrals_by_agency").rows == [
        ["police", 1, 0, 1], ["culture_information", 0, 1, -1], ["Ban Tuyên giáo", 1, 0, 1]]


def test_time_from_first_seen_to_first_followup(w47):
    assert _rows(w47, "time_to_action") == {
        "items_acted_on": [3, 1, 2], "median": [10.0, 24.0, -14.0], "p90": [48.0, 24.0, 24.0]}


def test_open_and_overdue_followups_at_the_end_of_the_period(w47):
    assert _rows(w47, "followups_open") == {"followups_open": [5, 1, 4], "followups_overdue": [2, 0, 2]}


def test_response_figures_are_headline_rows(w47):
    summary = _rows(w47, "summary")
    assert summary["rebuttals_published"] == [1, 1, 0]
    assert summary["takedown_requests"] == [3, 1, 2]
    assert summary["takedowns_removed"] == [1, 1, 0]
    assert summary["referrals"] == [2, 1, 1]
    assert summary["hours_to_first_action_median"] == [10.0, 24.0, -14.0]
    assert summary["hours_to_first_action_p90"] == [48.0, 24.0, 24.0]
    assert summary["followups_open"] == [5, 1, 4]
    assert summary["followups_overdue"] == [2, 0, 2]


def test_a_period_not_over_yet_counts_open_followups_now(world):
    """On Fri 2026-11-20 13:00 local, W47 so far: f5's 'still online' (11-20T00:00Z) is known, f7 to f9 not
    recorded yet; open are f1, f4, f6 (none overdue on the 20th)."""
    world.conn.execute("DELETE FROM followups WHERE id >= 7")  # not recorded yet on the 20th
    with db.reports.read_snapshot(world.conn):
        tables, headlines = response_section(world.conn, iso_week("2026-W47"), wording("en"), "2026-11-20T06:00:00Z")
    figures = {name: (value, before) for name, value, before in headlines}
    assert figures["followups_open"] == (3, 1) and figures["followups_overdue"] == (0, 0)
    assert figures["takedown_requests"] == (2, 1)  # f3, f5; f8 comes on the 22nd
    outcomes = {row[0]: row[1] for row in next(t for t in tables if t.name == "takedown_outcomes").rows}
    assert outcomes["removed"] == 1 and outcomes["still_online"] == 1


def test_titles_are_in_the_reports_language(world):
    english = build_report(world, iso_week("2026-W47"), lang="en").table("response_actions")
    vietnamese = build_report(world, iso_week("2026-W47")).table("response_actions")  # the default
    assert english.title == "Follow-up actions recorded, by kind"
    assert vietnamese.title == "Việc xử lý tiếp đã ghi, theo loại"
    assert vietnamese.rows == english.rows  # keys and numbers: the renderers word them
    for key in ("followups_open", "takedown_requests", "items_acted_on", "agency", "followups_total"):
        assert wording("vi").label(key) != key and wording("en").label(key) != key, key


def test_no_followups_is_zeros_and_no_times(any_db):
    build_world(any_db)
    report = build_report(any_db, iso_week("2026-W47"))
    assert _rows(report, "response_actions")["followups_total"] == [0, 0, 0]
    assert _rows(report, "time_to_action")["median"] == [None, None, None]
    assert report.headline("followups_open") == 0


def test_the_response_section_is_in_every_format(w47):
    """The figures themselves are compared across formats by test_report_formats' same-figures test."""
    import openpyxl
    from pypdf import PdfReader

    from monitor.reports.xlsx import sheet_title

    html = render(w47, "html").decode("utf-8")
    assert "What did we do about it?" in html and 'data-table="takedown_outcomes"' in html
    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(render(w47, "pdf"))).pages)
    assert "What did we do about it?" in pdf_text and "Takedown requests, by outcome" in pdf_text
    sheets = openpyxl.load_workbook(io.BytesIO(render(w47, "xlsx"))).sheetnames
    for name in ("response_actions", "takedown_outcomes", "referrals_by_agency", "time_to_action", "followups_open"):
        assert sheet_title(w47.table(name), wording("en")) in sheets
        assert name in json.loads(render(w47, "json"))["tables"]


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


def test_a_report_on_the_week_so_far_says_so(tmp_db):
    build_world(tmp_db)
    this_week = current_week()
    report = build_report(tmp_db, this_week, lang="en")
    assert f"{wording('en').period(this_week)} is not over yet: the figures are those so far." in report.notes
    assert build_report(tmp_db, iso_week("2026-W47")).notes == []


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
    assert "chưa kết thúc" in html  # "… is not over yet", in the user's language (Vietnamese by default)
