"""Sending alerts: the scheduler's sender job claims each due alert, sends it, and records what happened.

Channels of feeds.yaml and users' Telegram and webhook addresses go through Apprise (one well-kept library for
e-mail, Telegram and webhooks instead of hand-written clients); a user's e-mail address goes through
settings.smtp with the weekly report's SMTP client (monitor.reports.delivery.transmit), so a committee
configures its mail server once. As for the report, a row is claimed before the channel is contacted
(db/alerts.py), a failure is retried with back-off (RETRY_FIRST, then x3 up to RETRY_LONGEST) until
settings.alerts.max_attempts, and an e-mail whose connection broke mid-transfer is 'uncertain', never re-sent
by itself. A recipient that fails is not tried again in the same pass, so a dead channel costs one timeout
per pass, and the sender runs in its own thread: the crawl never waits for it.

Secrets: a channel's URL is read from the settings at the moment of sending and never written anywhere; an
error recorded or logged has every part of that URL longer than a few characters masked.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

import apprise
import sqlite_utils

import db
from db import alerts as store
from monitor.alerts import compose
from monitor.config import Settings
from monitor.reports.delivery import SendError, smtp_password, transmit

log = logging.getLogger("monitor.alerts")
# Apprise's and urllib3's debug lines print request URLs, which hold tokens (a Telegram bot's is in its path).
for _name in ("apprise", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)
# Apprise's warnings quote what the channel answered (a Bot API error description, a proxy's page), which may
# hold the URL's secrets. `deliver` captures them, masks them (redact) and logs them as "alert not delivered";
# they must not also reach the service's log unmasked through the root logger.
logging.getLogger("apprise").propagate = False

RETRY_FIRST = timedelta(seconds=30)  # 30 s, 90 s, 4.5 min, 13.5 min, 40 min, then hourly
RETRY_LONGEST = timedelta(hours=1)
STALE_CLAIM = timedelta(minutes=15)  # a row 'sending' this long belongs to a process that died mid-send
TELEGRAM_API = "https://api.telegram.org"


@dataclass
class SendOutcome:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    uncertain: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Target:
    """Where one recipient's alerts go: an Apprise URL, or an e-mail address for settings.smtp."""

    label: str  # what logs and errors show: the channel's name or "user <id>"
    url: str | None = field(default=None, repr=False)
    email: str | None = None
    name: str | None = None
    # A user's own webhook: its host is resolved and checked against the address policy before each
    # send (a moderator's word must not make the service post into its own network).
    guarded: bool = False


def retry_delay(attempts: int) -> timedelta:
    """The wait before attempt `attempts` + 1: x3 from RETRY_FIRST, at most RETRY_LONGEST. The exponent is
    capped first: 30 s x 3**27 no longer fits a timedelta (OverflowError), which left the alert 'sending'."""
    return min(RETRY_FIRST * 3 ** min(max(attempts - 1, 0), 10), RETRY_LONGEST)


def redact(text: str, url: str | None) -> str:
    """`text` with every piece of `url` (user, password, token, host, path parts) longer than 3 characters
    masked, longest first: Apprise's messages may quote them."""
    if not url:
        return text
    pieces = {piece for piece in re.split(r"[/:@?&=#,]+", url.split("://", 1)[-1]) if len(piece) > 3}
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, "…")
    return text


def webhook_url(address: str) -> str:
    """A user's http(s) webhook address as Apprise's JSON-POST URL (json:// or jsons://)."""
    scheme, rest = address.split("://", 1)
    return ("jsons://" if scheme.lower() == "https" else "json://") + rest


def target_for(settings: Settings, alert: dict[str, Any], subscription: dict[str, Any] | None) -> Target | None:
    """The recipient of `alert` as configured now; None when it is no longer configured."""
    if alert["channel"] is not None:
        channel = next((c for c in settings.alerts.channels if c.name == alert["channel"]), None)
        return Target(channel.name, url=channel.url) if channel else None
    if subscription is None or not subscription["enabled"]:
        return None
    label = f"user {alert['user_id']}"
    kind, address = subscription["kind"], subscription["address"]
    if kind == "email":
        return Target(label, email=address)
    if kind == "telegram":
        token = settings.alerts.telegram_token
        return Target(label, url=f"tgram://{token}/{address}") if token else None
    return Target(label, url=webhook_url(address), guarded=True)


