"""Follow-up actions (case tracking) and story comments, issue 12 items 4 and 6: the rules, the signed log
that `monitor audit verify` checks, the pages, the inbox mentions and the API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import db
import db.checkpoints
import db.comments
import db.decisions
import db.followups
import db.keys
from db.followups import FollowUpError
from tests import helpers

ROOT = Path(__file__).resolve().parents[1]


def _confirm(database, ids, key="high", user="mod") -> int:
    item_id = ids["items"][key]
    db.decisions.decide(database, item_id=item_id, user_id=ids["users"][user], action="confirm_misinformation",
                        new_status="confirmed", note="", expected_version=1)
    return item_id


@pytest.fixture()
def confirmed(world):
    path, ids = world
    database = db.connect(path)
    item_id = _confirm(database, ids)
    return path, ids, database, item_id


@pytest.fixture()
def any_confirmed(any_world, any_db):
    """`confirmed` on this run's backend (SQLite, then PostgreSQL): the rules, the open list, the period summary,
    the signed log's verification and mentions run on both; the pages, the CLI and the checkpoint file on SQLite."""
    where, ids = any_world
    return where, ids, any_db, _confirm(any_db, ids)


def _add(database, ids, item_id, kind="takedown_requested", user="mod", **values) -> int:
    values = {"platform": "facebook", **values}
    return db.followups.add(database, item_id=item_id, user_id=ids["users"][user], kind=kind, values=values)


# --- rules ----------------------------------------------------------------------------------------

def test_a_followup_starts_pending_and_records_its_outcome_with_who_and_when(any_confirmed):
    path, ids, database, item_id = any_confirmed
    followup_id = _add(database, ids, item_id, due_on="2026-12-20")
    row = db.followups.get(database, followup_id)
    assert (row["kind"], row["platform"], row["outcome"], row["user_name"], row["due_on"]) == (
        "takedown_requested", "facebook", "pending", "mod", "2026-12-20")
    assert db.followups.record_outcome(database, followup_id=followup_id, user_id=ids["users"]["mod2"],
                                       outcome="removed")
    row = db.followups.get(database, followup_id)
    assert (row["outcome"], row["outcome_user_name"]) == ("removed", "mod2") and row["outcome_at"]
    assert not db.followups.record_outcome(database, followup_id=999, user_id=ids["users"]["mod"], outcome="removed")


@pytest.mark.parametrize(("kind", "values", "why"), [
    ("rebuttal_published", {}, "link"),
    ("takedown_requested", {"platform": ""}, "platform"),
    ("referred_to_agency", {"agency": "nobody"}, "agency"),
    ("referred_to_agency", {"agency": "other", "agency_other": " "}, "agency"),
    ("sent_flowers", {}, "kind"),
    ("poster_contacted", {"due_on": "tomorrow"}, "date"),
])
def test_a_followup_missing_what_its_kind_needs_is_refused(any_confirmed, kind, values, why):
    _, ids, database, item_id = any_confirmed
    with pytest.raises(FollowUpError, match=why):
        db.followups.add(database, item_id=item_id, user_id=ids["users"]["mod"], kind=kind, values=values)
    assert database.conn.execute("SELECT COUNT(*) FROM followups").fetchone()[0] == 0


def test_followups_only_on_confirmed_items_and_known_outcomes(any_confirmed):
    _, ids, database, item_id = any_confirmed
    with pytest.raises(FollowUpError, match="confirmed"):
        _add(database, ids, ids["items"]["mid"])
    followup_id = _add(database, ids, item_id)
    with pytest.raises(FollowUpError):
        db.followups.record_outcome(database, followup_id=followup_id, user_id=ids["users"]["mod"], outcome="won")


def test_referral_to_a_named_agency_keeps_the_free_text(any_confirmed):
    _, ids, database, item_id = any_confirmed
    police = db.followups.add(database, item_id=item_id, user_id=ids["users"]["mod"], kind="referred_to_agency",
                              values={"agency": "police"})
    other = db.followups.add(database, item_id=item_id, user_id=ids["users"]["mod"], kind="referred_to_agency",
                             values={"agency": "other", "agency_other": "Ban Tuyên giáo"})
    assert db.followups.get(database, police)["agency"] == "police"
    assert db.followups.get(database, other)["agency"] == "Ban Tuyên giáo"


