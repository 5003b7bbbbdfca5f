"""Database foundation: migrations, pragmas, schema, append-only hash-chained decisions, search, users.

The decision, search and priority tests take `any_db` and run on SQLite and on PostgreSQL; the migration,
pragma and schema-introspection ones are about the SQLite file (tests/test_pg_schema.py holds the
PostgreSQL schema equal to it)."""

from __future__ import annotations

import re
import sqlite3

import pytest

import db
from db.decisions import StaleItemError, decide, history, verify_chain
from db.items import SearchError, insert_item
from db.search import search
from db.users import UserError, add_user, authenticate, find_user

REQUIRED_TABLES = {"sources", "items", "crawl_runs", "decisions", "users", "models", "schema_version"}
ITEM_COLUMNS = {
    "source_id", "canonical_url", "guid", "title", "text", "author", "published_at", "fetched_at", "language",
    "content_hash", "score_misinformation", "score_harm", "model_version", "status", "version",
}
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def tables(database) -> set[str]:
    return {row[0] for row in database.conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}


def make_source(database, name: str = "Báo Test") -> int:
    with db.transaction(database) as conn:
        return int(conn.execute(
            "INSERT INTO sources (name, kind, url, created_at) VALUES (?, 'rss', 'https://example.org/rss', ?)"
            " RETURNING id", (name, db.utcnow())).fetchone()[0])


def item_row(database, item_id: int) -> dict:
    return next(iter(database.query("SELECT * FROM items WHERE id = ?", [item_id])))


def drop_guard(database, trigger: str) -> None:
    """Drop an append-only trigger of the decisions table, as someone tampering with raw SQL would."""
    on = " ON decisions" if db.dialect(database) == "postgresql" else ""
    database.conn.execute(f"DROP TRIGGER {trigger}{on}")


def make_item(database, source_id: int, *, guid: str = "g1", title: str = "Tiêu đề", text: str = "Nội dung",
              status: str = "flagged") -> int:
    with db.transaction(database) as conn:
        return insert_item(conn, {
            "source_id": source_id, "guid": guid, "url": f"https://example.org/{guid}",
            "canonical_url": f"https://example.org/{guid}", "title": title, "text": text,
            "fetched_at": db.utcnow(), "content_hash": f"hash-{guid}", "status": status,
        })


@pytest.fixture()
def decided_setup(any_db):
    source_id = make_source(any_db)
    item_id = make_item(any_db, source_id)
    alice = add_user(any_db, "alice", "correct horse", "moderator")
    bob = add_user(any_db, "bob", "battery staple", "moderator")
    return any_db, item_id, alice, bob


# --- Migrations and connection -----------------------------------------------------------

def test_migrations_applied_once_and_idempotently(db_path):
    first = db.connect(db_path)
    version = db.schema_version(first)
    schema = tables(first)
    rows = first.conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
    first.conn.close()
    assert version >= 1
    assert REQUIRED_TABLES <= schema

    second = db.connect(db_path)
    assert db.migrate(second) == []  # nothing pending
    assert db.schema_version(second) == version
    assert tables(second) == schema
    assert second.conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == rows
    second.conn.close()


def test_every_migration_file_is_recorded(tmp_db):
    recorded = {row[0] for row in tmp_db.conn.execute("SELECT name FROM schema_version")}
    assert "001_initial.sql" in recorded
    assert recorded == {name for _, name, _ in db.numbered_migrations()}


def test_connection_pragmas(tmp_db):
    conn = tmp_db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_foreign_keys_enforced(tmp_db):
    with pytest.raises(sqlite3.IntegrityError):
        make_item(tmp_db, source_id=9999)


def test_required_tables_and_item_columns(tmp_db):
    assert REQUIRED_TABLES <= set(tmp_db.table_names())
    assert ITEM_COLUMNS <= set(tmp_db["items"].columns_dict)
    assert "items_fts" in tmp_db.table_names()
    decision_columns = set(tmp_db["decisions"].columns_dict)
    assert {"item_id", "user_id", "action", "old_status", "new_status", "note", "created_at"} <= decision_columns