def check_webhook_host(settings: Settings, address: str) -> None:
    """Refuse a webhook whose host resolves to an address the crawler may not fetch either (private,
    loopback, link-local… unless settings allow them): the check the web form makes on a literal IP,
    made again on the resolved addresses at send time, so a host name pointing inside is refused too."""
    from urllib.parse import urlsplit

    from monitor.crawl.fetch import FetchError

    parts = urlsplit(address)
    if not parts.hostname:
        raise SendError("webhook address without a host", permanent=True)
    port = parts.port or (443 if parts.scheme.lower() in ("https", "jsons", "forms") else 80)
    try:
        _address_policy(settings).resolve(parts.hostname, port)
    except FetchError as exc:
        raise SendError(f"webhook refused: {exc.reason}", permanent=True) from None


def _address_policy(settings: Settings) -> Any:
    from monitor.crawl.fetch import AddressPolicy

    return AddressPolicy(settings.allow_private_networks, settings.private_allowlist)


def _connect_guard(settings: Settings, target: Target) -> contextlib.AbstractContextManager:
    """A user's host was checked before sending, and Apprise resolves it again to connect: checked again
    there (fetch.connections_checked), unless the environment sends it through a proxy (requests honours
    HTTP(S)_PROXY): the connection is then the proxy's, often on a private address, and the proxy resolves
    the host itself, so only the check before sending applies."""
    import requests

    from monitor.crawl.fetch import connections_checked

    if not target.guarded or not target.url:
        return contextlib.nullcontext()
    scheme, rest = target.url.split("://", 1)
    if requests.utils.get_environ_proxies(("https://" if scheme == "jsons" else "http://") + rest):
        return contextlib.nullcontext()
    return connections_checked(_address_policy(settings))


def deliver(settings: Settings, target: Target, subject: str, body: str) -> None:
    """Send one message to `target`; SendError when it did not go."""
    if target.email is not None:
        _email(settings, target, subject, body)
        return
    assert target.url is not None
    if target.guarded:
        check_webhook_host(settings, target.url)
    notifier = apprise.Apprise.instantiate(target.url)
    if notifier is None:
        raise SendError("not a valid Apprise URL", permanent=True)
    if target.guarded:
        # The host was checked above; a redirect (Apprise follows them by default) would lead the POST
        # wherever the user's server says, 127.0.0.1 or 169.254.169.254 included, past that check.
        notifier.redirects = False
    body_format = apprise.NotifyFormat.TEXT
    if type(notifier).__name__ == "NotifyTelegram":
        # A self-hosted Bot API server (and the tests' local one): the plugin's class attribute, set per instance.
        notifier.notify_url = f"{settings.alerts.telegram_api or TELEGRAM_API}/bot"
        # A digest can pass Telegram's 4,096 characters: sent as several messages rather than refused.
        notifier.overflow_mode = apprise.common.OverflowMode.SPLIT
        # Telegram gets HTML (parse_mode), and Apprise lets the tags Telegram knows through plain text: a crawled
        # title's <a href="https://…">official notice</a> became a disguised link in the duty group, and a
        # javascript: one made Telegram refuse the alert. The text is escaped here and declared HTML.
        subject, body = html.escape(subject, quote=False), html.escape(body, quote=False)
        body_format = apprise.NotifyFormat.HTML
    guard = _connect_guard(settings, target)
    # Only the messages: the time and level of Apprise's log lines mean nothing on the alerts log page.
    with guard, apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        ok = notifier.notify(body=body, title=subject, body_format=body_format)
    if not ok:
        reason = " ".join(captured.getvalue().split()) or "the channel refused the message"
        raise SendError(redact(reason, target.url)[:500])


def _email(settings: Settings, target: Target, subject: str, body: str) -> None:
    smtp = settings.smtp
    if smtp is None:
        raise SendError("no settings.smtp to send e-mail alerts through")
    message = EmailMessage()
    message["Subject"] = subject
    display, sender = parseaddr(smtp.sender)
    message["From"] = Address(display_name=display, addr_spec=sender)
    message["To"] = Address(addr_spec=target.email or "")
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    transmit(smtp, message, password=smtp_password(smtp))


