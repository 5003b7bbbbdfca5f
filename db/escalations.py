"""The escalation inbox: escalations still waiting for their addressee, their count, and replies.

An escalation is open while nobody has replied to it and no decision on its item came after it (the
decision log says so; nothing else is stored when someone decides). It is addressed to a person
(target_user_id), to everyone with a role (target_role), or both.
"""

from __future__ import annotations

import sqlite_utils

from db import transaction, utcnow

# Open, addressed to the user (first parameter) or to their role (second), and not sent by them (third).
_OPEN_FOR = (
    " FROM escalations e JOIN decisions d ON d.id = e.decision_id JOIN items ON items.id = d.item_id"
    " WHERE (e.target_user_id = ? OR e.target_role = ?) AND d.user_id != ?"
    " AND NOT EXISTS (SELECT 1 FROM escalation_replies r WHERE r.decision_id = e.decision_id)"
    " AND NOT EXISTS (SELECT 1 FROM decisions later WHERE later.item_id = d.item_id AND later.id > d.id)")


def open_count(database: sqlite_utils.Database, user_id: int, role: str) -> int:
    """How many escalations wait for this user (the nav badge): one query, by the two target indexes."""
    return database.conn.execute(f"SELECT COUNT(*){_OPEN_FOR}", (user_id, role, user_id)).fetchone()[0]


def open_for(database: sqlite_utils.Database, user_id: int, role: str, limit: int = 200) -> list[dict]:
    """The user's inbox, oldest first: the item, the note, who sent it and when, and to whom."""
    return list(database.query(
        "SELECT e.decision_id, d.item_id, d.note, d.created_at, d.user_name AS sender, e.target_role,"
        f" e.target_user_name AS target_user, items.title, items.status, items.version{_OPEN_FOR}"
        " ORDER BY e.decision_id LIMIT ?", [user_id, role, user_id, limit]))


def get(database: sqlite_utils.Database, decision_id: int) -> dict | None:
    """One escalation: its targets, its decision's item and sender."""
    rows = list(database.query(
        "SELECT e.decision_id, e.target_role, e.target_user_id, d.item_id, d.user_id AS sender_id"
        " FROM escalations e JOIN decisions d ON d.id = e.decision_id WHERE e.decision_id = ?", [decision_id]))
    return rows[0] if rows else None


def reply(database: sqlite_utils.Database, decision_id: int, user_id: int, text: str) -> bool:
    """Close an open escalation with a reply; False when it was already closed (replied or decided)."""
    with transaction(database) as conn:
        return conn.execute(
            "INSERT INTO escalation_replies (decision_id, user_id, reply, created_at) SELECT ?, ?, ?, ?"
            " WHERE NOT EXISTS (SELECT 1 FROM escalation_replies WHERE decision_id = ?)"
            " AND NOT EXISTS (SELECT 1 FROM decisions later JOIN decisions d ON d.id = ?"
            " WHERE later.item_id = d.item_id AND later.id > d.id)",
            (decision_id, user_id, text, utcnow(), decision_id, decision_id)).rowcount == 1


def latest_for_items(database: sqlite_utils.Database, item_ids: list[int]) -> dict[int, dict]:
    """item id → its latest escalation (target, note, sender): what the queue shows under ?status=escalated."""
    if not item_ids:
        return {}
    marks = ",".join("?" * len(item_ids))
    return {row["item_id"]: row for row in database.query(
        "SELECT d.item_id, d.note, d.user_name AS sender, e.target_role, e.target_user_name AS target_user,"
        " r.reply FROM escalations e JOIN decisions d ON d.id = e.decision_id"
        " LEFT JOIN escalation_replies r ON r.decision_id = e.decision_id"
        f" WHERE d.id IN (SELECT MAX(x.id) FROM decisions x JOIN escalations y ON y.decision_id = x.id"
        f" WHERE x.item_id IN ({marks}) GROUP BY x.item_id)", item_ids)}
