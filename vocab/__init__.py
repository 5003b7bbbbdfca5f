"""The service's words that every layer stores, scores or shows: item statuses, categories, roles,
moderators' actions.

They live in this tiny package, which imports nothing first-party, because the lowest layers need
them and must not import each other: `db` validates categories and roles against them and signs
actions into the decision log, `classifiers` trains one score per category, and `monitor` and `web`
read them (through `monitor.domain`, which re-exports them next to the monitor-only words). Adding a
category, a role or an action is one edit here (plus its catalog label in web/labels.py).
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
