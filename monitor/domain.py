"""Domain words of the monitor: moderator actions, source kinds, the default time zone, raw items.

Statuses, categories and roles are defined in `vocab` (db and classifiers need them too and may not
import the monitor) and re-exported here, so monitor and web code import every domain word from one module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from vocab import CATEGORIES, ROLES, STATUSES, Category, Role, Status

__all__ = ["CATEGORIES", "CONFIRMED_CATEGORY", "DEFAULT_TIMEZONE", "ROLES", "SOURCE_KINDS", "STATUSES", "Action", "Category", "RawItem",
           "Role", "Status"]


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


# The category each confirming action confirms (the other actions confirm none): what the dashboard
# counts per category, the retrain job learns as a positive example and the report scores precision on.
CONFIRMED_CATEGORY: dict[Action, Category] = {Action.CONFIRM_MISINFORMATION: Category.MISINFORMATION,
                                              Action.CONFIRM_HARM: Category.HARM}


# One module per kind in monitor/crawl/sources/ reads it; feeds.yaml may name only these.
SOURCE_KINDS = ("rss", "html", "mastodon", "bluesky", "telegram")
# Where the committees are: the zone of naive source times, report weeks, scheduled jobs and the web's clock
# unless a source, a command or a user says otherwise.
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


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