def test_item_defaults_new_status_and_version_one(tmp_db):
    item_id = make_item(tmp_db, make_source(tmp_db), status="new")
    row = tmp_db["items"].get(item_id)
    assert row["status"] == "new"
    assert row["version"] == 1


def test_status_check_rejects_unknown_status(tmp_db):
    source_id = make_source(tmp_db)
    with pytest.raises(sqlite3.IntegrityError):
        make_item(tmp_db, source_id, status="deleted")
    item_id = make_item(tmp_db, source_id, guid="ok")
    with pytest.raises(sqlite3.IntegrityError):
        tmp_db.conn.execute("UPDATE items SET status = 'archived' WHERE id = ?", (item_id,))
    assert tmp_db["items"].get(item_id)["status"] == "flagged"


def test_transaction_rolls_back_on_exception(tmp_db):
    with pytest.raises(RuntimeError), db.transaction(tmp_db) as conn:
        conn.execute("INSERT INTO sources (name, kind, url, created_at) VALUES ('x', 'rss', 'https://x.org', 'now')")
        raise RuntimeError("boom")
    assert tmp_db.conn.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 0
    assert not tmp_db.conn.in_transaction


def test_a_failed_commit_is_rolled_back_so_the_next_transaction_starts_afresh(tmp_db):
    tmp_db.conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    tmp_db.conn.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), db.transaction(tmp_db) as conn:
        conn.execute("INSERT INTO child VALUES (42)")  # only checked at COMMIT
    assert not tmp_db.conn.in_transaction
    with db.transaction(tmp_db) as conn:
        conn.execute("INSERT INTO parent VALUES (1)")
    assert tmp_db.conn.execute("SELECT COUNT(*) FROM child").fetchone()[0] == 0
    assert tmp_db.conn.execute("SELECT COUNT(*) FROM parent").fetchone()[0] == 1 and not tmp_db.conn.in_transaction


def test_transaction_commits(tmp_db, db_path):
    make_source(tmp_db, "kept")
    other = db.connect(db_path)
    assert other.conn.execute("SELECT name FROM sources").fetchall() == [("kept",)]
    other.conn.close()


def test_time_helpers_round_trip():
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 11, 23, 7, 0, tzinfo=timezone(timedelta(hours=7)))
    assert db.to_iso(moment) == "2026-11-23T00:00:00Z"
    assert db.from_iso("2026-11-23T00:00:00Z") == moment
    assert ISO_Z.match(db.utcnow())


# --- Decisions ---------------------------------------------------------------------------

def test_decisions_table_rejects_update_and_delete(decided_setup):
    database, item_id, alice, _ = decided_setup
    decide(database, item_id=item_id, user_id=alice, action="dismiss", new_status="dismissed", note="ok",
           expected_version=1)
    with pytest.raises(db.IntegrityError, match="append-only"):
        database.conn.execute("UPDATE decisions SET note = 'rewritten'")
    with pytest.raises(db.IntegrityError, match="append-only"):
        database.conn.execute("DELETE FROM decisions")
    assert [row["note"] for row in history(database, item_id)] == ["ok"]


def test_decide_with_current_version(decided_setup):
    database, item_id, alice, _ = decided_setup
    decision = decide(database, item_id=item_id, user_id=alice, action="confirm_misinformation",
                      new_status="confirmed", note="tin sai sự thật", expected_version=1)
    item = item_row(database, item_id)
    assert item["status"] == "confirmed"
    assert item["version"] == 2
    rows = list(database.query("SELECT * FROM decisions"))
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == decision.id
    assert row["item_id"] == item_id
    assert row["user_id"] == alice
    assert row["action"] == "confirm_misinformation"
    assert row["old_status"] == "flagged"
    assert row["new_status"] == "confirmed"
    assert row["note"] == "tin sai sự thật"
    assert ISO_Z.match(row["created_at"])
    assert abs((db.from_iso(row["created_at"]) - db.from_iso(db.utcnow())).total_seconds()) < 60


