"""The service's words that every layer stores, scores or shows: item statuses, categories, roles,
moderators' actions.

They live in this tiny package, which imports nothing first-party, because the lowest layers need
them and must not import each other: `db` validates categories and roles against them and signs
actions into the decision log, `classifiers` trains one score per category, and `monitor` and `web`
read them (through `monitor.domain`, which re-exports them next to the monitor-only words). Adding a
category, a role or an action is one edit here (plus its catalog label in vocab/labels.py).
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
# A flag reason beside the categories (items.flag_reasons): the item repeats a claim of the library of
# debunked claims (issue 11). Not a category: the model is never trained or scored on it.
CLAIM_MATCH = "claim_match"
ROLES: tuple[str, ...] = tuple(r.value for r in Role)


class Action(StrEnum):
    """What a moderator does to an item, and the status it leads to."""

    CONFIRM_MISINFORMATION = "confirm_misinformation"
    CONFIRM_HARM = "confirm_harm"
    DISMISS = "dismiss"
    ESCALATE = "escalate"
    REOPEN = "reopen"
    # Takes back the decider's own decision within a short window (db.decisions.undo): its own signed
    # entry in the log, restoring the status the undone decision found, so it has no fixed new_status.
    UNDO = "undo"

    @property
    def new_status(self) -> Status:
        if self is Action.UNDO:
            raise ValueError("an undo restores the undone decision's old status; it has no status of its own")
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


# The actions a moderator chooses on an item (buttons, keys, the API); an undo is not one of them:
# it is offered only for a decision just made, by its own route.
DECISIONS: tuple[Action, ...] = tuple(a for a in Action if a is not Action.UNDO)


# The category each confirming action confirms (the other actions confirm none): what the dashboard
# counts per category, the retrain job learns as a positive example and the report scores precision on.
CONFIRMED_CATEGORY: dict[Action, Category] = {Action.CONFIRM_MISINFORMATION: Category.MISINFORMATION,
                                              Action.CONFIRM_HARM: Category.HARM}


class FollowUpKind(StrEnum):
    """What was done about a confirmed item after the confirmation (issue 12 item 4: case tracking)."""

    REBUTTAL = "rebuttal_published"  # a link to the published rebuttal
    TAKEDOWN = "takedown_requested"  # the platform asked, and the date
    REFERRAL = "referred_to_agency"  # police, the Department of Culture/Information, or another (free text)
    CONTACT = "poster_contacted"  # the poster contacted or warned


class FollowUpOutcome(StrEnum):
    """How a follow-up ended; pending until someone records it."""

    PENDING = "pending"
    REMOVED = "removed"
    STILL_ONLINE = "still_online"
    CORRECTED = "corrected"
    NO_RESPONSE = "no_response"


class Agency(StrEnum):
    """Whom an item is referred to; OTHER carries a free-text name."""

    POLICE = "police"
    CULTURE_INFORMATION = "culture_information"  # Sở Văn hóa/Thông tin
    OTHER = "other"


FOLLOW_UP_KINDS: tuple[str, ...] = tuple(k.value for k in FollowUpKind)
FOLLOW_UP_OUTCOMES: tuple[str, ...] = tuple(o.value for o in FollowUpOutcome)
AGENCIES: tuple[str, ...] = tuple(a.value for a in Agency)
