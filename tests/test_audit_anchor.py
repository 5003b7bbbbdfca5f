"""The decision log anchored outside the database (issue 15 item 8).

Each test plays someone who can write the database file (a shell account, a restored copy, a Datasette
with write access) but holds neither the audit key file nor the checkpoint file beside it, and checks
that `monitor audit verify` (db.decisions.verify_chain behind it) notices what they did.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
import types

import pytest

import db
import db.queue
from db.decisions import GENESIS, HEAD_KEY, row_hash, verify_chain
from db.users import add_user
from monitor.commands import audit as audit_command


def _item(database, guid: str, status: str = "flagged") -> int:
    with db.transaction(database) as conn:
        return int(conn.execute(
            "INSERT INTO items (source_id, guid, fetched_at, content_hash, status) VALUES (1, ?, ?, ?, ?)",
            (guid, db.utcnow(), f"h-{guid}", status)).lastrowid)


@pytest.fixture()
def log_db(tmp_db, db_path):
    """Four decisions through the production path, one of them an escalation to bob."""
    tmp_db.conn.execute("INSERT INTO sources (name, kind, url, created_at) VALUES ('s', 'rss', 'https://x.vn/', ?)",
                        (db.utcnow(),))
    users = {name: add_user(tmp_db, name, "password-123", role)
             for name, role in (("lan", "moderator"), ("bob", "admin"), ("minh", "moderator"))}
    items = {name: _item(tmp_db, name) for name in ("a", "b", "c", "d", "open")}
    decide = db.queue.apply_decision
    decide(tmp_db, item_id=items["a"], user_id=users["lan"], action="dismiss", new_status="dismissed",
           note="không phải tin", expected_version=1)
    decide(tmp_db, item_id=items["b"], user_id=users["lan"], action="escalate", new_status="escalated",
           note="cần lãnh đạo xem", expected_version=1, target_role="admin", target_user_id=users["bob"])
    decide(tmp_db, item_id=items["c"], user_id=users["minh"], action="confirm_misinformation",
           new_status="confirmed", note="tin giả", expected_version=1)
    decide(tmp_db, item_id=items["d"], user_id=users["minh"], action="confirm_harm", new_status="confirmed",
           note="", expected_version=1)
    assert verify_chain(tmp_db) == []
    return types.SimpleNamespace(database=tmp_db, path=db_path, users=users, items=items)


def _columns(conn, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _drop_guards(conn) -> None:
    """What anyone with the file does first: drop the append-only triggers."""
    for name, in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        if name.startswith(("decisions_no_", "escalations_no_")):
            conn.execute(f"DROP TRIGGER {name}")


def _set_head(conn, last_id: int | None, digest: str | None) -> None:
    if last_id is None:
        conn.execute("DELETE FROM service_state WHERE key = ?", (HEAD_KEY,))
    else:
        conn.execute("UPDATE service_state SET value = ? WHERE key = ?", (f"{last_id}:{digest}", HEAD_KEY))


def _rechain_plain(conn, start_id: int) -> None:
    """Recompute every hash from `start_id` on with the published, unkeyed formula, as an attacker who
    read the source can; rows are marked as written the old way where the schema says how."""
    downgrade = "hash_scheme" in _columns(conn, "decisions")
    rows = conn.execute("SELECT id, item_id, user_id, action, old_status, new_status, note, created_at, row_hash"
                        " FROM decisions ORDER BY id").fetchall()
    prev = GENESIS
    for row_id, item_id, user_id, action, old, new, note, created, digest in rows:
        if row_id >= start_id:
            digest = row_hash(prev, item_id, user_id, action, old, new, note, created)
            conn.execute("UPDATE decisions SET prev_hash = ?, row_hash = ? WHERE id = ?", (prev, digest, row_id))
            if downgrade:
                conn.execute("UPDATE decisions SET hash_scheme = 1 WHERE id = ?", (row_id,))
        prev = digest
    _set_head(conn, rows[-1][0], prev)


def _problems(database) -> str:
    problems = verify_chain(database)
    assert problems, "tampering went unnoticed"
    return "\n".join(problems)


def _checkpoint_file(path):
    return f"{path}.audit-checkpoints.jsonl"


# --- the five rewrites issue 15 item 8 lists -----------------------------------------------------

@pytest.mark.parametrize("start_id", [1, 2])
def test_recomputing_the_whole_chain_is_detected(log_db, start_id):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("UPDATE decisions SET note = 'đã xem, không sao' WHERE id = 3")
    conn.execute("UPDATE items SET status = 'dismissed' WHERE id = ?", (log_db.items["c"],))
    conn.execute("UPDATE decisions SET action = 'dismiss', new_status = 'dismissed' WHERE id = 3")
    _rechain_plain(conn, start_id)
    _problems(log_db.database)


def test_recomputed_chain_is_detected_even_without_the_checkpoint_file(log_db):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("UPDATE decisions SET note = 'sửa' WHERE id = 2")
    _rechain_plain(conn, 1)
    path = _checkpoint_file(log_db.path)
    if os.path.exists(path):
        os.unlink(path)
    _problems(log_db.database)


def test_deleting_the_newest_rows_and_moving_the_head_is_detected(log_db):
    conn = log_db.database.conn
    _drop_guards(conn)
    kept = conn.execute("SELECT row_hash FROM decisions WHERE id = 2").fetchone()[0]
    conn.execute("DELETE FROM escalations WHERE decision_id > 2")
    conn.execute("DELETE FROM decisions WHERE id > 2")
    _set_head(conn, 2, kept)
    text = _problems(log_db.database)
    assert "deleted" in text and "decision 2" in text and "4" in text


def test_wiping_the_log_is_detected(log_db):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("DELETE FROM escalations")
    conn.execute("DELETE FROM decisions")
    _set_head(conn, None, None)
    conn.execute("UPDATE items SET status = 'flagged', version = 1")
    text = _problems(log_db.database)
    assert "wiped" in text or "deleted" in text


@pytest.mark.parametrize("claimed_scheme", [None, 1, 2])
def test_appending_a_forged_row_with_a_correct_plain_hash_is_detected(log_db, claimed_scheme):
    conn = log_db.database.conn
    last_id, head = conn.execute("SELECT id, row_hash FROM decisions ORDER BY id DESC LIMIT 1").fetchone()
    item, user, created = log_db.items["open"], log_db.users["minh"], db.utcnow()
    digest = row_hash(head, item, user, "dismiss", "flagged", "dismissed", "", created)
    columns = "id, item_id, user_id, action, old_status, new_status, note, created_at, prev_hash, row_hash"
    values = [last_id + 1, item, user, "dismiss", "flagged", "dismissed", "", created, head, digest]
    if claimed_scheme is not None and "hash_scheme" in _columns(conn, "decisions"):
        columns += ", hash_scheme, user_name, item_version"
        values += [claimed_scheme, "minh", 2]
    conn.execute(f"INSERT INTO decisions ({columns}) VALUES ({', '.join('?' * len(values))})", values)
    conn.execute("UPDATE items SET status = 'dismissed', version = 2 WHERE id = ?", (item,))
    _set_head(conn, last_id + 1, digest)
    assert f"decision {last_id + 1}" in _problems(log_db.database)


def test_changing_an_escalation_target_is_detected(log_db):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("UPDATE escalations SET target_user_id = ?, target_role = NULL", (log_db.users["minh"],))
    assert "decision 2" in _problems(log_db.database)


def test_removing_an_escalation_target_is_detected(log_db):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("DELETE FROM escalations")
    assert "decision 2" in _problems(log_db.database)


def test_renaming_the_user_who_decided_is_detected(log_db):
    conn = log_db.database.conn
    conn.execute("UPDATE users SET name = 'người khác' WHERE id = ?", (log_db.users["minh"],))
    text = _problems(log_db.database)
    assert "minh" in text and "người khác" in text


def test_items_whose_status_contradicts_the_log_are_reported(log_db):
    conn = log_db.database.conn
    never_decided = log_db.items["open"]
    conn.execute("UPDATE items SET status = 'confirmed' WHERE id = ?", (never_decided,))
    conn.execute("UPDATE items SET status = 'flagged' WHERE id = ?", (log_db.items["c"],))
    text = _problems(log_db.database)
    assert f"item {never_decided}" in text and "confirmed" in text
    assert f"item {log_db.items['c']}" in text


def test_the_cli_says_broken_and_exits_1_on_a_wiped_log(log_db, capsys):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("DELETE FROM escalations")
    conn.execute("DELETE FROM decisions")
    _set_head(conn, None, None)
    conn.execute("UPDATE items SET status = 'flagged', version = 1")
    args = types.SimpleNamespace(db=str(log_db.path))
    assert audit_command.cmd_verify(args) == 1
    captured = capsys.readouterr()
    assert "BROKEN" in captured.out and "wiped" in captured.err


# --- what was detected before still is ------------------------------------------------------------

def test_an_edited_row_is_still_detected(log_db):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("UPDATE decisions SET note = 'sửa' WHERE id = 2")
    assert "decision 2: content does not match" in _problems(log_db.database)


def test_swapped_rows_are_still_detected(log_db):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("UPDATE decisions SET id = -1 WHERE id = 3")
    conn.execute("UPDATE decisions SET id = 3 WHERE id = 4")
    conn.execute("UPDATE decisions SET id = 4 WHERE id = -1")
    text = _problems(log_db.database)
    assert "decision 3" in text and "decision 4" in text


def test_renumbered_rows_are_still_detected(log_db):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("UPDATE decisions SET id = id + 10 WHERE id >= 3")
    conn.execute("UPDATE service_state SET value = '14:' || substr(value, instr(value, ':') + 1) WHERE key = ?",
                 (HEAD_KEY,))
    text = _problems(log_db.database)
    assert "jump from 2 to 13" in text and "decision 13: content does not match" in text


# --- the key -------------------------------------------------------------------------------------

def _key_file(path):
    return f"{path}.audit-key"


def test_the_key_is_a_0600_file_beside_the_database_and_never_in_it(log_db):
    key_path = _key_file(log_db.path)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    key = open(key_path, encoding="utf-8").read().strip()
    assert len(key) == 64
    log_db.database.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert key.encode() not in log_db.path.read_bytes()


def test_monitor_audit_key_in_the_environment_replaces_the_file(tmp_db, db_path, monkeypatch):
    monkeypatch.setenv("MONITOR_AUDIT_KEY", "k" * 40)
    tmp_db.conn.execute("INSERT INTO sources (name, kind, url, created_at) VALUES ('s', 'rss', 'https://x.vn/', 'x')")
    user = add_user(tmp_db, "lan", "password-123", "moderator")
    db.queue.apply_decision(tmp_db, item_id=_item(tmp_db, "a"), user_id=user, action="dismiss",
                            new_status="dismissed", note="", expected_version=1)
    assert not os.path.exists(_key_file(db_path))
    assert verify_chain(tmp_db) == []
    monkeypatch.setenv("MONITOR_AUDIT_KEY", "another key that is long enough!!")
    assert "decision 1: content does not match" in _problems(tmp_db)
    monkeypatch.setenv("MONITOR_AUDIT_KEY", "short")
    assert "MONITOR_AUDIT_KEY is too short" in _problems(tmp_db)


def test_a_key_file_others_can_read_is_refused_and_reported(log_db):
    from db.keys import KeyFileError

    os.chmod(_key_file(log_db.path), 0o644)
    assert "can be read by other users (mode 644): chmod 600" in _problems(log_db.database)
    args = types.SimpleNamespace(db=str(log_db.path))
    assert audit_command.cmd_verify(args) == 1
    # A new process (nothing cached) refuses to sign with it.
    import db.keys

    db.keys._cache.clear()
    with pytest.raises(KeyFileError, match="chmod 600"):
        db.queue.apply_decision(log_db.database, item_id=log_db.items["open"], user_id=log_db.users["lan"],
                                action="dismiss", new_status="dismissed", note="", expected_version=1)
    assert log_db.database["items"].get(log_db.items["open"])["status"] == "flagged"


def test_a_missing_key_is_reported_and_never_silently_replaced(log_db, capsys):
    import db.keys
    from db.keys import KeyFileError

    os.unlink(_key_file(log_db.path))
    text = _problems(log_db.database)
    assert "audit key" in text and "missing" in text and _key_file(log_db.path) in text
    db.keys._cache.clear()  # as a freshly started service
    with pytest.raises(KeyFileError, match="restore it from your backup"):
        db.queue.apply_decision(log_db.database, item_id=log_db.items["open"], user_id=log_db.users["lan"],
                                action="dismiss", new_status="dismissed", note="", expected_version=1)
    assert not os.path.exists(_key_file(log_db.path))
    assert log_db.database.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 4
    assert audit_command.cmd_rekey(types.SimpleNamespace(db=str(log_db.path))) == 0  # nothing old to re-key
    assert audit_command.cmd_checkpoint(types.SimpleNamespace(db=str(log_db.path))) == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line


# --- checkpoints ---------------------------------------------------------------------------------

def test_every_decision_appends_a_signed_checkpoint_and_a_log_line(log_db, caplog):
    path = _checkpoint_file(log_db.path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = [json.loads(line) for line in open(path, encoding="utf-8")]
    heads = [row[0] for row in log_db.database.conn.execute("SELECT row_hash FROM decisions ORDER BY id")]
    assert [(line["kind"], line["n"], line["head"]) for line in lines] == \
        [("checkpoint", n, head) for n, head in enumerate(heads, start=1)]
    assert all(len(line["mac"]) == 64 and line["at"].endswith("Z") for line in lines)
    with caplog.at_level(logging.INFO, logger="monitor.audit"):
        db.queue.apply_decision(log_db.database, item_id=log_db.items["open"], user_id=log_db.users["lan"],
                                action="dismiss", new_status="dismissed", note="", expected_version=1)
    record = next(r for r in caplog.records if r.getMessage() == "audit checkpoint")
    last = json.loads(open(path, encoding="utf-8").read().splitlines()[-1])
    assert (record.audit_n, record.audit_head, record.audit_mac) == (5, last["head"], last["mac"])


def test_a_forged_or_edited_checkpoint_line_is_reported_with_its_line(log_db):
    path = _checkpoint_file(log_db.path)
    lines = open(path, encoding="utf-8").read().splitlines()
    edited = json.loads(lines[1])
    edited["n"] = 1
    lines[1] = json.dumps(edited)
    lines.append("{not json")
    open(path, "w", encoding="utf-8").write("\n".join(lines) + "\n")
    text = _problems(log_db.database)
    assert "first on line 2" in text and "do not match their signature" in text
    assert f"{path}:5: not a checkpoint" in text


def test_a_rolled_back_decision_writes_no_checkpoint(log_db):
    path = _checkpoint_file(log_db.path)
    before = open(path, encoding="utf-8").read()
    with pytest.raises(db.decisions.StaleItemError):
        db.queue.apply_decision(log_db.database, item_id=log_db.items["a"], user_id=log_db.users["lan"],
                                action="reopen", new_status="flagged", note="x", expected_version=1)
    with pytest.raises(RuntimeError), db.transaction(log_db.database):
        db.decisions.decide(log_db.database, item_id=log_db.items["open"], user_id=log_db.users["lan"],
                            action="dismiss", new_status="dismissed", note="", expected_version=1)
        raise RuntimeError("the caller's transaction fails after the decision")
    assert open(path, encoding="utf-8").read() == before
    assert verify_chain(log_db.database) == []


def test_monitor_audit_checkpoint_signs_the_head_and_verify_counts_it(log_db, capsys):
    args = types.SimpleNamespace(db=str(log_db.path))
    assert audit_command.cmd_checkpoint(args) == 0
    assert "checkpoint: 4 decision(s)" in capsys.readouterr().out
    assert audit_command.cmd_verify(args) == 0
    assert "4 decision(s), hash chain intact, 5 signed checkpoint(s) agree" in capsys.readouterr().out


def test_names_are_shown_as_they_were_when_the_decision_was_signed(log_db):
    from db.audit import AuditFilter, export_rows
    from db.decisions import history

    conn = log_db.database.conn
    conn.execute("UPDATE users SET name = 'kẻ giả ' || id WHERE id IN (?, ?)", (log_db.users["lan"], log_db.users["bob"]))
    assert [row["user_name"] for row in history(log_db.database, log_db.items["b"])] == ["lan"]
    exported = {row["id"]: row for row in export_rows(log_db.database, AuditFilter())}
    assert (exported[2]["user_name"], exported[2]["escalated_to_user"]) == ("lan", "bob")
    assert db.queue.escalation_targets(log_db.database, log_db.items["b"])[2]["target_user"] == "bob"


# --- upgrading a log hashed the old way ----------------------------------------------------------

def _legacy_log(database, count: int = 3) -> list[int]:
    """Rows as versions before migration 054 wrote them: plain SHA-256, no names, no key."""
    database.conn.execute(
        "INSERT INTO sources (name, kind, url, created_at) VALUES ('s', 'rss', 'https://x.vn/', 'x')")
    user = add_user(database, "lan", "password-123", "moderator")
    prev, items = GENESIS, []
    with db.transaction(database) as conn:
        for n in range(count):
            item = conn.execute("INSERT INTO items (source_id, guid, fetched_at, content_hash, status, version)"
                                " VALUES (1, ?, '2026-01-01T00:00:00Z', ?, 'dismissed', 2)", (f"old{n}", f"old{n}")).lastrowid
            created = f"2026-01-0{n + 1}T00:00:00Z"
            digest = row_hash(prev, item, user, "dismiss", "flagged", "dismissed", "cũ", created)
            conn.execute("INSERT INTO decisions (item_id, user_id, action, old_status, new_status, note, created_at,"
                         " prev_hash, row_hash) VALUES (?, ?, 'dismiss', 'flagged', 'dismissed', 'cũ', ?, ?, ?)",
                         (item, user, created, prev, digest))
            prev = digest
            items.append(item)
        conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, 'x')",
                     (HEAD_KEY, f"{count}:{prev}"))
    return items


def test_an_upgraded_log_is_re_keyed_once_after_the_old_verification(tmp_db, db_path, capsys):
    _legacy_log(tmp_db)
    assert "run `monitor audit rekey`" in _problems(tmp_db)
    args = types.SimpleNamespace(db=str(db_path))
    assert audit_command.cmd_rekey(args) == 0
    assert "re-keyed at decision 3" in capsys.readouterr().out
    lines = [json.loads(line) for line in open(_checkpoint_file(db_path), encoding="utf-8")]
    assert [(line["kind"], line["n"]) for line in lines] == [("rekey", 3)]
    assert audit_command.cmd_verify(args) == 0
    assert "3 from before the keyed log anchored" in capsys.readouterr().out
    assert audit_command.cmd_rekey(args) == 0  # once: a second run writes nothing
    assert len(open(_checkpoint_file(db_path), encoding="utf-8").readlines()) == 1
    item = _item(tmp_db, "new")
    decision = db.decisions.decide(tmp_db, item_id=item, user_id=1, action="dismiss", new_status="dismissed",
                                   note="", expected_version=1)
    first_keyed = tmp_db.conn.execute("SELECT prev_hash, hash_scheme FROM decisions WHERE id = ?",
                                      (decision.id,)).fetchone()
    assert first_keyed == (lines[0]["head"], 2)
    assert verify_chain(tmp_db) == []
    # Rewriting an anchored old row the old way is now caught.
    _drop_guards(tmp_db.conn)
    tmp_db.conn.execute("UPDATE decisions SET note = 'sửa' WHERE id = 2")
    _rechain_plain(tmp_db.conn, 2)
    assert "checkpoint" in _problems(tmp_db)


def test_the_first_decision_after_the_upgrade_re_keys_by_itself(tmp_db, db_path):
    _legacy_log(tmp_db)
    db.queue.apply_decision(tmp_db, item_id=_item(tmp_db, "new"), user_id=1, action="dismiss",
                            new_status="dismissed", note="", expected_version=1)
    kinds = [json.loads(line)["kind"] for line in open(_checkpoint_file(db_path), encoding="utf-8")]
    assert sorted(kinds) == ["checkpoint", "rekey"]
    assert verify_chain(tmp_db) == []


def test_a_tampered_old_log_is_not_re_keyed_and_says_why(tmp_db, db_path, capsys):
    _legacy_log(tmp_db)
    _drop_guards(tmp_db.conn)
    tmp_db.conn.execute("UPDATE decisions SET note = 'sửa' WHERE id = 2")
    args = types.SimpleNamespace(db=str(db_path))
    assert audit_command.cmd_rekey(args) == 1
    err = capsys.readouterr().err
    assert "decision 2: content does not match" in err and "refusing to re-key" in err
    assert not os.path.exists(_checkpoint_file(db_path))
    with pytest.raises(db.decisions.RekeyRefused):
        db.decisions.rekey(tmp_db)
    text = _problems(tmp_db)
    assert "decision 2: content does not match" in text and "monitor audit rekey" in text


def test_migration_054_keeps_the_old_rows_and_adds_the_columns(db_path, monkeypatch):
    every = db.numbered_migrations()
    monkeypatch.setattr(db, "numbered_migrations", lambda folder="migrations": [m for m in every if m[0] != 54])
    database = db.connect(db_path)
    assert "hash_scheme" not in _columns(database.conn, "decisions")
    _legacy_log(database)
    before = database.conn.execute("SELECT id, prev_hash, row_hash FROM decisions ORDER BY id").fetchall()
    monkeypatch.setattr(db, "numbered_migrations", lambda folder="migrations": every)
    assert db.migrate(database) == ["054_audit_anchor.sql"]
    assert database.conn.execute("SELECT id, prev_hash, row_hash FROM decisions ORDER BY id").fetchall() == before
    assert {"hash_scheme", "user_name", "item_version"} <= _columns(database.conn, "decisions")
    assert "target_user_name" in _columns(database.conn, "escalations")
    db.decisions.rekey(database)
    assert verify_chain(database) == []
    database.conn.close()


# --- cost ----------------------------------------------------------------------------------------

def test_a_decision_costs_the_same_on_a_long_log(log_db):
    """One key press decides: the statements a decision runs do not grow with the log."""
    database = log_db.database

    def statements_for_one_decision(guid: str) -> list[str]:
        item = _item(database, guid)
        seen: list[str] = []
        database.conn.set_trace_callback(seen.append)
        try:
            db.queue.apply_decision(database, item_id=item, user_id=log_db.users["lan"], action="dismiss",
                                    new_status="dismissed", note="", expected_version=1)
        finally:
            database.conn.set_trace_callback(None)
        return seen

    short = statements_for_one_decision("short")
    for n in range(150):
        db.queue.apply_decision(database, item_id=_item(database, f"bulk{n}"), user_id=log_db.users["lan"],
                                action="dismiss", new_status="dismissed", note="", expected_version=1)
    long = statements_for_one_decision("long")
    assert len(long) == len(short)
    assert not any("ORDER BY decisions.id" in statement and "LIMIT" not in statement for statement in long)


def test_the_scheduler_re_keys_an_upgraded_log_and_signs_its_head_at_start(tmp_db, db_path, tmp_path):
    from monitor.schedule.scheduler import Scheduler
    from tests.scheduler_fixtures import feeds_yaml, wait_for

    _legacy_log(tmp_db)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feeds_yaml([{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a", "interval": "1h"}], {}),
                     encoding="utf-8")
    scheduler = Scheduler(db_path, feeds, crawl=lambda *a, **k: types.SimpleNamespace(status="ok", found=0, new=0),
                          housekeeping=True, housekeeping_jobs={}, scorer_factory=lambda: None)
    scheduler.start()
    try:
        path = _checkpoint_file(db_path)
        lines = wait_for(lambda: os.path.exists(path) and len(open(path, encoding="utf-8").readlines()) >= 2 and
                         [json.loads(line) for line in open(path, encoding="utf-8")])
    finally:
        scheduler.stop(timeout=5)
    assert [(line["kind"], line["n"]) for line in lines] == [("rekey", 3), ("checkpoint", 3)]
    assert verify_chain(tmp_db) == []


def test_a_wiped_log_with_its_checkpoint_file_deleted_is_detected_by_the_key_file_left(log_db):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("DELETE FROM escalations")
    conn.execute("DELETE FROM decisions")
    _set_head(conn, None, None)
    conn.execute("UPDATE items SET status = 'flagged', version = 1")
    os.unlink(_checkpoint_file(log_db.path))
    assert "checkpoint file" in _problems(log_db.database) and "deleted" in _problems(log_db.database)


def test_a_fresh_database_verifies_clean_and_makes_no_files(tmp_db, db_path):
    assert verify_chain(tmp_db) == []
    assert not os.path.exists(_key_file(db_path)) and not os.path.exists(_checkpoint_file(db_path))


def test_the_verify_page_escapes_what_an_attacker_wrote_into_the_database(world):
    from tests import helpers

    path, info = world
    app = helpers.app_after_one_decision(path, info)
    database = db.connect(path)
    database.conn.execute("UPDATE users SET name = '<img src=x onerror=alert(1)>' WHERE name = 'mod'")
    database.conn.close()
    with open(_checkpoint_file(path), "a", encoding="utf-8") as handle:
        handle.write('{"kind": "<script>alert(2)</script>"}\n')
    adm = app.test_client()
    helpers.login(adm, "adm")
    page = adm.get("/admin/audit/verify").get_data(as_text=True)
    assert "renamed" in page and "not a checkpoint" in page
    assert "<img src=x" not in page and "<script>alert(2)" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- hostile review of issue 15 (findings 1, 2 and 10) -------------------------------------------

def _forge_old_style_row(database, user_id: int) -> int:
    """Append a decision the way rows were written before migration 054 (hash_scheme left at its default,
    the published unkeyed formula), link it to the current head and move the head record to it."""
    conn = database.conn
    _drop_guards(conn)
    item = _item(database, "forged", status="dismissed")
    last = conn.execute("SELECT id, row_hash FROM decisions ORDER BY id DESC LIMIT 1").fetchone()
    last_id, prev = last if last else (0, GENESIS)
    created = db.utcnow()
    digest = row_hash(prev, item, user_id, "dismiss", "flagged", "dismissed", "", created)
    conn.execute("INSERT INTO decisions (id, item_id, user_id, action, old_status, new_status, note, created_at,"
                 " prev_hash, row_hash) VALUES (?, ?, ?, 'dismiss', 'flagged', 'dismissed', '', ?, ?, ?)",
                 (last_id + 1, item, user_id, created, prev, digest))
    conn.execute("UPDATE items SET version = 2 WHERE id = ?", (item,))
    conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, 'x')"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (HEAD_KEY, f"{last_id + 1}:{digest}"))
    return last_id + 1


def _fresh_log_signed_empty(database, path) -> int:
    """A database made after migration 054 whose empty log was signed (`monitor audit checkpoint`)."""
    user = add_user(database, "lan", "password-123", "moderator")
    database.conn.execute("INSERT INTO sources (name, kind, url, created_at) VALUES ('s', 'rss', 'https://x.vn/', ?)",
                          (db.utcnow(),))
    assert audit_command.cmd_checkpoint(types.SimpleNamespace(db=str(path))) == 0
    return user


def _upgraded_log_re_keyed(database, path) -> int:
    """A log from before migration 054, re-keyed by `monitor audit rekey`, before any new decision."""
    _legacy_log(database)
    assert audit_command.cmd_rekey(types.SimpleNamespace(db=str(path))) == 0
    return 1


@pytest.mark.parametrize("setup", [_fresh_log_signed_empty, _upgraded_log_re_keyed])
def test_a_forged_old_style_row_is_never_re_keyed_by_any_path(tmp_db, db_path, setup, capsys):
    """Finding 1: a row hashed the old way above a signed checkpoint's count was written after the keyed
    log existed (the service never writes one then): forged. No re-key may vouch for it."""
    user = setup(tmp_db, db_path)
    forged = _forge_old_style_row(tmp_db, user)
    args = types.SimpleNamespace(db=str(db_path))
    assert f"decision {forged}" in _problems(tmp_db)
    capsys.readouterr()
    assert audit_command.cmd_checkpoint(args) == 1  # the head is signed; the re-key is refused, exit 1
    assert audit_command.cmd_rekey(args) == 1
    err = capsys.readouterr().err
    assert f"decision {forged}" in err and "forged" in err and "refusing to re-key" in err
    # The first new decision (which used to re-key the rows before it) does not vouch for it either.
    db.queue.apply_decision(tmp_db, item_id=_item(tmp_db, "next"), user_id=user, action="dismiss",
                            new_status="dismissed", note="", expected_version=1)
    text = _problems(tmp_db)
    assert f"decision {forged}: hashed the old, unkeyed way" in text and "forged" in text
    assert audit_command.cmd_verify(args) == 1
    rekeys = [json.loads(line) for line in open(_checkpoint_file(db_path), encoding="utf-8")
              if json.loads(line)["kind"] == "rekey"]
    assert all(line["n"] < forged for line in rekeys)


def test_a_re_key_is_automatic_only_before_anything_was_signed(tmp_db, db_path, capsys):
    """Finding 1: once a checkpoint exists, old rows that are not anchored wait for a person to run
    `monitor audit rekey` after looking at verify; `monitor audit checkpoint` no longer re-keys them."""
    _legacy_log(tmp_db)
    path = _checkpoint_file(db_path)
    db.decisions.rekey(tmp_db)
    assert audit_command.cmd_checkpoint(types.SimpleNamespace(db=str(db_path))) == 0
    lines = open(path, encoding="utf-8").read().splitlines()
    open(path, "w", encoding="utf-8").write(lines[1] + "\n")  # the re-key line lost (a partial restore)
    capsys.readouterr()
    assert audit_command.cmd_checkpoint(types.SimpleNamespace(db=str(db_path))) == 1
    assert "monitor audit rekey" in capsys.readouterr().err
    assert [json.loads(line)["kind"] for line in open(path, encoding="utf-8")] == ["checkpoint", "checkpoint"]
    assert audit_command.cmd_rekey(types.SimpleNamespace(db=str(db_path))) == 0  # the person's decision
    assert verify_chain(tmp_db) == []


def test_the_scheduler_re_keys_at_start_only_never_hourly(tmp_db, db_path, tmp_path):
    """Finding 1: an old chain that fails at start must not be re-keyed an hour later once someone has
    made it consistent again (recomputing the unkeyed hashes needs no key)."""
    from monitor.schedule.scheduler import Scheduler
    from tests.scheduler_fixtures import feeds_yaml, wait_for

    _legacy_log(tmp_db)
    _drop_guards(tmp_db.conn)
    tmp_db.conn.execute("UPDATE decisions SET note = 'sửa' WHERE id = 3")  # the head no longer verifies
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feeds_yaml([{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a", "interval": "1h"}], {}),
                     encoding="utf-8")
    scheduler = Scheduler(db_path, feeds, crawl=lambda *a, **k: types.SimpleNamespace(status="ok", found=0, new=0),
                          housekeeping=True, housekeeping_jobs={}, scorer_factory=lambda: None)
    scheduler.start()
    try:
        wait_for(lambda: os.path.exists(_key_file(db_path)))
        time.sleep(0.3)
        _rechain_plain(tmp_db.conn, 3)  # the forged note now has a consistent old-style hash
        hourly = scheduler._aps.get_job("audit_checkpoint")
        hourly.func(*hourly.args, **hourly.kwargs)
    finally:
        scheduler.stop(timeout=5)
    path = _checkpoint_file(db_path)
    kinds = [json.loads(line)["kind"] for line in open(path, encoding="utf-8")] if os.path.exists(path) else []
    assert "rekey" not in kinds


TAMPERED_HASHES = {"non-ascii": "'é'", "binary": "X'00'", "empty": "''", "number": "7"}


@pytest.mark.parametrize("value", TAMPERED_HASHES.values(), ids=TAMPERED_HASHES.keys())
def test_a_hash_of_the_wrong_kind_is_a_problem_not_a_crash(log_db, value, capsys):
    """Finding 2: compare_digest raised TypeError on a non-ASCII or binary row hash."""
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute(f"UPDATE decisions SET row_hash = {value} WHERE id IN (2, 4)")
    text = _problems(log_db.database)
    assert "decision 2: content does not match" in text and "decision 4: content does not match" in text
    args = types.SimpleNamespace(db=str(log_db.path))
    assert audit_command.cmd_verify(args) == 1
    assert audit_command.cmd_checkpoint(args) == 1
    assert "decision 4 does not match its hash" in capsys.readouterr().err


TAMPERED_FIELDS = {"binary note": ("note", "X'00ff'"), "invalid UTF-8 note": ("note", "CAST(X'ff41' AS TEXT)"),
                   "binary user name": ("user_name", "X'6c616e'"), "binary time": ("created_at", "X'32'")}


@pytest.mark.parametrize(("column", "value"), TAMPERED_FIELDS.values(), ids=TAMPERED_FIELDS.keys())
def test_a_field_sqlite_holds_as_bytes_or_bad_text_is_a_problem_not_a_crash(log_db, column, value):
    """Finding 2: json.dumps raised TypeError on bytes; reading text that is not UTF-8 raised OperationalError."""
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute(f"UPDATE decisions SET {column} = {value} WHERE id = 4")
    assert "decision 4: content does not match" in _problems(log_db.database)
    args = types.SimpleNamespace(db=str(log_db.path))
    assert audit_command.cmd_verify(args) == 1
    assert audit_command.cmd_checkpoint(args) == 1


def test_a_head_record_that_is_not_text_is_a_problem_not_a_crash(log_db):
    log_db.database.conn.execute("UPDATE service_state SET value = X'00' WHERE key = ?", (HEAD_KEY,))
    assert "recorded head is not text" in _problems(log_db.database)


def _real_key_id(path) -> str:
    return json.loads(open(_checkpoint_file(path), encoding="utf-8").readline())["key"]


MALFORMED_LINES = {
    "non-ascii mac": lambda key: json.dumps({"kind": "checkpoint", "n": 1, "head": "a", "at": "b", "key": key,
                                             "mac": "é"}),
    "nested too deep": lambda key: "[" * 100_000 + "]" * 100_000,
    "deep but short": lambda key: "[" * 2_000 + "]" * 2_000,
    "huge count": lambda key: '{"kind": "checkpoint", "n": ' + "9" * 5_000 + "}",
    "head not a hash": lambda key: json.dumps({"kind": "checkpoint", "n": 1, "head": "é" * 64, "at": "b",
                                               "key": key, "mac": "0" * 64}),
}


@pytest.mark.parametrize("make_line", MALFORMED_LINES.values(), ids=MALFORMED_LINES.keys())
def test_a_malformed_checkpoint_line_is_listed_with_its_line_number(log_db, make_line, capsys):
    """Finding 2: a non-ASCII mac raised TypeError, deep nesting RecursionError (only ValueError was caught)."""
    path = _checkpoint_file(log_db.path)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(make_line(_real_key_id(log_db.path)) + "\n")
    assert f"{path}:5: not a checkpoint" in _problems(log_db.database)
    args = types.SimpleNamespace(db=str(log_db.path))
    assert audit_command.cmd_verify(args) == 1
    assert audit_command.cmd_checkpoint(args) == 0  # the log itself is intact: its head is signed
    assert f"{path}:5: not a checkpoint" in capsys.readouterr().err


def test_the_verify_page_lists_a_tampered_hash_instead_of_failing(world):
    """Finding 2: /admin/audit/verify answered 500 on a non-ASCII row hash."""
    from tests import helpers

    path, info = world
    app = helpers.app_after_one_decision(path, info)
    database = db.connect(path)
    _drop_guards(database.conn)
    database.conn.execute("UPDATE decisions SET row_hash = 'é', note = CAST(X'ff' AS TEXT)")
    database.conn.close()
    adm = app.test_client()
    helpers.login(adm, "adm")
    response = adm.get("/admin/audit/verify")
    assert response.status_code == 200
    assert "decision 1: content does not match" in response.get_data(as_text=True)


def test_an_escalation_moved_to_another_item_is_detected_and_not_shown_there(log_db):
    """Finding 10: escalations.item_id was not covered by the hash, so moving it went unnoticed and the
    item pages showed the escalation under the wrong item."""
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("UPDATE escalations SET item_id = ? WHERE decision_id = 2", (log_db.items["a"],))
    text = _problems(log_db.database)
    assert "decision 2" in text and f"item {log_db.items['a']}" in text
    assert 2 not in db.queue.escalation_targets(log_db.database, log_db.items["a"])
    assert db.queue.escalation_targets(log_db.database, log_db.items["b"])[2]["target_user"] == "bob"


def test_an_escalation_of_no_decision_is_detected(log_db):
    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO escalations (decision_id, item_id, target_role, created_at) VALUES (99, ?, 'admin', ?)",
                 (log_db.items["open"], db.utcnow()))
    assert "decision 99" in _problems(log_db.database)
    assert db.queue.escalation_targets(log_db.database, log_db.items["open"]) == {}


def test_the_export_writes_a_hash_stored_as_bytes_instead_of_failing(log_db):
    """Finding 2, the export: json.dumps raised TypeError on a value SQLite holds as bytes."""
    from db.audit import AuditFilter, export

    conn = log_db.database.conn
    _drop_guards(conn)
    conn.execute("UPDATE decisions SET row_hash = X'00' WHERE id = 2")
    rows = [json.loads(line) for line in export(log_db.database, AuditFilter(), "jsonl").splitlines()]
    assert [row["id"] for row in rows] == [1, 2, 3, 4] and rows[1]["row_hash"] == "b'\\x00'"
    assert "b'\\x00'" in export(log_db.database, AuditFilter(), "csv")


def test_an_audit_key_that_is_not_utf8_is_a_problem_not_a_crash(log_db, monkeypatch, capsys):
    """Finding 2, the key: a key file holding bytes that are not UTF-8 raised UnicodeDecodeError, and
    such a MONITOR_AUDIT_KEY UnicodeEncodeError, on verify, checkpoint and every decision."""
    import db.keys
    from db.keys import KeyFileError

    args = types.SimpleNamespace(db=str(log_db.path))
    with open(_key_file(log_db.path), "wb") as handle:
        handle.write(b"\xff" * 64 + b"\n")
    db.keys._cache.clear()
    assert "is not UTF-8 text" in _problems(log_db.database)
    with pytest.raises(KeyFileError, match="not UTF-8"):
        db.queue.apply_decision(log_db.database, item_id=log_db.items["open"], user_id=log_db.users["lan"],
                                action="dismiss", new_status="dismissed", note="", expected_version=1)
    monkeypatch.setenv("MONITOR_AUDIT_KEY", os.fsdecode(b"\xff" * 64))
    assert "MONITOR_AUDIT_KEY is not UTF-8 text" in _problems(log_db.database)
    assert audit_command.cmd_verify(args) == 1
    capsys.readouterr()
    assert audit_command.cmd_checkpoint(args) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_undo_is_its_own_signed_entry_and_the_log_still_verifies(log_db, capsys):
    """Issue 12 item 3: an undo appends a row (old and new status swapped back), is anchored like any
    decision, and `monitor audit verify` passes; a forged undo (moving an item elsewhere) does not."""
    import db.decisions

    database = log_db.database
    decision = db.queue.apply_decision(database, item_id=log_db.items["open"], user_id=log_db.users["lan"],
                                       action="dismiss", new_status="dismissed", note="", expected_version=1)
    undone = db.decisions.undo(database, decision_id=decision, user_id=log_db.users["lan"])
    assert (undone.id, undone.old_status, undone.new_status) == (decision + 1, "dismissed", "flagged")
    args = types.SimpleNamespace(db=str(log_db.path))
    assert audit_command.cmd_verify(args) == 0
    assert "undo" not in capsys.readouterr().err
    _drop_guards(database.conn)
    database.conn.execute("UPDATE decisions SET new_status = 'confirmed' WHERE id = ?", (undone.id,))
    database.conn.execute("UPDATE items SET status = 'confirmed' WHERE id = ?", (log_db.items["open"],))
    problems = verify_chain(database)
    assert any(f"decision {undone.id}: content does not match its hash" in p for p in problems), problems
    assert any(f"decision {undone.id} does not take back decision {decision}" in p for p in problems), problems


# --- PostgreSQL: no database file to keep the key and the checkpoints beside --------------------------

def _pg_item(database) -> tuple[int, int]:
    """(item id, moderator id) in a fresh PostgreSQL database."""
    with db.transaction(database) as conn:
        source = conn.execute("INSERT INTO sources (name, kind, url, created_at) VALUES ('s', 'rss', 'https://x.vn/',"
                              " ?) RETURNING id", (db.utcnow(),)).fetchone()[0]
        item = conn.execute("INSERT INTO items (source_id, guid, fetched_at, content_hash, status)"
                            " VALUES (?, 'g', ?, 'h', 'flagged') RETURNING id", (source, db.utcnow())).fetchone()[0]
    return item, add_user(database, "lan", "password-123", "moderator")


def test_on_postgresql_without_a_key_setting_no_decision_is_recorded_and_one_line_says_what_to_set(
        pg_url, monkeypatch):
    from db.decisions import decide
    from db.keys import KeyFileError

    for name in ("MONITOR_AUDIT_KEY", "MONITOR_AUDIT_KEY_FILE", "MONITOR_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    database = db.connect(pg_url)
    item, user = _pg_item(database)
    with pytest.raises(KeyFileError) as refused:
        decide(database, item_id=item, user_id=user, action="dismiss", new_status="dismissed", note="",
               expected_version=1)
    message = str(refused.value)
    assert "\n" not in message and "MONITOR_AUDIT_KEY" in message and "MONITOR_AUDIT_KEY_FILE" in message
    assert database.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0
    assert database.conn.execute("SELECT status FROM items WHERE id = ?", (item,)).fetchone()[0] == "flagged"
    database.close()


def test_on_postgresql_the_key_file_and_checkpoints_live_where_the_settings_say(pg_url, tmp_path, monkeypatch, caplog):
    from db.decisions import decide, verify

    monkeypatch.delenv("MONITOR_AUDIT_KEY", raising=False)
    monkeypatch.setenv("MONITOR_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit-key"))
    (tmp_path / "keys").mkdir()
    monkeypatch.delenv("MONITOR_STATE_DIR", raising=False)
    database = db.connect(pg_url)
    item, user = _pg_item(database)
    with caplog.at_level(logging.ERROR, logger="monitor.audit"):
        decide(database, item_id=item, user_id=user, action="escalate", new_status="escalated", note="",
               expected_version=1)  # recorded; the checkpoint has nowhere to go, and the log says so
    assert "MONITOR_STATE_DIR" in caplog.text
    assert stat.S_IMODE((tmp_path / "keys" / "audit-key").stat().st_mode) == 0o600
    problems = verify(database).problems
    assert any("MONITOR_STATE_DIR" in p and "\n" not in p for p in problems), problems

    monkeypatch.setenv("MONITOR_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    decide(database, item_id=item, user_id=user, action="reopen", new_status="flagged", note="", expected_version=2)
    name = database.conn.execute("SELECT current_database()").fetchone()[0]
    lines = (tmp_path / "state" / f"{name}.audit-checkpoints.jsonl").read_text().splitlines()
    assert [json.loads(line)["n"] for line in lines] == [2]
    report = verify(database)
    assert (report.problems, report.decisions, report.checkpoints) == ([], 2, 1)
    database.close()
