"""Reading a decision form the same way for one item, a selection and a whole cluster."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, render_template, session, url_for
from flask_babel import gettext as _

import db.users
from db.decisions import StaleItemError, UndoRefused
from monitor.domain import DECISIONS, Action, Role
from web.params import BadParameter, to_int
from web.render import localtime


@dataclass
class DecisionForm:
    action: Action
    note: str
    target_role: str | None = None
    target_user_id: int | None = None


def default_target(role: str) -> str | None:
    """Whom an escalation goes to when the sender names nobody: the admins, never the sender's own role
    (an admin escalating must say to whom)."""
    return None if role == Role.ADMIN.value else f"role:{Role.ADMIN.value}"


def escalation_choices(database, sender=None) -> list[tuple[str, str]]:
    """(value, label) pairs: each role, then each active person but the sender; the sender's default first."""
    choices = [(f"role:{role.value}", _(role.value)) for role in Role]
    choices += [(f"user:{row['id']}", row["name"]) for row in db.users.active_users(database)
                if sender is None or row["id"] != sender.id]
    if sender is None:
        return choices
    default = default_target(sender.role)
    if default is None:  # the sender must choose: the list starts with no choice made
        return [("", _("— choose —")), *choices]
    return sorted(choices, key=lambda choice: choice[0] != default)


def parse_decision_form(form, database, sender_role: str | None = None) -> DecisionForm | tuple:
    """A validated DecisionForm, or a (page, status) error response; an escalation without a target goes
    to default_target(sender_role)."""
    try:
        action = Action(form.get("action", ""))
    except ValueError:
        action = None
    if action not in DECISIONS:  # an undo has its own route, for a decision just made
        return render_template("error.html", title="400", message=_("Unknown action.")), 400
    note = (form.get("note") or "").strip()
    if action.needs_note and not note:
        return render_template("error.html", title="400", message=_("A note is required to escalate or reopen.")), 400
    decision = DecisionForm(action=action, note=note)
    if action == Action.ESCALATE:
        target = form.get("target") or default_target(sender_role or Role.MODERATOR.value)
        if not target:
            return render_template("error.html", title="400", message=_("Choose whom to escalate to.")), 400
        kind, _sep, value = target.partition(":")
        user_id = _user_id(value) if kind == "user" else None
        if kind == "role" and value in {r.value for r in Role}:
            decision.target_role = value
        elif user_id is not None and _is_active(database, user_id):
            decision.target_user_id = user_id
        else:
            return render_template("error.html", title="400", message=_("Unknown escalation target.")), 400
    return decision


def _is_active(database, user_id: int) -> bool:
    """Whether the account exists and is active: escalating to a deactivated person would reach nobody."""
    user = db.users.get_user(database, user_id)
    return bool(user and user["active"])


def _user_id(text: str) -> int | None:
    """The id of a "user:<id>" target, None when it cannot be one (then the target is simply unknown)."""
    try:
        return to_int(text, "target", low=1)
    except BadParameter:
        return None


def stale_message(error: StaleItemError) -> str:
    if error.by:
        return _("Item %(id)s was already decided by %(who)s at %(when)s (now “%(status)s”). Nothing was changed.",
                 id=error.item_id, who=error.by, when=localtime(error.at), status=_(error.status))
    return _("Item %(id)s changed since you opened it (now “%(status)s”). Nothing was changed.",
             id=error.item_id, status=_(error.status))


def claimed_message(error) -> str:
    """For db.queue.ClaimError: who holds the item and until when (in the user's zone)."""
    return _("Item %(id)s is held by %(who)s until %(when)s. Nothing was changed.",
             id=error.item_id, who=error.holder, when=localtime(error.expires_at))


def safe_return(target: str | None) -> str:
    """Follow a same-site relative `next` only; otherwise back to the queue."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and not urlsplit(target).netloc:
        return target
    return url_for("queue.index")


# --- undo -----------------------------------------------------------------------------------------
# After a decision the session remembers its ids for the undo window; every page then shows the
# "Undo" notice (base.html) until the window ends. The server checks the window again when asked.
UNDO_KEY = "undo"


def remember_undo(decision_ids: list[int]) -> None:
    """Offer these decisions (just made by this user) for undo until the window closes."""
    if decision_ids:
        seconds = current_app.config["UNDO_SECONDS"]
        session[UNDO_KEY] = {"ids": list(decision_ids), "until": time.time() + seconds}


def forget_undo() -> None:
    session.pop(UNDO_KEY, None)


def undo_notice() -> dict:
    """Template context: the pending undo offer ({"ids", "left_ms"}), or None when there is none or it ended.
    The time left, not the end, goes to the page: the browser's clock may differ from the server's."""
    offer = session.get(UNDO_KEY) if session else None
    if not isinstance(offer, dict) or not isinstance(offer.get("until"), (int, float)):
        return {"undo_notice": None}
    if offer["until"] <= time.time():
        forget_undo()
        return {"undo_notice": None}
    return {"undo_notice": {"ids": offer.get("ids") or [], "left_ms": int((offer["until"] - time.time()) * 1000)}}


def undo_refused_message(error: UndoRefused | StaleItemError) -> str:
    """Why a decision was not undone, in words a moderator can act on."""
    if isinstance(error, StaleItemError):
        return stale_message(error)
    messages = {
        "missing": _("Decision %(id)s does not exist."),
        "not_yours": _("Decision %(id)s was made by someone else: only they (or an admin) can undo it."),
        "is_undo": _("Decision %(id)s is itself an undo; decide the item again instead."),
        "expired": _("Decision %(id)s can no longer be undone: the %(s)s seconds to undo it have passed. "
                     "Reopen the item (with a note) instead."),
        "superseded": _("Decision %(id)s can no longer be undone: the item was decided again since."),
    }
    return messages.get(error.reason, messages["missing"]) % {"id": error.decision_id,
                                                             "s": current_app.config["UNDO_SECONDS"]}
