"""Many writers appending to the decision log at once, each on its own connection (as processes on several
machines are): the chain must verify, ids must run 1..n without a gap or a repeat, and optimistic locking must
let exactly one of several moderators deciding the same item at the same version win.

On SQLite BEGIN IMMEDIATE serialises the appends; on PostgreSQL db.transaction's advisory lock does. Without
it two writers would read the same head and write the same id (one fails on the key) or fork the chain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import db
from db.decisions import StaleItemError, decide, verify
from db.users import add_user

WRITERS = 8
PER_WRITER = 5


def _seed(database, items: int) -> tuple[list[int], list[int]]:
    """`items` flagged items and one moderator per writer: (item ids, user ids)."""
    with db.transaction(database) as conn:
        source = conn.execute("INSERT INTO sources (name, kind, url, created_at) VALUES ('s', 'rss', 'https://x.vn/',"
                              " '2026-11-01T00:00:00Z') RETURNING id").fetchone()[0]
        ids = [conn.execute("INSERT INTO items (source_id, guid, fetched_at, content_hash, status)"
                            " VALUES (?, ?, '2026-11-01T00:00:00Z', ?, 'flagged') RETURNING id",
                            (source, f"g{n}", f"h{n}")).fetchone()[0] for n in range(items)]
    users = [add_user(database, f"mod{n}", "password-123", "moderator") for n in range(WRITERS)]
    return ids, users


def _run_at_once(database_url: str, work: Callable[[object, int], None]) -> list[BaseException]:
    """Run work(connection, writer number) in WRITERS threads, each on its own connection, released together."""
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        connection = db.connect(database_url, migrate_schema=False)
        try:
            start.wait()
            work(connection, number)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connection.conn.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_decisions_on_different_items_all_land_once_on_one_chain(any_db, database_url):
    items, users = _seed(any_db, WRITERS * PER_WRITER)
    decide(any_db, item_id=items[0], user_id=users[0], action="escalate", new_status="escalated", note="first",
           expected_version=1)  # the key and the checkpoint file exist before the rush, as in a running service

    def work(connection, number: int) -> None:
        for item_id in items[number * PER_WRITER:(number + 1) * PER_WRITER]:
            version = 2 if item_id == items[0] else 1
            decide(connection, item_id=item_id, user_id=users[number], action="dismiss", new_status="dismissed",
                   note=f"writer {number}", expected_version=version)

    assert _run_at_once(database_url, work) == []
    rows = any_db.conn.execute("SELECT id, item_id FROM decisions ORDER BY id").fetchall()
    expected = 1 + WRITERS * PER_WRITER
    assert [row[0] for row in rows] == list(range(1, expected + 1))  # no gap, no repeat
    assert sorted(row[1] for row in rows[1:]) == sorted(items)  # each item decided exactly once by the rush
    statuses = {row[0] for row in any_db.conn.execute("SELECT status FROM items")}
    assert statuses == {"dismissed"}
    report = verify(any_db)
    assert report.problems == []
    assert (report.decisions, report.keyed) == (expected, expected)
    assert report.checkpoints == expected  # one signed checkpoint per decision, in whatever order they came


def test_concurrent_decisions_on_one_item_at_one_version_let_exactly_one_win(any_db, database_url):
    (item_id,), users = _seed(any_db, 1)
    won: list[int] = []
    stale: list[int] = []

    def work(connection, number: int) -> None:
        try:
            decide(connection, item_id=item_id, user_id=users[number], action="confirm_misinformation",
                   new_status="confirmed", note=f"writer {number}", expected_version=1)
            won.append(number)
        except StaleItemError:
            stale.append(number)

    assert _run_at_once(database_url, work) == []
    assert len(won) == 1 and len(stale) == WRITERS - 1
    decisions = list(any_db.query("SELECT user_id, item_version FROM decisions"))
    assert decisions == [{"user_id": users[won[0]], "item_version": 2}]
    version, status = any_db.conn.execute("SELECT version, status FROM items WHERE id = ?", (item_id,)).fetchone()
    assert (version, status) == (2, "confirmed")
    assert verify(any_db).problems == []

