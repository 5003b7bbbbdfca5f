"""The service's words that every layer stores, scores or shows: item statuses, categories, roles.

They live in this tiny package, which imports nothing first-party, because the lowest layers need
them and must not import each other: `db` validates categories and roles against them,
`classifiers` trains one score per category, and `monitor` and `web` read them (through
`monitor.domain`, which re-exports them next to the monitor-only words). Adding a category or a role
is one edit here (plus its catalog label in web/labels.py).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    FLAGGED = "flagged"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"


class Category(StrEnum):
    MISINFORMATION = "misinformation"
    HARM = "harm"


class Role(StrEnum):
    MODERATOR = "moderator"
    ANALYST = "analyst"
    ADMIN = "admin"


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
ROLES: tuple[str, ...] = tuple(r.value for r in Role)