def test_open_list_puts_overdue_first_and_counts_the_users_own_overdue(any_confirmed):
    _, ids, database, item_id = any_confirmed
    later = _add(database, ids, item_id, due_on="2026-12-30")
    late = _add(database, ids, item_id, due_on="2026-12-01")
    others = _add(database, ids, item_id, user="mod2", due_on="2026-11-01")
    done = _add(database, ids, item_id, due_on="2026-11-01")
    db.followups.record_outcome(database, followup_id=done, user_id=ids["users"]["mod"], outcome="corrected")
    rows = db.followups.open_list(database, "2026-12-02")
    assert [r["id"] for r in rows] == [others, late, later]
    assert [bool(r["overdue"]) for r in rows] == [True, True, False]
    assert db.followups.overdue_count(database, ids["users"]["mod"], "2026-12-02") == 1
    assert db.followups.overdue_count(database, ids["users"]["mod"], "2026-12-01") == 0  # due today is not late


def test_period_summary_counts_by_kind_and_outcome_with_time_to_outcome(any_confirmed):
    _, ids, database, item_id = any_confirmed
    a = _add(database, ids, item_id)
    _add(database, ids, item_id)
    _add(database, ids, item_id, kind="poster_contacted")
    db.followups.record_outcome(database, followup_id=a, user_id=ids["users"]["mod"], outcome="removed")
    database.conn.execute("UPDATE followups SET created_at = '2026-12-01T00:00:00Z',"
                          " outcome_at = '2026-12-01T06:00:00Z' WHERE id = ?", (a,))
    rows = db.followups.period_summary(database, "2026-11-01T00:00:00Z", "2100-01-01T00:00:00Z")
    by = {(r["kind"], r["outcome"]): r for r in rows}
    assert by[("takedown_requested", "removed")]["count"] == 1
    assert by[("takedown_requested", "removed")]["mean_hours_to_outcome"] == 6.0
    assert by[("takedown_requested", "pending")]["count"] == 1
    assert by[("takedown_requested", "pending")]["with_outcome"] == 0
    assert by[("poster_contacted", "pending")]["count"] == 1
    assert db.followups.period_summary(database, "2000-01-01T00:00:00Z", "2000-02-01T00:00:00Z") == []


# --- the signed log -------------------------------------------------------------------------------

def test_followups_are_signed_and_verify_clean(any_confirmed):
    _, ids, database, item_id = any_confirmed
    followup_id = _add(database, ids, item_id)
    db.followups.record_outcome(database, followup_id=followup_id, user_id=ids["users"]["mod"], outcome="removed")
    assert database.conn.execute("SELECT COUNT(*) FROM followup_log").fetchone()[0] == 2
    assert db.decisions.verify(database).problems == []


@pytest.mark.parametrize(("tamper", "expected"), [
    ("UPDATE followups SET outcome = 'removed' WHERE id = 1", "follow-up 1 differs from its signed log (outcome)"),
    ("UPDATE followups SET platform = 'zalo' WHERE id = 1", "follow-up 1 differs from its signed log (platform)"),
    ("UPDATE followups SET item_id = 2 WHERE id = 1", "follow-up 1 differs from its signed log (item_id)"),
    ("INSERT INTO followups (item_id, kind, user_id, user_name, created_at) VALUES (1, 'poster_contacted', 1, 'mod',"
     " '2026-12-01T00:00:00Z')", "has no signed entry"),
    ("DELETE FROM followups WHERE id = 1", "follow-up 1 is in the signed log but not in the table"),
])
def test_verify_reports_a_tampered_followup_row(any_confirmed, tamper, expected):
    _, ids, database, item_id = any_confirmed
    _add(database, ids, item_id)
    database.conn.execute(tamper)
    database.conn.commit()
    problems = db.decisions.verify(database).problems
    assert any(expected in p for p in problems), problems


