"""Comments: a thread of notes per story (its cluster, or the item alone), apart from the decision log.

A comment is conversation, not a decision: it changes no status and is not signed. An `@name` naming an
existing, active user records a mention, which puts the story in that user's inbox until they mark it read
or answer in the same thread.
"""

from __future__ import annotations

import re

import sqlite_utils

from db import transaction, utcnow

MAX_BODY = 4000
MENTION = re.compile(r"(?<![\w@])@([\w.\-]{1,64})")

# A mention is open until read, or until the mentioned user comments on the same story after it.
_OPEN_MENTIONS = (
    " FROM comment_mentions m JOIN comments c ON c.id = m.comment_id JOIN items ON items.id = c.item_id"
    " WHERE m.user_id = ? AND m.read_at IS NULL AND NOT EXISTS (SELECT 1 FROM comments later"
    " WHERE later.user_id = m.user_id AND later.id > c.id AND (later.item_id = c.item_id"
    " OR (c.cluster_id IS NOT NULL AND later.cluster_id = c.cluster_id)))")


def mentioned_names(body: str) -> list[str]:
    """The distinct @names in a comment, in order (trailing dots of a sentence end are not part of a name)."""
    seen: dict[str, None] = {}
    for match in MENTION.finditer(body):
        seen.setdefault(match.group(1).rstrip(".-"), None)
    return [name for name in seen if name]


def add(database: sqlite_utils.Database, *, item_id: int, user_id: int, body: str) -> tuple[int, list[str]]:
    """Add a comment to the item's story; return its id and the names of the users it mentions."""
    body = body.strip()[:MAX_BODY]
    if not body:
        raise ValueError("an empty comment")
    with transaction(database) as conn:
        item = conn.execute("SELECT cluster_id FROM items WHERE id = ?", (item_id,)).fetchone()
        if item is None:
            raise ValueError(f"item {item_id} does not exist")
        name = conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()[0]
        comment_id = conn.execute(
            "INSERT INTO comments (item_id, cluster_id, user_id, user_name, body, created_at) VALUES (?, ?, ?, ?, ?, ?)"
            " RETURNING id",
            (item_id, item[0], user_id, name, body, utcnow())).fetchone()[0]
        mentioned = []
        for candidate in mentioned_names(body):
            found = conn.execute("SELECT id, name FROM users WHERE name = ? AND active = 1 AND id != ?",
                                 (candidate, user_id)).fetchone()
            if found:
                conn.execute("INSERT INTO comment_mentions (comment_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                             (comment_id, found[0]))
                mentioned.append(found[1])
    return comment_id, mentioned


def thread(database: sqlite_utils.Database, item_id: int, cluster_id: int | None) -> list[dict]:
    """The story's comments, oldest first: those on any copy of the cluster, or on the item alone."""
    if cluster_id is None:
        return list(database.query("SELECT * FROM comments WHERE item_id = ? ORDER BY id", [item_id]))
    return list(database.query("SELECT * FROM comments WHERE cluster_id = ? OR item_id = ? ORDER BY id",
                               [cluster_id, item_id]))


def open_mention_count(database: sqlite_utils.Database, user_id: int) -> int:
    """How many mentions wait for the user (part of the inbox badge)."""
    return database.conn.execute(f"SELECT COUNT(*){_OPEN_MENTIONS}", (user_id,)).fetchone()[0]


def open_mentions(database: sqlite_utils.Database, user_id: int, limit: int = 200) -> list[dict]:
    """The user's unread mentions, oldest first, with the comment, its author and the story's item."""
    return list(database.query(
        "SELECT c.id AS comment_id, c.item_id, c.body, c.user_name AS author, c.created_at, items.title"
        f"{_OPEN_MENTIONS} ORDER BY c.id LIMIT ?", [user_id, limit]))


def mark_read(database: sqlite_utils.Database, comment_id: int, user_id: int) -> bool:
    """Take a mention out of the user's inbox; False when there was no unread one."""
    with transaction(database) as conn:
        return conn.execute("UPDATE comment_mentions SET read_at = ? WHERE comment_id = ? AND user_id = ?"
                            " AND read_at IS NULL", (utcnow(), comment_id, user_id)).rowcount == 1
