"""Copy an installation from its SQLite file into an empty PostgreSQL database (`monitor migrate-to-postgres`).

Rows keep their ids, so every reference (items → sources, decisions → items and users, the hash chain's
`prev_hash`) stays true and the decision chain verifies on PostgreSQL exactly as it did on SQLite. The copy
is one PostgreSQL transaction: it lands whole or not at all, and the SQLite file is only read.

Triggers are switched off for the copy (ALTER TABLE … DISABLE TRIGGER USER, which the tables' owner may do):
the rows already carry what the triggers would compute, and insert triggers such as the sources' enabled log
or the known claims' version counter would otherwise add rows that never happened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

BATCH = 2_000

# SQLite-only tables: the FTS5 index (rebuilt as PostgreSQL's items_search from the same folded keys) and
# the migration record (each backend has its own numbering).
_NOT_COPIED = ("items_fts", "schema_version", "sqlite_")
# Tables the PostgreSQL schema seeds with a row of its own (the claims library's version counter): the
# SQLite file's row replaces it.
_SEEDED = ("known_claims_version",)


@dataclass
class TransferReport:
    """Rows copied per table, in the order they were copied."""

    rows: dict[str, int] = field(default_factory=dict)
    search_entries: int = 0


class TransferError(Exception):
    """The copy cannot start or did not land; the message names the table or the reason."""


def tables_in_order(source: sqlite3.Connection) -> list[str]:
    """The SQLite file's tables, every referenced table before the tables that reference it."""
    names = [row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
             if not row[0].startswith(_NOT_COPIED)]
    needs = {name: {row[2] for row in source.execute(f'PRAGMA foreign_key_list("{name}")')} - {name}
             for name in names}
    ordered: list[str] = []
    while needs:
        ready = sorted(name for name, parents in needs.items() if not parents - set(ordered))
        if not ready:
            raise TransferError(f"the tables' references form a cycle: {', '.join(sorted(needs))}")
        ordered.extend(ready)
        for name in ready:
            del needs[name]
    return ordered


def columns(source: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in source.execute(f'PRAGMA table_info("{table}")')]


def _rows(source: sqlite3.Connection, table: str, names: list[str]) -> Iterator[list[tuple]]:
    quoted = ", ".join(f'"{name}"' for name in names)
    key = [row[1] for row in sorted(source.execute(f'PRAGMA table_info("{table}")'), key=lambda r: r[5]) if row[5]]
    order = " ORDER BY " + ", ".join(f'"{name}"' for name in key) if key else ""  # ids ascending, as written
    cursor = source.execute(f'SELECT {quoted} FROM "{table}"{order}')
    while batch := cursor.fetchmany(BATCH):
        yield batch


def target_is_empty(target, tables: list[str]) -> list[str]:
    """The target's tables that already hold rows (the copy refuses them: it would mix two installations)."""
    busy = []
    for table in tables:
        if table in _SEEDED:
            continue
        if target.conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]:
            busy.append(table)
    return busy


def copy_all(source: sqlite3.Connection, target, *, progress: Callable[[str, int], None] | None = None
             ) -> TransferReport:
    """Copy every table of `source` (a read-only SQLite connection) into `target` (a migrated, empty
    PgDatabase) in one transaction; then set each identity sequence past the largest id copied."""
    tables = tables_in_order(source)
    missing = [t for t in tables if not _pg_columns(target, t)]
    if missing:
        raise TransferError(f"the PostgreSQL schema has no table {missing[0]} (is the SQLite file newer than "
                            "this program?)")
    busy = target_is_empty(target, tables)
    if busy:
        raise TransferError(f"the PostgreSQL database already holds data (table {busy[0]}); migrate into an "
                            "empty database")
    report = TransferReport()
    conn = target.conn
    conn.execute("BEGIN")
    try:
        for table in tables:
            conn.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        for table in _SEEDED:
            conn.execute(f'DELETE FROM "{table}"')
        for table in tables:
            report.rows[table] = _copy_table(source, target, table, progress)
        report.search_entries = _copy_search_keys(source, target)
        for table in tables:
            conn.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
            _advance_identity(target, table)
        conn.execute("COMMIT")
    except BaseException:
        conn.rollback()
        raise
    return report


def _pg_columns(target, table: str) -> list[str]:
    return [row[0] for row in target.conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = ? ORDER BY ordinal_position", [table])]


def _copy_table(source: sqlite3.Connection, target, table: str, progress) -> int:
    names = columns(source, table)
    absent = sorted(set(names) - set(_pg_columns(target, table)))
    if absent:
        raise TransferError(f"table {table}: column {absent[0]} has no place in the PostgreSQL schema")
    quoted = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" for _ in names)
    sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})'
    copied = 0
    rows = _rows(source, table, names)
    while True:
        try:
            batch = next(rows, None)
        except sqlite3.Error as exc:  # text that is not UTF-8 (sqlite3 cannot decode it)
            raise TransferError(f"table {table}, after row {copied}: {exc}".splitlines()[0]) from exc
        if batch is None:
            return copied
        try:
            target.conn.executemany(sql, batch)
        except Exception as exc:
            raise TransferError(f"table {table}, rows {copied + 1}–{copied + len(batch)}: {exc}".splitlines()[0]) from exc
        copied += len(batch)
        if progress:
            progress(table, copied)


def _copy_search_keys(source: sqlite3.Connection, target) -> int:
    """SQLite's FTS5 table holds each item's folded search keys (title, text): PostgreSQL indexes the same."""
    from db import items

    copied = 0
    cursor = source.execute("SELECT rowid, title, text FROM items_fts ORDER BY rowid")
    while batch := cursor.fetchmany(BATCH):
        items.index_search_many(target.conn, [(i, t or "", x or "") for i, t, x in batch], dialect="postgresql")
        copied += len(batch)
    return copied


def _advance_identity(target, table: str) -> None:
    """Rows were inserted with their ids: move the table's identity sequence past the largest."""
    if "id" not in _pg_columns(target, table):
        return
    row = target.conn.execute("SELECT pg_get_serial_sequence(?, 'id')", [table]).fetchone()
    if row is None or row[0] is None:
        return
    target.conn.execute(f'SELECT setval(?, COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1, false)', [row[0]])