def test_verify_reports_an_edited_or_deleted_log_entry(confirmed):
    _, ids, database, item_id = confirmed
    followup_id = _add(database, ids, item_id)
    db.followups.record_outcome(database, followup_id=followup_id, user_id=ids["users"]["mod"], outcome="removed")
    with pytest.raises(Exception, match="append-only"):
        database.conn.execute("DELETE FROM followup_log WHERE id = 2")
    database.conn.execute("DROP TRIGGER followup_log_no_update")
    database.conn.execute("UPDATE followup_log SET payload = replace(payload, 'removed', 'corrected') WHERE id = 2")
    database.conn.execute("UPDATE followups SET outcome = 'corrected' WHERE id = ?", (followup_id,))
    database.conn.commit()
    problems = db.decisions.verify(database).problems
    assert any("follow-up log entry 2" in p and "does not match its hash" in p for p in problems), problems
    database.conn.execute("DROP TRIGGER followup_log_no_delete")
    database.conn.execute("DELETE FROM followup_log WHERE id = 2")
    database.conn.commit()
    problems = db.decisions.verify(database).problems
    assert any("recorded head" in p for p in problems), problems


def test_monitor_audit_verify_command_reports_a_tampered_followup(confirmed):
    path, ids, database, item_id = confirmed
    _add(database, ids, item_id)
    database.conn.close()
    command = [sys.executable, "-m", "monitor.cli", "--db", str(path), "audit", "verify"]
    ok = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    database = db.connect(path)
    database.conn.execute("UPDATE followups SET outcome = 'removed'")
    database.conn.commit()
    database.conn.close()
    broken = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert broken.returncode == 1
    assert "follow-up 1 differs from its signed log" in broken.stdout + broken.stderr


# --- anchored by the signed checkpoints -------------------------------------------------------------

def _checkpoint_lines(path) -> list[dict]:
    return [json.loads(line) for line in Path(str(path) + db.checkpoints.SUFFIX).read_text().splitlines()]


def _truncate_to_first_entry(database) -> None:
    """What someone who can write the database does to take back an outcome: delete the newest log
    entry, move the recorded head back to the one before, and put the row back as that entry says."""
    conn = database.conn
    conn.execute("DROP TRIGGER followup_log_no_delete")
    conn.execute("DELETE FROM followup_log WHERE id = 2")
    first_hash = conn.execute("SELECT row_hash FROM followup_log WHERE id = 1").fetchone()[0]
    conn.execute("UPDATE service_state SET value = ? WHERE key = ?", (f"1:{first_hash}", db.followups.HEAD_KEY))
    conn.execute("UPDATE followups SET outcome = 'pending', outcome_user_id = NULL, outcome_user_name = NULL,"
                 " outcome_at = NULL WHERE id = 1")
    conn.commit()


def test_adding_a_followup_or_outcome_writes_a_checkpoint_signing_its_log(confirmed):
    path, ids, database, item_id = confirmed
    before = len(_checkpoint_lines(path))
    followup_id = _add(database, ids, item_id)
    db.followups.record_outcome(database, followup_id=followup_id, user_id=ids["users"]["mod"], outcome="removed")
    lines = _checkpoint_lines(path)
    assert len(lines) == before + 2
    head = database.conn.execute("SELECT row_hash FROM followup_log WHERE id = 2").fetchone()[0]
    assert (lines[-1]["fn"], lines[-1]["fhead"]) == (2, head)
    assert db.decisions.checkpoint(database).fn == 2  # `monitor audit checkpoint` and hourly sign it too
    assert db.decisions.verify(database).problems == []


