"""Alerts in the web app: the alerts log (/alerts/: what was sent, to whom, whether delivery failed) and each
user's own subscription (/alerts/subscriptions: which events, which places, at which address).

The channels of feeds.yaml are shown by name only: their URLs hold secrets. A user's address is their own
(an e-mail address sent through settings.smtp, a Telegram chat id for the committee's bot, or a webhook URL).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

import db.alerts
from monitor.config import ALERT_EVENTS, check_email
from vocab.i18n import N_
from web import get_db
from web.access import ADMIN, MODERATE, READ, roles
from web.intake import fetch_settings
from web.params import BadParameter, int_arg, shown

bp = Blueprint("alerts", __name__)

PAGE_SIZE = 50
KINDS = ("email", "telegram", "webhook")
MAX_PLACES = 50
_PLACE = re.compile(r"[pc]:[0-9A-Za-z_-]{1,20}")
_CHAT = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31}")
# The four events and the alert states in words (the templates show `_(label)`).
EVENT_LABELS = {"flagged_high": N_("flagged with high priority"), "claim_match": N_("repeats a debunked claim"),
                "jurisdiction": N_("flagged, about our jurisdiction"), "spike": N_("a spike fired")}
STATUS_LABELS = {"pending": N_("pending"), "sending": N_("sending"), "sent": N_("sent"), "failed": N_("failed"),
                 "uncertain": N_("uncertain (may have arrived)")}
KIND_LABELS = {"email": N_("E-mail (through the service's mail server)"), "telegram": N_("Telegram chat"),
               "webhook": N_("Webhook (JSON POST)")}


class Refused(ValueError):
    """A subscription form that cannot be saved; the message says why, in the user's language."""


