"""The PostgreSQL schema (db/migrations_postgresql/001_schema.sql) against the SQLite one (db/migrations/).

(a) The same tables, columns (in order, with the same NOT NULL and primary keys), views, indexes and triggers.
(b) Each trigger behaves the same: the append-only tables refuse a change with the same message, the queue
    priority comes out bit-for-bit equal for the same rows (at insert, on rescore, when a story spreads), and
    the source log and the claim library's version counter record the same things. The report views give the
    same rows.

The server is a throw-away cluster made with initdb in a temporary directory for the session (`pg_server`),
one fresh database per test cloned from a template that has the schema. It is kept small on purpose, to be
replaced by the shared harness (tests/pg.py) once that lands.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest

import db
import db.items
from classifiers.text import search_key

TEMPLATE = "schema_template"
# SQLite-only tables: FTS5's own (PostgreSQL has items_search) and the two SQLite and the runner keep.
SQLITE_ONLY = {"sqlite_sequence", "schema_version"}
# PostgreSQL-only: the search index (FTS5's on SQLite) and the distributed crawl's heartbeats and host slots
PG_ONLY = {"items_search", "workers", "host_slots"}


def _apply_schema(url: str) -> None:
    with psycopg.connect(url) as conn:  # one transaction: all or nothing
        for _number, _name, sql in db.numbered_migrations("migrations_postgresql"):  # every one, as SQLite's
            conn.execute(sql)


@pytest.fixture
def pg(pg_template) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a new database holding the schema (a copy of one built per session by the
    harness, tests/pg.py), applied as SQL directly: these tests hold the schema itself, not the runner."""
    url, _ = pg_template(TEMPLATE, _apply_schema)
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def lite(tmp_path) -> Iterator[sqlite3.Connection]:
    database = db.connect(tmp_path / "lite.db")
    yield database.conn
    database.conn.close()


def both(lite: sqlite3.Connection, pg, sql: str, params: tuple | list = ()) -> None:
    """Run one statement, written with ? placeholders, on both databases."""
    lite.execute(sql, params)
    pg.execute(sql.replace("?", "%s"), params)


def rows(lite: sqlite3.Connection, pg, sql: str, params: tuple | list = ()) -> tuple[list[tuple], list[tuple]]:
    return ([tuple(r) for r in lite.execute(sql, params).fetchall()],
            [tuple(r) for r in pg.execute(sql.replace("?", "%s"), params).fetchall()])


# (a) the same structure ---------------------------------------------------------------------------------

def _sqlite_tables(conn: sqlite3.Connection, kind: str) -> dict[str, list[tuple[str, bool, int]]]:
    names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,))
             if n not in SQLITE_ONLY and not n.startswith("items_fts")]
    found = {}
    for name in names:
        # (name, NOT NULL, position in the primary key); a SQLite INTEGER PRIMARY KEY is NOT NULL in effect.
        found[name] = [(c[1], bool(c[3]) or c[5] > 0, c[5]) for c in conn.execute(f"PRAGMA table_info({name})")]
    return found


