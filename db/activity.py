"""What happened per UTC day: items flagged and decisions taken, grouped for the dashboard's charts.

Both queries group in the database, so a month of a busy province returns a few hundred rows, not its items.
They group by position: PostgreSQL reads a GROUP BY name as an input column before an output alias, and
`status` / `action` are columns of the joined tables too.
"""

from __future__ import annotations

import sqlite_utils


def flagged_per_day(database: sqlite_utils.Database, since: str, until: str) -> list[dict]:
    """Items fetched in [since, until) that carry a flag reason, counted by fetch day, source and reasons.

    Rows: day (YYYY-MM-DD), source (its name), reasons (the stored JSON list), n.
    """
    return list(database.query(
        "SELECT substr(items.fetched_at, 1, 10) AS day, sources.name AS source, items.flag_reasons AS reasons,"
        " COUNT(*) AS n FROM items JOIN sources ON sources.id = items.source_id"
        " WHERE items.fetched_at >= ? AND items.fetched_at < ? AND items.flag_reasons != '[]'"
        " GROUP BY 1, 2, 3", [since, until]))


def closing_decisions_per_day(database: sqlite_utils.Database, since: str, until: str) -> list[dict]:
    """Decisions taken in [since, until) that confirmed or dismissed an item, counted by decision day,
    new status, action and the item's source.

    Rows: day (YYYY-MM-DD), status, action, source (its name), n.
    """
    return list(database.query(
        "SELECT substr(decisions.created_at, 1, 10) AS day, decisions.new_status AS status, decisions.action,"
        " sources.name AS source, COUNT(*) AS n FROM decisions JOIN items ON items.id = decisions.item_id"
        " JOIN sources ON sources.id = items.source_id"
        " WHERE decisions.created_at >= ? AND decisions.created_at < ?"
        " AND decisions.new_status IN ('confirmed', 'dismissed') GROUP BY 1, 2, 3, 4",
        [since, until]))
