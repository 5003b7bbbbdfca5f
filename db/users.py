"""Users and their roles. Passwords are stored as werkzeug hashes only."""

from __future__ import annotations

import functools
import sqlite3

import sqlite_utils
from werkzeug.security import check_password_hash, generate_password_hash

from classifiers.text import nfc
from db import transaction, utcnow
from vocab import ROLES


class UserError(ValueError):
    pass


class UserChangeRefused(UserError):
    """A change the rules forbid; `code` lets the web page show its own (translated) message."""

    def __init__(self, code: str, message: str, name: str = ""):
        super().__init__(message)
        self.code = code
        self.name = name


MIN_PASSWORD = 8


def check_account(name: str, password: str, role: str) -> None:
    """UserError if an account with this name, password and role may not be made; needs no database, so
    `monitor init` checks before it creates one (a refused password left an empty database behind)."""
    if not name.strip():
        raise UserError("user name must not be empty")
    if role not in ROLES:
        raise UserError(f"unknown role '{role}' (expected one of: {', '.join(ROLES)})")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must be at least {MIN_PASSWORD} characters")


def add_user(database: sqlite_utils.Database, name: str, password: str, role: str) -> int:
    """Create a user; a name already taken or an unknown role is an error, not an overwrite."""
    name = name.strip()
    check_account(name, password, role)
    with transaction(database) as conn:
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise UserError(f"user '{name}' already exists")
        cursor = conn.execute(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?) RETURNING id",
            (name, generate_password_hash(password), role, utcnow()),
        )
        return int(cursor.fetchone()[0])


def get_user(database: sqlite_utils.Database, user_id: int) -> dict | None:
    rows = list(database.query("SELECT * FROM users WHERE id = ?", [user_id]))
    return rows[0] if rows else None


def find_user(database: sqlite_utils.Database, name: str) -> dict | None:
    rows = list(database.query("SELECT * FROM users WHERE name = ?", [name]))
    return rows[0] if rows else None


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, made like the stored ones (made once, on the first unknown name)."""
    import secrets

    return generate_password_hash(secrets.token_hex(16))


def authenticate(database: sqlite_utils.Database, name: str, password: str) -> dict | None:
    """The user if the name and password match an active account, else None.

    An unknown or deactivated name still costs one password check (against a dummy hash), so the
    answer's timing does not tell which user names exist.
    """
    user = find_user(database, name.strip())
    usable = bool(user and user["active"])
    matches = check_password_hash(user["password_hash"] if usable else _dummy_hash(), password)
    return user if usable and matches else None


def end_sessions(database: sqlite_utils.Database, user_id: int) -> None:
    """Every session the user holds stops working (at logout): the session stamp includes this counter."""
    with transaction(database) as conn:
        conn.execute("UPDATE users SET session_generation = session_generation + 1 WHERE id = ?", (user_id,))


def count_users(database: sqlite_utils.Database) -> int:
    return database.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]


# --- Account management by admins (web Users page). Every change is written to user_changes in the
# same transaction as the change itself, so the trail never misses one and never records one that failed.

USER_COLUMNS = "id, name, role, active, locale, timezone, created_at"


def list_users(database: sqlite_utils.Database) -> list[dict]:
    """Every account without its password hash, by name ignoring case (lower(): SQLite folds ASCII letters
    only, PostgreSQL Vietnamese ones too, so "Đức" and "đức" sort together there)."""
    return list(database.query(f"SELECT {USER_COLUMNS} FROM users ORDER BY lower(name), id"))


def _record(conn: sqlite3.Connection, actor: dict | None, target: dict, change: str,
            old_value: str = "", new_value: str = "") -> None:
    conn.execute(
        "INSERT INTO user_changes (changed_at, actor_id, actor_name, target_id, target_name, change, old_value,"
        " new_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (utcnow(), actor["id"] if actor else None, actor["name"] if actor else "(cli)", target["id"], target["name"],
         change, old_value, new_value),
    )


def _row(conn: sqlite3.Connection, user_id: int | None) -> dict | None:
    if user_id is None:
        return None
    cursor = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
    row = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], row, strict=True)) if row else None


def create_user(database: sqlite_utils.Database, actor_id: int | None, name: str, password: str, role: str) -> int:
    """add_user plus its audit row, both or neither; the name is stored NFC so look-alikes cannot coexist."""
    with transaction(database) as conn:
        user_id = add_user(database, nfc(name), password, role)
        _record(conn, _row(conn, actor_id), _row(conn, user_id), "created", "", role)
        return user_id


def _target(conn: sqlite3.Connection, user_id: int) -> dict:
    target = _row(conn, user_id)
    if target is None:
        raise UserChangeRefused("unknown_user", f"no user with id {user_id}")
    return target


def _refuse_losing_admin(conn: sqlite3.Connection, actor: dict | None, target: dict, what: str) -> None:
    """Admins may not lock themselves out, and the service may never be left without an active admin."""
    if actor is not None and actor["id"] == target["id"]:
        raise UserChangeRefused(f"self_{what}", f"you cannot {what} your own account")
    if target["role"] == "admin" and target["active"]:
        others = conn.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND id != ?",
                              (target["id"],)).fetchone()[0]
        if others == 0:
            raise UserChangeRefused("last_admin", f"'{target['name']}' is the last active admin", target["name"])


def set_role(database: sqlite_utils.Database, actor_id: int | None, user_id: int, role: str) -> bool:
    """Change a user's role; False when it already had that role (nothing recorded)."""
    if role not in ROLES:
        raise UserChangeRefused("bad_role", f"unknown role '{role}' (expected one of: {', '.join(ROLES)})")
    with transaction(database) as conn:
        target = _target(conn, user_id)
        if target["role"] == role:
            return False
        if target["role"] == "admin":
            _refuse_losing_admin(conn, _row(conn, actor_id), target, "demote")
        conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
        _record(conn, _row(conn, actor_id), target, "role", target["role"], role)
        return True


