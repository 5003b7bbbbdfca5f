"""API tokens: random secrets shown once; only their SHA-256 is stored, so a leaked database leaks no tokens."""

from __future__ import annotations

import hashlib
import secrets

import sqlite_utils

from db import transaction, utcnow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(database: sqlite_utils.Database, user_id: int, name: str) -> str:
    token = "mon_" + secrets.token_urlsafe(32)
    with transaction(database) as conn:
        conn.execute("INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                     (user_id, name, _digest(token), utcnow()))
    return token


def user_for_token(database: sqlite_utils.Database, token: str) -> dict | None:
    """The active user owning a live token, else None."""
    if not token:
        return None
    rows = list(database.query(
        "SELECT users.*, api_tokens.id AS token_id FROM api_tokens JOIN users ON users.id = api_tokens.user_id"
        " WHERE api_tokens.token_hash = ? AND api_tokens.revoked = 0 AND users.active = 1", [_digest(token)]))
    if not rows:
        return None
    return rows[0]


def list_tokens(database: sqlite_utils.Database, user_id: int | None = None) -> list[dict]:
    sql = ("SELECT api_tokens.id, api_tokens.name, api_tokens.created_at, api_tokens.last_used_at, api_tokens.revoked,"
           " users.name AS user_name FROM api_tokens JOIN users ON users.id = api_tokens.user_id")
    params: list = []
    if user_id is not None:
        sql += " WHERE api_tokens.user_id = ?"
        params.append(user_id)
    return list(database.query(sql + " ORDER BY api_tokens.id", params))


def revoke(database: sqlite_utils.Database, token_id: int) -> bool:
    with transaction(database) as conn:
        return conn.execute("UPDATE api_tokens SET revoked = 1 WHERE id = ?", (token_id,)).rowcount == 1
