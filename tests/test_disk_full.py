"""Issue 15 item 17: a full disk is seen (status, Sources page, /health), backs crawling off, loses nothing."""

from __future__ import annotations

import logging
import sqlite3

import pytest

import db


def test_a_transaction_sqlite_already_rolled_back_keeps_the_error_that_caused_it(tmp_db):
    """SQLite rolls a transaction back by itself on SQLITE_FULL; our ROLLBACK then failed with
    "cannot rollback - no transaction is active", which replaced the real error."""
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        with db.transaction(tmp_db) as conn:
            conn.execute("ROLLBACK")  # what SQLite does on its own after a full disk
            raise sqlite3.OperationalError("database or disk is full")
    assert not tmp_db.conn.in_transaction
    with db.transaction(tmp_db) as conn:  # the connection is usable again
        conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES ('k', 'v', 'now')")


class _FailingRollback:
    """A connection whose ROLLBACK fails (as on an I/O error), everything else passed through."""

    def __init__(self, conn: sqlite3.Connection):
        self.real = conn

    @property
    def in_transaction(self) -> bool:
        return self.real.in_transaction

    def execute(self, sql: str, *args):
        if sql == "ROLLBACK":
            self.real.execute("ROLLBACK")
            raise sqlite3.OperationalError("disk I/O error")
        return self.real.execute(sql, *args)


@pytest.mark.parametrize("fail_in", ["body", "commit"])
def test_a_failing_rollback_is_logged_and_the_original_error_raised(tmp_db, caplog, fail_in):
    caplog.set_level(logging.WARNING, logger="db")
    proxy = type("Database", (), {"conn": _FailingRollback(tmp_db.conn)})()
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        with db.transaction(proxy) as conn:
            if fail_in == "commit":
                conn.execute("PRAGMA defer_foreign_keys = ON")  # the violation surfaces at COMMIT
            conn.execute("INSERT INTO crawl_runs (source_id, started_at) VALUES (999, 'x')")
    assert "rollback failed" in caplog.text and "disk I/O error" in caplog.text
    assert not tmp_db.conn.in_transaction