@bp.get("/alerts/")
@roles(*READ)
def log():
    """The alerts log, newest first: story, events, recipient, status, attempts, last error."""
    status = request.args.get("status") or None
    if status is not None and status not in db.alerts.STATUSES:
        raise BadParameter("status", _("Parameter “%(name)s” must be one of: %(values)s (got “%(value)s”).",
                                       name="status", values=", ".join(db.alerts.STATUSES), value=shown(status)))
    page = int_arg(request.args, "page", default=1, low=1, high=100_000)
    rows, total = db.alerts.log_page(get_db(), status=status, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    rows = [{**row, "last_error": _error_shown(row)} for row in rows]
    return render_template("alerts_log.html", rows=rows, total=total, page=page, pages=pages, status=status,
                           statuses=db.alerts.STATUSES, return_to=request.full_path,
                           event_labels=EVENT_LABELS, status_labels=STATUS_LABELS)


def _error_shown(row: dict) -> str | None:
    """An alert's delivery error for the reader: a user's own alert's error (it may quote their address, and
    their mail server's answer) only to that user and admins; a channel's to everyone who reads the log."""
    if row.get("user_id") is None or row["user_id"] == current_user.id or current_user.role in ADMIN:
        return row.get("last_error")
    return _("(hidden: another user's address)") if row.get("last_error") else None


@bp.post("/alerts/<int:alert_id>/retry")
@roles(*MODERATE)
def retry(alert_id: int):
    """Send a failed (or 'uncertain': it may have arrived) alert again, on someone's decision."""
    database = get_db()
    if db.alerts.get(database, alert_id) is None:
        abort(404)
    if db.alerts.retry(database, alert_id):
        flash(_("Alert %(id)s will be sent again.", id=alert_id), "ok")
    else:
        flash(_("Alert %(id)s is not failed or uncertain; nothing to retry.", id=alert_id), "error")
    return redirect(url_for("alerts.log")), 303


@bp.get("/alerts/subscriptions")
@roles(*READ)
def subscriptions():
    settings = fetch_settings()
    found = db.alerts.subscription(get_db(), current_user.id)
    places = [_place_entry(code, settings.jurisdiction) for code in found["places"]] if found else []
    return render_template("alerts_subscriptions.html", sub=found, places=places, events=ALERT_EVENTS, kinds=KINDS,
                           channels=[(c.name, c.when) for c in settings.alerts.channels],
                           can_email=settings.smtp is not None, can_telegram=bool(settings.alerts.telegram_token),
                           event_labels=EVENT_LABELS, kind_labels=KIND_LABELS)


@bp.post("/alerts/subscriptions")
@roles(*READ)
def save():
    """Save (or, with action=delete, remove) the signed-in user's own subscription."""
    database = get_db()
    if request.form.get("action") == "delete":
        db.alerts.delete_subscription(database, current_user.id)
        flash(_("Your alert subscription was removed."), "ok")
        return redirect(url_for("alerts.subscriptions")), 303
    try:
        kind, address, events, places = _form(request.form)
    except Refused as refused:
        return render_template("error.html", title="400", message=str(refused)), 400
    db.alerts.save_subscription(database, current_user.id, kind, address, events, places,
                                enabled=request.form.get("enabled") == "1")
    flash(_("Your alert subscription was saved."), "ok")
    return redirect(url_for("alerts.subscriptions")), 303


def _form(form) -> tuple[str, str, list[str], list[str]]:
    settings = fetch_settings()
    kind = str(form.get("kind") or "")
    if kind not in KINDS:
        raise Refused(_("Choose how alerts reach you: e-mail, Telegram or a webhook."))
    events = [event for event in ALERT_EVENTS if event in form.getlist("events")]
    if not events:
        raise Refused(_("Choose at least one kind of alert."))
    address = str(form.get("address") or "").strip()
    if kind == "email":
        if settings.smtp is None:
            raise Refused(_("E-mail alerts need a mail server (settings.smtp in feeds.yaml)."))
        try:
            address = check_email(address).lower()
        except ValueError:
            raise Refused(_("“%(value)s” is not an e-mail address.", value=shown(address))) from None
    elif kind == "telegram":
        if not settings.alerts.telegram_token:
            raise Refused(_("Telegram alerts need the committee's bot (settings.alerts.telegram_token)."))
        if not _CHAT.fullmatch(address):
            raise Refused(_("A Telegram chat id is a number such as -1001234567890, or @channel."))
    else:
        _check_webhook(address, settings.allow_private_networks)
    return kind, address, events, _places(str(form.get("places") or "")[:2000], settings.jurisdiction)


def _places(text: str, jurisdiction: tuple[str, ...]) -> list[str]:
    """The places of a subscription as unit codes: each comma-separated entry is a code ('p:38', 'c:15853') or
    a name the place tagging knows ("Thanh Hóa", "phường Đông Tiến"; a name shared by several units is read
    as the one in the jurisdiction)."""
    from classifiers.places import tag, unit

    codes: list[str] = []
    for entry in (part.strip() for part in re.split(r"[,;\n]+", text)):
        if not entry:
            continue
        if _PLACE.fullmatch(entry):  # a code the gazetteer knows: 'p:999' would match nothing, alerting no one
            found = [entry] if unit(entry) is not None else []
        else:
            found = [place.code for place in tag(entry, prefer=jurisdiction)]
        if not found:
            raise Refused(_("“%(value)s” is not a place name or code the service knows (a province such as "
                            "Thanh Hóa or p:38, a commune or ward such as phường Đông Tiến or c:15853).",
                            value=shown(entry)))
        codes += found
    if len(set(codes)) > MAX_PLACES:
        raise Refused(_("At most %(n)s places.", n=MAX_PLACES))
    return list(dict.fromkeys(codes))


def _place_entry(code: str, jurisdiction: tuple[str, ...]) -> str:
    """A stored place as the form shows it: the unit's name when reading the name back gives this unit again
    ("Thanh Hóa", "Phường Hạc Thành"), else the code (a name shared by units outside the jurisdiction)."""
    from classifiers.places import tag, unit

    found = unit(code)
    if found is None:
        return code
    return found.name if [place.code for place in tag(found.name, prefer=jurisdiction)] == [code] else code


def _check_webhook(address: str, private_allowed: bool) -> None:
    """An http(s) URL with a host; an address on a private or loopback network only where the settings allow
    private networks (the service would otherwise post to its own network on a user's word)."""
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(address) > 500:
        raise Refused(_("A webhook is an http:// or https:// address."))
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    local = parts.hostname == "localhost" or (literal is not None and not literal.is_global)
    if local and not private_allowed:
        raise Refused(_("A webhook on a private or local network is not allowed."))


def register(app: Flask) -> None:
    app.register_blueprint(bp)
