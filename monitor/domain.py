"""Domain words of the monitor: source kinds, the default time zone, raw items.

Statuses, categories, roles and moderator actions are defined in `vocab` (db and classifiers need them too and may not
import the monitor) and re-exported here, so monitor and web code import every domain word from one module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vocab import (
    AGENCIES,
    CATEGORIES,
    CLAIM_MATCH,
    CONFIRMED_CATEGORY,
    DECISIONS,
    FOLLOW_UP_KINDS,
    FOLLOW_UP_OUTCOMES,
    ROLES,
    STATUSES,
    Action,
    Agency,
    Category,
    FollowUpKind,
    FollowUpOutcome,
    Role,
    Status,
)

__all__ = ["AGENCIES", "CLAIM_MATCH", "FOLLOW_UP_KINDS", "FOLLOW_UP_OUTCOMES", "Agency", "FollowUpKind", "FollowUpOutcome",
           "CATEGORIES", "CONFIRMED_CATEGORY", "DECISIONS", "DEFAULT_TIMEZONE", "ROLES", "SOURCE_KINDS", "STATUSES", "Action", "Category", "RawItem",
           "Role", "Status"]


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
