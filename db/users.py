"""Users and their roles. Passwords are stored as werkzeug hashes only."""

from __future__ import annotations

import sqlite_utils
from werkzeug.security import check_password_hash, generate_password_hash

from db import transaction, utcnow

ROLES = ("moderator", "analyst", "admin")


class UserError(ValueError):
    pass


def add_user(database: sqlite_utils.Database, name: str, password: str, role: str) -> int:
    """Create a user; a name already taken or an unknown role is an error, not an overwrite."""
    name = name.strip()
    if not name:
        raise UserError("user name must not be empty")
    if role not in ROLES:
        raise UserError(f"unknown role '{role}' (expected one of: {', '.join(ROLES)})")
    if len(password) < 8:
        raise UserError("password must be at least 8 characters")
    with transaction(database) as conn:
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise UserError(f"user '{name}' already exists")
        cursor = conn.execute(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
            (name, generate_password_hash(password), role, utcnow()),
        )
        return int(cursor.lastrowid)


def get_user(database: sqlite_utils.Database, user_id: int) -> dict | None:
    rows = list(database.query("SELECT * FROM users WHERE id = ?", [user_id]))
    return rows[0] if rows else None


def find_user(database: sqlite_utils.Database, name: str) -> dict | None:
    rows = list(database.query("SELECT * FROM users WHERE name = ?", [name]))
    return rows[0] if rows else None


def authenticate(database: sqlite_utils.Database, name: str, password: str) -> dict | None:
    """The user if the name and password match an active account, else None."""
    user = find_user(database, name.strip())
    if not user or not user["active"] or not check_password_hash(user["password_hash"], password):
        return None
    return user


def count_users(database: sqlite_utils.Database) -> int:
    return database.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
