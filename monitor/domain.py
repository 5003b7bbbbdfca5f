"""Domain words shared across the service: statuses, categories, roles, raw items.

Status values and categories live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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


class Action(StrEnum):
    """What a moderator does to an item, and the status it leads to."""

    CONFIRM_MISINFORMATION = "confirm_misinformation"
    CONFIRM_HARM = "confirm_harm"
    DISMISS = "dismiss"
    ESCALATE = "escalate"
    REOPEN = "reopen"

    @property
    def new_status(self) -> Status:
        return {
            Action.CONFIRM_MISINFORMATION: Status.CONFIRMED,
            Action.CONFIRM_HARM: Status.CONFIRMED,
            Action.DISMISS: Status.DISMISSED,
            Action.ESCALATE: Status.ESCALATED,
            Action.REOPEN: Status.FLAGGED,
        }[self]

    @property
    def needs_note(self) -> bool:
        return self in (Action.ESCALATE, Action.REOPEN)


SOURCE_KINDS = ("rss", "html", "mastodon", "bluesky", "telegram")


@dataclass
class RawItem:
    """One post or article as a source parser found it, before normalisation.

    `published` may be an aware datetime, a naive one (taken in the source's zone) or None.
    """

    guid: str
    title: str = ""
    text: str = ""
    url: str | None = None
    author: str | None = None
    published: datetime | None = None
    language: str | None = None
    extra: dict = field(default_factory=dict)