def test_decide_with_stale_version_raises_and_changes_nothing(decided_setup):
    database, item_id, alice, bob = decided_setup
    first = decide(database, item_id=item_id, user_id=alice, action="dismiss", new_status="dismissed",
                   note="not news", expected_version=1)
    before_item = item_row(database, item_id)
    before_log = list(database.query("SELECT * FROM decisions"))
    with pytest.raises(StaleItemError) as caught:
        decide(database, item_id=item_id, user_id=bob, action="escalate", new_status="escalated",
               note="stale page", expected_version=1)
    message = str(caught.value)
    assert "alice" in message
    assert first.created_at in message
    assert caught.value.by == "alice"
    assert caught.value.status == "dismissed"
    assert item_row(database, item_id) == before_item
    assert list(database.query("SELECT * FROM decisions")) == before_log
    assert not database.conn.in_transaction


def test_verify_chain_intact(decided_setup):
    database, item_id, alice, bob = decided_setup
    assert verify_chain(database) == []
    decide(database, item_id=item_id, user_id=alice, action="escalate", new_status="escalated", note="a",
           expected_version=1)
    decide(database, item_id=item_id, user_id=bob, action="reopen", new_status="flagged", note="b",
           expected_version=2)
    assert verify_chain(database) == []


def _three_decisions(database, item_id, alice, bob):
    decide(database, item_id=item_id, user_id=alice, action="escalate", new_status="escalated", note="one",
           expected_version=1)
    decide(database, item_id=item_id, user_id=bob, action="reopen", new_status="flagged", note="two",
           expected_version=2)
    decide(database, item_id=item_id, user_id=alice, action="dismiss", new_status="dismissed", note="three",
           expected_version=3)
    assert verify_chain(database) == []


def test_verify_chain_detects_edited_row(decided_setup):
    database, item_id, alice, bob = decided_setup
    _three_decisions(database, item_id, alice, bob)
    # Simulate tampering with raw SQL by someone who first dropped the guard trigger.
    drop_guard(database, "decisions_no_update")
    database.conn.execute("UPDATE decisions SET note = 'edited' WHERE note = 'two'")
    problems = verify_chain(database)
    assert problems
    assert any(problem.startswith("decision 2") and "edited" in problem for problem in problems)


def test_verify_chain_detects_deleted_row(decided_setup):
    database, item_id, alice, bob = decided_setup
    _three_decisions(database, item_id, alice, bob)
    drop_guard(database, "decisions_no_delete")
    database.conn.execute("DELETE FROM decisions WHERE note = 'two'")
    problems = verify_chain(database)
    assert problems
    assert any("deleted" in problem or "removed" in problem for problem in problems)


def test_verify_chain_detects_deleted_first_row(decided_setup):
    # Deleting the first row breaks the genesis link of the second.
    database, item_id, alice, bob = decided_setup
    _three_decisions(database, item_id, alice, bob)
    drop_guard(database, "decisions_no_delete")
    database.conn.execute("DELETE FROM decisions WHERE note = 'one'")
    assert verify_chain(database)


# --- Search ------------------------------------------------------------------------------

@pytest.fixture()
def searchable(any_db):
    source_id = make_source(any_db)
    wanted = make_item(any_db, source_id, guid="a", title="Cảnh báo tin giả về vắc xin",
                       text="Bộ Y tế đề nghị người dân không chia sẻ thông tin chưa kiểm chứng.")
    make_item(any_db, source_id, guid="b", title="Giá lúa tăng ở Nghệ An", text="Nông dân phấn khởi.")
    return any_db, wanted


@pytest.mark.parametrize("query", ["tin gia", "TIN GIẢ", "vac xin", "Vắc-xin", "canh bao", "Bo Y te"])
def test_search_folds_diacritics_and_case(searchable, query):
    database, wanted = searchable
    assert [row["id"] for row in search(database, query)] == [wanted]


def test_search_requires_all_terms(searchable):
    database, _ = searchable
    assert search(database, "vac xin lua") == []
    assert len(search(database, "nghe an")) == 1