def test_followup_entries_deleted_from_the_end_with_the_head_moved_back_are_reported(confirmed):
    path, ids, database, item_id = confirmed
    followup_id = _add(database, ids, item_id)
    db.followups.record_outcome(database, followup_id=followup_id, user_id=ids["users"]["mod"], outcome="removed")
    _truncate_to_first_entry(database)
    problems = db.decisions.verify(database).problems
    assert len(problems) == 1, problems  # the chain and the rows agree with each other: only the checkpoint tells
    assert "the follow-up log ends at entry 1: entries 2–2 were deleted" in problems[0]
    database.conn.execute("DELETE FROM followup_log")
    database.conn.execute("DELETE FROM service_state WHERE key = ?", (db.followups.HEAD_KEY,))
    database.conn.execute("DELETE FROM followups")
    database.conn.commit()
    problems = db.decisions.verify(database).problems
    assert any("the follow-up log is empty: it was wiped" in p for p in problems), problems
    database.conn.close()
    broken = subprocess.run([sys.executable, "-m", "monitor.cli", "--db", str(path), "audit", "verify"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert broken.returncode == 1
    assert "the follow-up log is empty: it was wiped" in broken.stdout + broken.stderr


def test_a_different_entry_at_a_signed_length_is_reported(confirmed):
    _, ids, database, item_id = confirmed
    _add(database, ids, item_id)
    database.conn.execute("DROP TRIGGER followup_log_no_update")
    database.conn.execute("UPDATE followup_log SET row_hash = ? WHERE id = 1", ("ab" * 32,))
    database.conn.commit()
    problems = db.decisions.verify(database).problems
    assert any("follow-up log entry 1 is not the one the checkpoint of" in p for p in problems), problems
    with pytest.raises(db.decisions.DecisionError, match="follow-up log's last entry"):
        db.decisions.checkpoint(database)  # never signs an edited entry


def test_old_format_checkpoint_lines_still_verify_and_stripped_fields_do_not(confirmed):
    path, ids, database, item_id = confirmed
    _add(database, ids, item_id)
    key = db.keys.audit_key(database)
    decision = database.conn.execute("SELECT id, row_hash FROM decisions ORDER BY id DESC").fetchone()
    old = db.checkpoints.sign(key, "checkpoint", decision[0], decision[1])  # as written before follow-ups
    assert "fn" not in json.loads(old.as_json())
    file = Path(str(path) + db.checkpoints.SUFFIX)
    with file.open("a") as handle:
        handle.write(old.as_json() + "\n")
    report = db.decisions.verify(database)
    assert report.problems == []
    assert report.checkpoints == len(_checkpoint_lines(path))
    stripped = {k: v for k, v in _checkpoint_lines(path)[-2].items() if k not in ("fn", "fhead")}
    with file.open("a") as handle:
        handle.write(json.dumps(stripped) + "\n")
    problems = db.decisions.verify(database).problems
    assert any("do not match their signature" in p for p in problems), problems


# --- comments -------------------------------------------------------------------------------------

def test_mentions_name_existing_active_users_only_once_and_not_oneself(any_world, any_db):
    path, ids = any_world
    database = any_db
    assert db.comments.mentioned_names("hi @ana, @ana and @mod2. mail a@b.c") == ["ana", "mod2"]
    _, mentioned = db.comments.add(database, item_id=ids["items"]["high"], user_id=ids["users"]["mod"],
                                   body="@ana @ghost @mod please look")
    assert mentioned == ["ana"]
    assert db.comments.open_mention_count(database, ids["users"]["ana"]) == 1
    assert db.comments.open_mention_count(database, ids["users"]["mod"]) == 0


def test_a_mention_leaves_the_inbox_when_read_or_answered(any_world, any_db):
    path, ids = any_world
    database = any_db
    item_id, ana = ids["items"]["high"], ids["users"]["ana"]
    first, _ = db.comments.add(database, item_id=item_id, user_id=ids["users"]["mod"], body="@ana one")
    db.comments.add(database, item_id=item_id, user_id=ana, body="seen")
    assert db.comments.open_mention_count(database, ana) == 0
    second, _ = db.comments.add(database, item_id=item_id, user_id=ids["users"]["mod"], body="@ana two")
    assert [m["comment_id"] for m in db.comments.open_mentions(database, ana)] == [second]
    assert db.comments.mark_read(database, second, ana)
    assert not db.comments.mark_read(database, second, ana)
    assert db.comments.open_mention_count(database, ana) == 0 and first < second


# --- web ------------------------------------------------------------------------------------------

def _client(app, name):
    client = app.test_client()
    assert helpers.login(client, name).status_code in (302, 303)
    return client


def test_item_page_adds_and_shows_followups_only_for_confirmed_items_and_moderators(confirmed):
    path, ids, database, item_id = confirmed
    app = helpers.make_app(path)
    moderator, analyst = _client(app, "mod"), _client(app, "ana")
    assert 'id="followup-form"' in moderator.get(f"/items/{item_id}").get_data(as_text=True)
    assert 'id="followup-form"' not in moderator.get(f"/items/{ids['items']['mid']}").get_data(as_text=True)
    assert 'id="followup-form"' not in analyst.get(f"/items/{item_id}").get_data(as_text=True)
    assert analyst.post(f"/items/{item_id}/followups", data={"kind": "poster_contacted"}).status_code == 403
    assert moderator.post(f"/items/{ids['items']['mid']}/followups",
                          data={"kind": "poster_contacted"}).status_code == 400
    answer = moderator.post(f"/items/{item_id}/followups", data={
        "kind": "rebuttal_published", "link": "javascript:alert(1)", "note": "<img src=x onerror=alert(1)>",
        "due_on": "2020-01-01"})
    assert answer.status_code == 303
    page = moderator.get(f"/items/{item_id}").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert 'href="javascript:' not in page
    assert 'class="overdue-mark"' in page and 'id="overdue-count"' in page
    listing = moderator.get("/followups").get_data(as_text=True)
    assert "Tin giả về vắc-xin" in listing and "overdue-mark" in listing
    assert analyst.get("/followups").status_code == 200
    assert analyst.post("/followups/1/outcome", data={"outcome": "removed"}).status_code == 403
    assert moderator.post("/followups/1/outcome", data={"outcome": "bogus"}).status_code == 400
    assert moderator.post("/followups/1/outcome", data={"outcome": "removed"}).status_code == 303
    assert 'id="followups-empty"' in moderator.get("/followups").get_data(as_text=True)
    assert db.decisions.verify(db.connect(path)).problems == []


def test_followup_and_comment_forms_need_csrf(confirmed):
    path, ids, database, item_id = confirmed
    app = helpers.make_app(path, WTF_CSRF_ENABLED=True)
    moderator = app.test_client()
    login_token = helpers.csrf_token(moderator, "/login")
    assert moderator.post("/login", data={"name": "mod", "password": helpers.PASSWORD,
                                          "csrf_token": login_token}).status_code in (302, 303)
    data = {"kind": "poster_contacted"}
    assert moderator.post(f"/items/{item_id}/followups", data=data).status_code == 400
    assert moderator.post(f"/items/{item_id}/comments", data={"body": "x"}).status_code == 400
    token = helpers.csrf_token(moderator, f"/items/{item_id}")
    assert moderator.post(f"/items/{item_id}/followups", data={**data, "csrf_token": token}).status_code == 303
    assert moderator.post(f"/items/{item_id}/comments", data={"body": "x", "csrf_token": token}).status_code == 303


def test_comments_are_escaped_and_mentions_reach_the_inbox_badge(world):
    path, ids = world
    app = helpers.make_app(path)
    moderator, analyst = _client(app, "mod"), _client(app, "ana")
    item_id = ids["items"]["mid"]
    before = analyst.get("/inbox").get_data(as_text=True)
    assert 'id="mentions-empty"' in before and 'id="inbox-count"' not in before
    assert moderator.post(f"/items/{item_id}/comments", data={"body": "  "}).status_code == 400
    answer = moderator.post(f"/items/{item_id}/comments", data={"body": "<script>alert(1)</script> @ana xem giúp"})
    assert answer.status_code == 303
    page = moderator.get(f"/items/{item_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; @ana xem giúp" in page and "<script>alert(1)" not in page
    inbox = analyst.get("/inbox").get_data(as_text=True)
    assert 'class="mention-row"' in inbox and 'id="inbox-count"' in inbox and "&lt;script&gt;" in inbox
    comment_id = db.comments.open_mentions(db.connect(path), ids["users"]["ana"])[0]["comment_id"]
    assert analyst.post(f"/inbox/mentions/{comment_id}/read").status_code == 303
    assert 'id="mentions-empty"' in analyst.get("/inbox").get_data(as_text=True)


def test_api_item_json_carries_its_followups(confirmed):
    path, ids, database, item_id = confirmed
    _add(database, ids, item_id, due_on="2026-12-20")
    token = db.tokens.create_token(database, ids["users"]["ana"], "t")
    app = helpers.make_app(path)
    body = app.test_client().get(f"/api/v1/items/{item_id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["followups"][0]["kind"] == "takedown_requested"
    assert body["followups"][0]["outcome"] == "pending" and body["followups"][0]["due_on"] == "2026-12-20"