def set_active(database: sqlite_utils.Database, actor_id: int | None, user_id: int, active: bool) -> bool:
    """Deactivate or reactivate an account; False when it was already so. A deactivated user's sessions
    and API tokens stop working at their next request (web/access.py and db/tokens.py check `active`)."""
    with transaction(database) as conn:
        target = _target(conn, user_id)
        if bool(target["active"]) == active:
            return False
        if not active:
            _refuse_losing_admin(conn, _row(conn, actor_id), target, "deactivate")
        conn.execute("UPDATE users SET active = ? WHERE id = ?", (1 if active else 0, user_id))
        _record(conn, _row(conn, actor_id), target, "reactivated" if active else "deactivated")
        return True


def reset_password(database: sqlite_utils.Database, actor_id: int | None, user_id: int, password: str) -> None:
    """Set a new password (hashed); the trail says that it changed, never what to."""
    if len(password) < MIN_PASSWORD:
        raise UserChangeRefused("short_password", f"password must be at least {MIN_PASSWORD} characters")
    with transaction(database) as conn:
        target = _target(conn, user_id)
        conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (generate_password_hash(password), user_id))
        _record(conn, _row(conn, actor_id), target, "password_reset")


def recent_changes(database: sqlite_utils.Database, limit: int = 50) -> list[dict]:
    """The newest account changes first."""
    return list(database.query("SELECT * FROM user_changes ORDER BY id DESC LIMIT ?", [limit]))


# --- Pick lists for pages and forms (web/).

def user_names(database: sqlite_utils.Database) -> list[str]:
    """Every account's name, active or not, by name: the audit browser filters decisions by past users too."""
    return [row[0] for row in database.conn.execute("SELECT name FROM users ORDER BY name")]


def active_users(database: sqlite_utils.Database) -> list[dict]:
    """id, name and role of each active account, by name: who may get a token or an escalation."""
    return list(database.query("SELECT id, name, role FROM users WHERE active = 1 ORDER BY name"))