def test_search_finds_a_word_inside_a_domain_name_or_a_number_on_both_backends(any_db):
    # FTS5's unicode61 splits "baomoi.com" and "1.500"; PostgreSQL's parser would keep each as one token
    source_id = make_source(any_db)
    wanted = make_item(any_db, source_id, guid="c", title="Theo baomoi.com, 1.500 người",
                       text="Xem https://tinmoi.vn/a-b nhé")
    for query in ("baomoi", "500", "tinmoi", "a b"):
        assert [row["id"] for row in search(any_db, query)] == [wanted], query


def test_search_d_stroke_folds(searchable):
    database, wanted = searchable
    assert [row["id"] for row in search(database, "de nghi")] == [wanted]


@pytest.mark.parametrize("query", ['"', "AND(", "*", "", "   ", "(((", "NEAR(", "-", "^"])
def test_malformed_search_raises_friendly_error(searchable, query):
    database, _ = searchable
    with pytest.raises(SearchError) as caught:
        search(database, query)
    assert not isinstance(caught.value, sqlite3.Error)
    assert "search" in str(caught.value).lower() or "word" in str(caught.value).lower()


@pytest.mark.parametrize("query", ['tin "gia', "vac AND(xin", "tin*", 'NOT tin', "tin OR", "col:tin"])
def test_operator_like_input_never_reaches_fts_syntax(searchable, query):
    database, _ = searchable
    # Must not raise sqlite3.OperationalError; the words are searched literally.
    search(database, query)


# --- Users -------------------------------------------------------------------------------

def test_add_user_hashes_password(tmp_db):
    user_id = add_user(tmp_db, "lan", "mật khẩu dài", "moderator")
    row = tmp_db["users"].get(user_id)
    assert row["role"] == "moderator"
    assert row["password_hash"] != "mật khẩu dài"
    assert "mật khẩu dài" not in row["password_hash"]
    dump = "\n".join(tmp_db.conn.iterdump())
    assert "mật khẩu dài" not in dump


def test_add_user_rejects_duplicates_unknown_roles_and_short_passwords(tmp_db):
    add_user(tmp_db, "lan", "long enough", "analyst")
    with pytest.raises(UserError, match="already exists"):
        add_user(tmp_db, "lan", "another long one", "admin")
    with pytest.raises(UserError, match="role"):
        add_user(tmp_db, "minh", "long enough", "superuser")
    with pytest.raises(UserError, match="8"):
        add_user(tmp_db, "minh", "short", "moderator")
    with pytest.raises(UserError):
        add_user(tmp_db, "   ", "long enough", "moderator")
    assert [row["name"] for row in tmp_db.query("SELECT name FROM users")] == ["lan"]
    assert find_user(tmp_db, "lan")["role"] == "analyst"


def test_authenticate(tmp_db):
    add_user(tmp_db, "lan", "correct horse", "moderator")
    user = authenticate(tmp_db, "lan", "correct horse")
    assert user is not None and user["name"] == "lan"
    assert authenticate(tmp_db, "lan", "wrong horse") is None
    assert authenticate(tmp_db, "nobody", "correct horse") is None
    tmp_db.conn.execute("UPDATE users SET active = 0 WHERE name = 'lan'")
    assert authenticate(tmp_db, "lan", "correct horse") is None


def test_capitalised_operators_are_dropped_not_searched(searchable):
    database, wanted = searchable
    assert [row["id"] for row in search(database, "vac AND xin")] == [wanted]
    assert [row["id"] for row in search(database, "tin OR")] == [wanted]


def test_failing_migration_is_rolled_back_whole(db_path, monkeypatch):
    database = db.connect(db_path)
    version = db.schema_version(database)
    shipped = db.numbered_migrations()
    broken = (999, "999_broken.sql", "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);")
    monkeypatch.setattr(db, "numbered_migrations", lambda folder="migrations": [*shipped, broken])
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        db.migrate(database)
    assert not database.conn.in_transaction  # the write lock is released
    assert "half_done" not in database.table_names()
    assert db.schema_version(database) == version
    make_source(database, "still writable")
    assert database.conn.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 1


def test_every_domain_status_is_allowed_by_the_schema(tmp_db):
    from monitor.domain import Status

    source_id = make_source(tmp_db)
    for status in Status:
        make_item(tmp_db, source_id, guid=f"s-{status.value}", status=status.value)
    stored = {row[0] for row in tmp_db.conn.execute("SELECT status FROM items")}
    assert stored == {status.value for status in Status}


