"""Per-user preferences the web UI changes (language, time zone)."""

from __future__ import annotations

import sqlite_utils

from db import transaction


def set_locale(database: sqlite_utils.Database, user_id: int, locale: str) -> None:
    with transaction(database) as conn:
        conn.execute("UPDATE users SET locale = ? WHERE id = ?", (locale, user_id))