def _pg_tables(conn, kind: str) -> dict[str, list[tuple[str, bool, int]]]:
    table_type = {"table": "BASE TABLE", "view": "VIEW"}[kind]
    found: dict[str, list[tuple[str, bool, int]]] = {}
    for (name,) in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                                " AND table_type = %s", (table_type,)):
        if name in PG_ONLY:
            continue
        found[name] = [(column, not_null and kind == "table", int(pk or 0)) for column, not_null, pk in conn.execute(
            "SELECT a.attname, a.attnotnull, array_position(i.indkey::int2[], a.attnum) + 1"  # int2vector counts from 0
            " FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary"
            " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (name,))]
    return found


def test_tables_and_columns_match(lite, pg):
    sqlite_tables, pg_tables = _sqlite_tables(lite, "table"), _pg_tables(pg, "table")
    assert len(sqlite_tables) >= 33
    assert sorted(pg_tables) == sorted(sqlite_tables)
    for name, columns in sqlite_tables.items():
        assert pg_tables[name] == columns, name


def test_views_match(lite, pg):
    sqlite_views = {name: [c[0] for c in columns] for name, columns in _sqlite_tables(lite, "view").items()}
    pg_views = {name: [c[0] for c in columns] for name, columns in _pg_tables(pg, "view").items()}
    assert len(sqlite_views) == 6
    assert pg_views == sqlite_views


def test_indexes_and_triggers_match(lite, pg):
    sqlite_indexes = {n for (n,) in lite.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                                 " AND name NOT LIKE 'sqlite_autoindex_%'")}
    pg_indexes = {n for (n,) in pg.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert sqlite_indexes <= pg_indexes, sqlite_indexes - pg_indexes
    sqlite_triggers = {n for (n,) in lite.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    pg_triggers = {n for (n,) in pg.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
    assert sqlite_triggers <= pg_triggers, sqlite_triggers - pg_triggers
    # PostgreSQL's extra triggers are the TRUNCATE refusals of the append-only tables, which SQLite has no
    # statement for.
    assert {n for n in pg_triggers - sqlite_triggers if not n.endswith("_no_truncate")} == set()


# (b) triggers -------------------------------------------------------------------------------------------

T0 = "2026-03-01T08:00:00Z"


def _world(lite, pg) -> None:
    """Two sources (one weighted), two users, a cluster of 3, items 1 (in it) and 2 (alone)."""
    for statement, params in [
        ("INSERT INTO sources (id, name, kind, url, created_at, priority_weight) VALUES (?, ?, 'rss', ?, ?, ?)",
         (1, "a", "http://a/", T0, 0.0)),
        ("INSERT INTO sources (id, name, kind, url, created_at, priority_weight) VALUES (?, ?, 'rss', ?, ?, ?)",
         (2, "b", "http://b/", T0, 0.75)),
        ("INSERT INTO users (id, name, password_hash, role, created_at) VALUES (?, ?, 'x', 'admin', ?)", (1, "u", T0)),
        ("INSERT INTO users (id, name, password_hash, role, created_at) VALUES (?, ?, 'x', 'analyst', ?)",
         (2, "v", T0)),
        ("INSERT INTO clusters (id, first_seen_at, last_seen_at, size) VALUES (1, ?, ?, 3)", (T0, T0)),
    ]:
        both(lite, pg, statement, params)
    _item(lite, pg, 1, source_id=1, cluster_id=1, score_misinformation=0.8)
    _item(lite, pg, 2, source_id=2, score_harm=0.4)


def _item(lite, pg, item_id: int, **values) -> None:
    row = {"source_id": 1, "guid": f"g{item_id}", "fetched_at": T0, "content_hash": f"h{item_id}", **values}
    columns = ", ".join(["id", *row])
    both(lite, pg, f"INSERT INTO items ({columns}) VALUES ({', '.join('?' * (len(row) + 1))})",
         (item_id, *row.values()))


APPEND_ONLY = [
    ("decisions", "id = 1", "decisions are append-only",
     "INSERT INTO decisions (id, item_id, user_id, action, old_status, new_status, created_at, prev_hash, row_hash)"
     " VALUES (1, 1, 1, 'confirm', 'flagged', 'confirmed', ?, '', 'h')"),
    ("escalations", "decision_id = 1", "escalations are append-only",
     "INSERT INTO escalations (decision_id, item_id, target_role, created_at) VALUES (1, 1, 'admin', ?)"),
    ("user_changes", "id = 1", "user_changes is append-only",
     "INSERT INTO user_changes (id, changed_at, actor_name, target_id, target_name, change)"
     " VALUES (1, ?, 'cli', 1, 'u', 'created')"),
    ("followup_log", "id = 1", "the follow-up log is append-only",
     "INSERT INTO followup_log (id, followup_id, event, payload, user_id, created_at, prev_hash, row_hash)"
     " VALUES (1, 1, 'created', '{}', 1, ?, '', 'h')"),
    ("evidence", "id = 1", "evidence captures are append-only",
     "INSERT INTO evidence (id, item_id, url, captured_at, why, error_kind, error)"
     " VALUES (1, 1, 'http://a/1', ?, 'manual', 'timeout', 'timed out')"),
]


def test_append_only_tables_refuse_changes_with_sqlites_message(lite, pg):
    _world(lite, pg)
    # escalations needs its decision first: the list is in that order.
    for _table, _where, _message, insert in APPEND_ONLY:
        both(lite, pg, insert, (T0,))
    for table, where, message, _insert in APPEND_ONLY:
        for change in (f"UPDATE {table} SET {where.split(' = ')[0]} = 7 WHERE {where}", f"DELETE FROM {table} WHERE {where}"):
            with pytest.raises(sqlite3.IntegrityError, match=f"^{message}$"):
                lite.execute(change)
            with pytest.raises(psycopg.IntegrityError) as refused:
                pg.execute(change)
            assert refused.value.diag.message_primary == message
        with pytest.raises(psycopg.IntegrityError, match=message):
            pg.execute(f"TRUNCATE {table} CASCADE")
        assert rows(lite, pg, f"SELECT COUNT(*) FROM {table}") == ([(1,)], [(1,)])


PRIORITY_ROWS = [  # (id, values): the cases of the formula's terms
    (10, {}),
    (11, {"score_misinformation": 0.3}),
    (12, {"score_harm": 0.9, "score_misinformation": 0.2}),
    (13, {"score_misinformation": 0.55, "cluster_id": 1, "source_id": 2}),
    (14, {"score_harm": 0.123456789, "about_jurisdiction": 1, "fetched_at": "2025-12-31T23:59:59Z"}),
    (15, {"score_misinformation": 0.7, "cluster_id": 1, "about_jurisdiction": 1, "source_id": 2,
          "fetched_at": "2026-07-04T12:34:56Z"}),
]


def _priorities(lite, pg) -> tuple[list[tuple], list[tuple]]:
    return rows(lite, pg, "SELECT id, priority FROM items ORDER BY id")


def test_priority_at_insert_equals_sqlites(lite, pg):
    _world(lite, pg)
    for item_id, values in PRIORITY_ROWS:
        _item(lite, pg, item_id, **values)
    _item(lite, pg, 20, score_misinformation=0.9, priority=1.5)  # a given priority is kept
    on_sqlite, on_pg = _priorities(lite, pg)
    assert on_pg == on_sqlite
    assert dict(on_pg)[20] == 1.5 and all(priority > 40_000 for item_id, priority in on_pg if item_id != 20)


def test_items_priority_function_equals_the_apps_insert(tmp_path, pg):
    """db.items.insert_item computes the priority in its INSERT; items_priority() is its PostgreSQL form."""
    database = db.connect(tmp_path / "app.db")
    lite = database.conn
    _world(lite, pg)
    for item_id, values in PRIORITY_ROWS:
        item = {"source_id": 1, "guid": f"app{item_id}", "fetched_at": T0, "content_hash": f"app{item_id}",
                "title": "", "text": "", "status": "new", "score_misinformation": None, "score_harm": None,
                "cluster_id": None, "about_jurisdiction": 0,
                **values}
        app_id = db.items.insert_item(lite, dict(item))
        expected = lite.execute("SELECT priority FROM items WHERE id = ?", (app_id,)).fetchone()[0]
        computed = pg.execute("SELECT items_priority(%s, %s, %s, %s, %s, %s)",
                              (item["score_misinformation"], item["score_harm"], item["cluster_id"],
                               item["source_id"], item["fetched_at"], item["about_jurisdiction"])).fetchone()[0]
        assert computed == expected, item_id


def test_rescore_and_spread_follow_sqlite(lite, pg):
    _world(lite, pg)
    for item_id, values in PRIORITY_ROWS:
        _item(lite, pg, item_id, **values)
    steps = [
        "UPDATE items SET score_misinformation = 0.95 WHERE id = 11",
        "UPDATE items SET score_harm = NULL, score_misinformation = NULL WHERE id = 12",
        "UPDATE items SET about_jurisdiction = 1 WHERE id = 10",
        "UPDATE items SET cluster_id = 1 WHERE id = 2",
        "UPDATE items SET priority = 5, score_harm = score_harm WHERE id = 14",  # the rescore wins
        "UPDATE items SET priority = 7 WHERE id = 10",  # no score column named: kept
        "UPDATE clusters SET size = 4 WHERE id = 1",  # same step (1.0): nothing moves
        "UPDATE clusters SET size = 12 WHERE id = 1",  # 1.0 → 2.0
        "UPDATE clusters SET size = 60 WHERE id = 1",  # → 3.0
        "UPDATE clusters SET size = 2 WHERE id = 1",  # → 0.5
        "UPDATE clusters SET last_seen_at = '2026-03-02T00:00:00Z' WHERE id = 1",  # size not named
    ]
    for step in steps:
        both(lite, pg, step)
        on_sqlite, on_pg = _priorities(lite, pg)
        assert on_pg == on_sqlite, step
    assert dict(on_pg)[10] == 7


def test_source_enabled_log_follows_sqlite(lite, pg):
    _world(lite, pg)
    for step in ["UPDATE sources SET enabled = 1 WHERE id = 1",  # unchanged: no row
                 "UPDATE sources SET paused = 1 WHERE id = 1",  # another column: no row
                 "UPDATE sources SET enabled = 0 WHERE id = 1",
                 "UPDATE sources SET enabled = 1 WHERE id = 1"]:
        both(lite, pg, step)
    query = "SELECT source_id, enabled, changed_at = ? FROM source_enabled_log ORDER BY id"
    on_sqlite, on_pg = rows(lite, pg, query, (T0,))
    assert [(s, e, bool(t)) for s, e, t in on_sqlite] == [(s, e, bool(t)) for s, e, t in on_pg]
    assert [(s, e) for s, e, _ in on_pg] == [(1, 1), (2, 1), (1, 0), (1, 1)]
    now = db.utcnow()
    stamped = pg.execute("SELECT changed_at FROM source_enabled_log WHERE id > 2").fetchall()
    assert all(len(t) == 20 and t[:15] == now[:15] and t.endswith("Z") for (t,) in stamped), stamped


def test_known_claims_version_and_key_follow_sqlite(lite, pg):
    _world(lite, pg)
    insert = ("INSERT INTO known_claims (text, text_key, verdict, url, origin, created_at)"
              " VALUES (?, ?, 'false', ?, 'import', ?) ON CONFLICT DO NOTHING")
    long_text = "tin gia " * 250  # 2,000 characters, with a 2,000-character url: past a btree entry's limit
    steps = [(insert, ("Tin giả", "tin gia", None, T0)),
             (insert, ("Tin gia!", "tin gia", None, T0)),  # same key, no url: not added, no bump
             (insert, ("Tin giả", "tin gia", "http://x/", T0)),
             (insert, (long_text, long_text, "http://x/" + "y" * 1991, T0)),
             ("UPDATE known_claims SET verdict = 'misleading' WHERE url IS NULL", ()),  # not text or url
             ("UPDATE known_claims SET url = 'http://z/' WHERE url IS NULL", ()),
             ("UPDATE known_claims SET text = text WHERE url = 'http://x/'", ()),
             ("DELETE FROM known_claims WHERE url = 'http://x/'", ())]
    for statement, params in steps:
        both(lite, pg, statement, params)
        on_sqlite, on_pg = rows(lite, pg, "SELECT version FROM known_claims_version")
        assert on_pg == on_sqlite, statement
    assert on_pg == [(6,)]
    # Ids are not compared: a conflicting INSERT uses up an identity value on PostgreSQL (SQLite's does not).
    on_sqlite, on_pg = rows(lite, pg, "SELECT text_key, url FROM known_claims ORDER BY id")
    assert on_pg == on_sqlite and [url for _, url in on_pg] == ["http://z/", "http://x/" + "y" * 1991]


def test_report_views_give_sqlites_rows(lite, pg):
    _world(lite, pg)
    # Around the local (UTC+7) midnight and an ISO year boundary: local 2027-01-01 is in 2026-W53.
    for item_id, fetched_at in [(30, "2026-12-31T16:59:59Z"), (31, "2026-12-31T17:00:00Z"),
                                (32, "2027-01-03T17:00:00Z"), (33, "2026-06-15T03:04:05Z")]:
        _item(lite, pg, item_id, fetched_at=fetched_at, cluster_id=1, flag_reasons='["harm"]', status="confirmed")
    both(lite, pg, "INSERT INTO decisions (id, item_id, user_id, action, old_status, new_status, created_at,"
                   " prev_hash, row_hash) VALUES (1, 31, 1, 'confirm', 'flagged', 'confirmed', ?, '', 'h')",
         ("2027-01-02T05:31:00Z",))
    both(lite, pg, "INSERT INTO cluster_sources (cluster_id, source_id, first_seen_at) VALUES (1, 2, ?)", (T0,))
    for view, order in [("report_items", "item_id"), ("report_decisions", "decision_id"),
                        ("report_weekly_crawled", "local_week, source"), ("report_weekly_decisions", "local_week"),
                        ("report_clusters", "cluster_id"), ("report_source_health", "source")]:
        on_sqlite, on_pg = rows(lite, pg, f"SELECT * FROM {view} ORDER BY {order}")
        assert on_pg == on_sqlite, view
    assert rows(lite, pg, "SELECT local_week FROM report_items WHERE item_id = 31")[1] == [("2026-W53",)]


def test_search_finds_folded_words_in_any_case_and_tone(pg):
    pg.execute("INSERT INTO sources (id, name, kind, url, created_at) VALUES (1, 'a', 'rss', 'http://a/', %s)", (T0,))
    texts = {1: ("Tin giả về Đà Nẵng", "Cảnh báo"), 2: ("Thời tiết", "Trời nắng ở Hà Nội"), 3: ("TIN GIA", "")}
    for item_id, (title, text) in texts.items():
        pg.execute("INSERT INTO items (id, source_id, guid, fetched_at, content_hash, title, text)"
                   " VALUES (%s, 1, %s, %s, %s, %s, %s)", (item_id, f"g{item_id}", T0, f"h{item_id}", title, text))
        pg.execute("INSERT INTO items_search (item_id, document) VALUES (%s, to_tsvector('simple', %s))",
                   (item_id, search_key(title) + " " + search_key(text)))

    def found(typed: str) -> list[int]:
        return [r[0] for r in pg.execute(
            "SELECT item_id FROM items_search WHERE document @@ plainto_tsquery('simple', %s)"
            " ORDER BY ts_rank(document, plainto_tsquery('simple', %s)) DESC, item_id DESC",
            (search_key(typed), search_key(typed)))]

    assert found("tin gia") == [3, 1]
    assert found("ĐÀ NẴNG") == found("da nang") == [1]
    assert found("ha noi nang") == [2]
    assert found("tin ha") == []
    pg.execute("DELETE FROM items WHERE id = 1")  # the search row goes with its item
    assert found("tin gia") == [3]