def test_decision_with_invalid_status_changes_nothing(decided_setup):
    database, item_id, alice, _ = decided_setup
    with pytest.raises(db.IntegrityError):
        decide(database, item_id=item_id, user_id=alice, action="dismiss", new_status="binned", note="",
               expected_version=1)
    item = item_row(database, item_id)
    assert (item["status"], item["version"]) == ("flagged", 1)
    assert list(database.query("SELECT * FROM decisions")) == []
    assert not database.conn.in_transaction


def test_verify_chain_detects_deleting_the_newest_decision(any_db):
    """The head anchor in service_state catches a deletion at the end, which the chain alone cannot."""
    from db.decisions import decide, verify_chain
    from db.users import add_user

    source_id = make_source(any_db, "s")
    user = add_user(any_db, "mod", "password-123", "moderator")
    for guid in ("a", "b"):
        item_id = any_db.conn.execute(
            "INSERT INTO items (source_id, guid, fetched_at, content_hash, status) VALUES (?, ?, 'now', ?, 'flagged')"
            " RETURNING id", (source_id, guid, guid)).fetchone()[0]
        decide(any_db, item_id=item_id, user_id=user, action="dismiss", new_status="dismissed", note="",
               expected_version=1)
    assert verify_chain(any_db) == []
    drop_guard(any_db, "decisions_no_delete")
    any_db.conn.execute("DELETE FROM decisions WHERE id = (SELECT MAX(id) FROM decisions)")
    problems = verify_chain(any_db)
    assert problems and "deleted" in problems[0]


def test_priority_computed_at_insert_equals_the_triggers(any_db):
    """insert_item writes the priority in its INSERT (migration 033); the triggers' formula must agree,
    and a row inserted without a priority still gets one."""
    source_id = make_source(any_db)
    any_db.conn.execute("UPDATE sources SET priority_weight = 1.5 WHERE id = ?", (source_id,))
    with db.transaction(any_db) as conn:
        big = conn.execute("INSERT INTO clusters (first_seen_at, last_seen_at, size, source_count)"
                           " VALUES ('2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z', 12, 3) RETURNING id").fetchone()[0]
        ids = [insert_item(conn, {
            "source_id": source_id, "guid": f"p{n}", "title": "t", "text": "x", "fetched_at": f"2026-11-0{n + 1}T0{n}:00:00Z",
            "content_hash": f"p{n}", "cluster_id": cluster, "score_misinformation": misinfo, "score_harm": harm,
            "status": "flagged", "about_jurisdiction": local})
            for n, (cluster, misinfo, harm, local) in enumerate([(big, 0.9, 0.1, True), (None, None, 0.4, False),
                                                                 (big, None, None, False)])]
        raw = conn.execute("INSERT INTO items (source_id, guid, fetched_at, content_hash, cluster_id, score_harm,"
                           " about_jurisdiction) VALUES (?, 'raw', '2026-11-05T00:00:00Z', 'raw', ?, 0.7, 1) RETURNING id",
                           (source_id, big)).fetchone()[0]
    at_insert = dict(any_db.conn.execute("SELECT id, priority FROM items").fetchall())
    # about_jurisdiction ("Về địa bàn", migration 067) adds 2.0
    assert at_insert[ids[0]] == pytest.approx(9.0 + 2.0 + 1.5 + 2.0
                                              + db.from_iso("2026-11-01T00:00:00Z").timestamp() / 43200)
    assert at_insert[ids[1]] == pytest.approx(4.0 + 1.5 + db.from_iso("2026-11-02T01:00:00Z").timestamp() / 43200)
    assert at_insert[raw] == pytest.approx(7.0 + 2.0 + 1.5 + 2.0
                                           + db.from_iso("2026-11-05T00:00:00Z").timestamp() / 43200)
    any_db.conn.execute("UPDATE items SET score_harm = score_harm")  # the rescore trigger recomputes every row
    assert dict(any_db.conn.execute("SELECT id, priority FROM items").fetchall()) == pytest.approx(at_insert)