def _groups(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """What goes out as one message: each alert alone, except a recipient's due digest alerts together."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        key = ("digest", row["channel"], row["user_id"]) if row["digest"] else ("alert", row["id"])
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def send_due(database: sqlite_utils.Database, settings: Settings, *, now: datetime | None = None,
             stop: Callable[[], bool] | None = None) -> SendOutcome:
    """Send every due alert (digests grouped per recipient); what fails waits for its back-off. `stop()` is
    asked between messages: the service stopping ends the pass there, the rest waits for the next start."""
    moment = now or datetime.now(UTC)
    stamp = db.to_iso(moment)
    outcome = SendOutcome()
    expired = store.expire_claims(database, db.to_iso(moment - STALE_CLAIM), stamp)
    if expired:
        log.error("alerts interrupted mid-send; not sent again automatically", extra={"rows": expired})
    rows = store.due(database, stamp)
    if not rows:
        return outcome
    subscriptions = {sub["user_id"]: sub for sub in store.subscriptions(database)}
    failing: dict[tuple, str | None] = {}  # recipient → when its failed message is tried again
    for group in _groups(rows):
        if stop is not None and stop():
            break
        recipient = (group[0]["channel"], group[0]["user_id"])
        if recipient in failing:
            # Not tried against a recipient that just failed: they wait for its retry, so a dead channel
            # costs one attempt per back-off step rather than one per alert and pass.
            if failing[recipient]:
                store.defer(database, [row["id"] for row in group], failing[recipient])
            outcome.skipped += len(group)
            continue
        delivered, retry_at = _attempt(database, settings, group, subscriptions.get(group[0]["user_id"]), moment,
                                       outcome)
        if not delivered:
            failing[recipient] = retry_at
    if outcome.sent or outcome.retrying or outcome.failed or outcome.uncertain:
        (log.warning if outcome.retrying or outcome.failed or outcome.uncertain else log.info)(
            "alerts sent" if not (outcome.retrying or outcome.failed) else "alerts not all delivered",
            extra=outcome.as_dict())
    return outcome


def _attempt(database: sqlite_utils.Database, settings: Settings, group: list[dict[str, Any]],
             subscription: dict[str, Any] | None, moment: datetime, outcome: SendOutcome) -> tuple[bool, str | None]:
    """One claimed attempt at one message: (False, when it is retried) when it did not go."""
    ids = [row["id"] for row in group]
    stamp = db.to_iso(moment)
    target = target_for(settings, group[0], subscription)
    if target is None:
        if store.claim(database, ids, stamp):
            store.mark_failed(database, ids, "recipient no longer configured (feeds.yaml alerts: or subscription)",
                              None, stamp)
            outcome.failed += len(ids)
        return True, None
    if not store.claim(database, ids, stamp):
        return True, None  # another sender took it
    attempts = max(row["attempts"] for row in group) + 1
    try:
        subject, body = (compose.digest(database, settings, group) if group[0]["digest"]
                         else compose.message(database, settings, group[0]))
        deliver(settings, target, subject, body)
    except Exception as exc:  # noqa: BLE001 - a SendError, a bug or a library error: recorded, never left 'sending'
        error = str(exc) if isinstance(exc, SendError) else redact(f"{type(exc).__name__}: {exc}", target.url)
        uncertain = isinstance(exc, SendError) and exc.uncertain
        final = (isinstance(exc, SendError) and exc.permanent) or attempts >= settings.alerts.max_attempts
        retry_at = None if final else db.to_iso(moment + retry_delay(attempts))
        store.mark_failed(database, ids, error, retry_at, stamp, uncertain=uncertain)
        if uncertain:
            outcome.uncertain += len(ids)
        elif retry_at:
            outcome.retrying += len(ids)
        else:
            outcome.failed += len(ids)
        log.warning("alert not delivered", extra={"recipient": target.label, "alerts": ids, "attempt": attempts,
                                                  "error": error, "next_attempt_at": retry_at})
        return False, retry_at
    store.mark_sent(database, ids, db.to_iso(datetime.now(UTC)))
    outcome.sent += len(ids)
    log.info("alert sent", extra={"recipient": target.label, "alerts": ids, "stories": [r["story"] for r in group]})
    return True, None
