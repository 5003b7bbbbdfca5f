"""The weekly report by e-mail: queue it once per week and recipient, send it over SMTP, retry what failed.

`deliver_week` (the scheduler's weekly job, after `write_weekly`) queues one delivery per recipient and sends
at once; `send_due` (a scheduler job every few minutes) sends whatever is still pending and due. The database
row for (week, recipient) is claimed before the server is contacted (db/deliveries.py), so a retry, a second
process or a restart never mails the same week to the same address twice. When the connection breaks after
the message was handed over, the server may have accepted it: that row is marked `uncertain` and left for a
person to decide (`monitor deliveries --retry ID`) rather than risk a duplicate in a committee's inbox.

Standard library only (smtplib, ssl, email): TLS with certificate and host-name checks (STARTTLS on 587, TLS
from the first byte on 465), a timeout on every socket operation, and the password read from the environment
variable `settings.smtp.password_env` names at the moment of sending — never from feeds.yaml or the database.
"""

from __future__ import annotations

import base64
import logging
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

import sqlite_utils

import db
from db import deliveries
from monitor.config import Recipient, Settings, SmtpSettings
from monitor.reports.display import Wording, wording
from monitor.reports.period import Period, iso_week
from vocab.i18n import DEFAULT_LANGUAGE

log = logging.getLogger("monitor.reports.delivery")

# The formats that are e-mailed, in the order they are attached: the DOCX a committee edits and signs, and the PDF.
ATTACHED_FORMATS = ("docx", "pdf")
MIME_TYPES = {"docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
              "pdf": ("application", "pdf")}
FIRST_RETRY = timedelta(minutes=5)  # then x3 each time: 5, 15, 45 min, 2 h 15, then every 6 h
LONGEST_RETRY = timedelta(hours=6)
# A row still 'sending' this long after its claim belongs to a process that died mid-send.
STALE_CLAIM = timedelta(hours=1)


class SendError(Exception):
    """An attempt that did not deliver. `uncertain`: the message was handed over and may have arrived;
    `permanent`: the server refused the recipient or the message for good (5xx), so retrying cannot help."""

    def __init__(self, message: str, *, uncertain: bool = False, permanent: bool = False):
        super().__init__(message)
        self.uncertain = uncertain
        self.permanent = permanent


@dataclass
class DeliveryOutcome:
    """What one pass did, for the log line, the job's recorded result and the tests."""
    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    queued: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"queued": self.queued, "sent": len(self.sent), "retrying": len(self.retrying),
                "failed": len(self.failed), "uncertain": len(self.uncertain)}


def attachments(files: list[str] | list[Path]) -> list[Path]:
    """The written files that are e-mailed (DOCX then PDF), whichever of them exist among `files`."""
    by_format = {Path(f).suffix.lstrip("."): Path(f) for f in files}
    return [by_format[fmt] for fmt in ATTACHED_FORMATS if fmt in by_format]


def email_recipients(recipients: list[Recipient]) -> list[Recipient]:
    """The recipients with an e-mail address, each address once whatever its case (the first entry's name wins)."""
    seen: dict[str, Recipient] = {}
    for recipient in recipients:
        if recipient.email and recipient.email.lower() not in seen:
            seen[recipient.email.lower()] = recipient
    return list(seen.values())


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    return min(FIRST_RETRY * 3 ** max(attempts - 1, 0), LONGEST_RETRY)


def report_language(settings: Settings) -> str:
    """The report's language: settings.report.lang where it is set (issue 13 §1), else Vietnamese."""
    return getattr(settings.report, "lang", None) or DEFAULT_LANGUAGE


def deliver_week(database: sqlite_utils.Database, settings: Settings, period: Period, files: list[str] | list[Path],
                 *, now: datetime | None = None) -> DeliveryOutcome | None:
    """Queue `period`'s report for every e-mail recipient (once per week and address) and send what is due.

    None when there is nothing to do: no recipient with an address, no SMTP settings, or no DOCX/PDF written."""
    recipients = email_recipients(settings.report.recipients)
    attached = attachments(files)
    if not recipients or settings.smtp is None or not attached:
        if recipients:
            log.warning("weekly report not e-mailed", extra={
                "week": period.label, "reason": "no smtp settings" if settings.smtp is None else "no docx or pdf"})
        return None
    moment = now or datetime.now(UTC)
    queued = deliveries.enqueue(database, period.label, [(r.email, r.name) for r in recipients],
                                [str(p) for p in attached], now=db.to_iso(moment))
    outcome = send_due(database, settings, now=moment)
    outcome.queued = queued
    return outcome


def send_due(database: sqlite_utils.Database, settings: Settings, *, now: datetime | None = None) -> DeliveryOutcome:
    """Send every pending delivery that is due; one structured log line per week."""
    moment = now or datetime.now(UTC)
    outcome = DeliveryOutcome()
    stamp = db.to_iso(moment)
    expired = deliveries.expire_claims(database, db.to_iso(moment - STALE_CLAIM), stamp)
    if expired:
        log.error("report deliveries interrupted mid-send; not sent again automatically", extra={"rows": expired})
    rows = deliveries.due(database, stamp)
    if not rows or settings.smtp is None:
        return outcome
    rows = _still_listed(database, settings, rows, stamp)
    weeks: dict[str, DeliveryOutcome] = {}
    for row in rows:
        week = weeks.setdefault(row["week"], DeliveryOutcome())
        _attempt(database, settings, row, moment, week)
    for label, result in weeks.items():
        files = sorted({Path(f).name for row in rows if row["week"] == label for f in row["files"]})
        failed = result.failed or result.uncertain
        (log.error if failed else log.warning if result.retrying else log.info)(
            "weekly report e-mailed" if not (failed or result.retrying) else "weekly report e-mail incomplete",
            extra={"week": label, "recipients": sum(len(v) for v in (result.sent, result.retrying, result.failed,
                                                                    result.uncertain)),
                   "files": files, "outcome": result.as_dict()})
        for name in ("sent", "retrying", "failed", "uncertain"):
            getattr(outcome, name).extend(getattr(result, name))
    return outcome


def _still_listed(database: sqlite_utils.Database, settings: Settings, rows: list[dict], stamp: str) -> list[dict]:
    """The due rows whose address is still among settings.report.recipients; the others are withdrawn (a typo
    fixed, someone who left the committee must not get the retries of a week queued before the change)."""
    listed = {recipient.email.lower() for recipient in email_recipients(settings.report.recipients)}
    for row in rows:
        if row["recipient"] not in listed:
            deliveries.withdraw(database, row["id"], "no longer a recipient (settings.report.recipients)", stamp)
            log.warning("report e-mail withdrawn: address no longer a recipient",
                        extra={"week": row["week"], "recipient": row["recipient"]})
    return [row for row in rows if row["recipient"] in listed]


def _attempt(database: sqlite_utils.Database, settings: Settings, row: dict, moment: datetime,
             outcome: DeliveryOutcome) -> None:
    """One claimed attempt at one row, its result recorded whatever happens."""
    smtp = settings.smtp
    assert smtp is not None
    stamp = db.to_iso(moment)
    if not deliveries.claim(database, row["id"], stamp):
        return  # another sender took it
    attempts = row["attempts"] + 1
    try:
        period = iso_week(row["week"], settings.timezone)
        message = compose(smtp, row["recipient"], row["name"], period, [Path(f) for f in row["files"]],
                          wording(report_language(settings)), now=moment)
        transmit(smtp, message, password=smtp_password(smtp))
    except SendError as exc:
        final = exc.permanent or attempts >= smtp.max_attempts
        retry_at = None if final else db.to_iso(moment + retry_delay(attempts))
        deliveries.mark_failed(database, row["id"], str(exc), retry_at, stamp, uncertain=exc.uncertain)
        bucket = outcome.uncertain if exc.uncertain else outcome.failed if final else outcome.retrying
        bucket.append(row["recipient"])
        log.warning("report e-mail not delivered", extra={
            "week": row["week"], "recipient": row["recipient"], "attempt": attempts, "error": str(exc),
            "uncertain": exc.uncertain, "next_attempt_at": retry_at})
        return
    except Exception as exc:  # a bug or an unreadable file: recorded and retried like a refusal, never left 'sending'
        retry_at = None if attempts >= smtp.max_attempts else db.to_iso(moment + retry_delay(attempts))
        deliveries.mark_failed(database, row["id"], f"{type(exc).__name__}: {exc}", retry_at, stamp)
        (outcome.retrying if retry_at else outcome.failed).append(row["recipient"])
        log.exception("report e-mail failed", extra={"week": row["week"], "recipient": row["recipient"]})
        return
    deliveries.mark_sent(database, row["id"], message["Message-ID"], db.to_iso(datetime.now(UTC)))
    outcome.sent.append(row["recipient"])


def smtp_password(smtp: SmtpSettings) -> str | None:
    """The password from the environment variable `password_env` names (None when no login is configured)."""
    if smtp.password_env is None:
        return None
    password = os.environ.get(smtp.password_env)
    if not password:
        raise SendError(f"the environment variable {smtp.password_env} (smtp.password_env) is not set")
    return password


def compose(smtp: SmtpSettings, address: str, name: str | None, period: Period, files: list[Path],
            words: Wording, *, now: datetime | None = None) -> EmailMessage:
    """The message for one recipient: subject and body in the report's language, the files attached."""
    first, last = words.date(period.first_day), words.date(period.last_day)
    message = EmailMessage()
    message["Subject"] = words.gettext("Weekly report %(week)s (%(first)s – %(last)s)",
                                       week=period.label, first=first, last=last)
    display, sender = parseaddr(smtp.sender)
    message["From"] = Address(display_name=display, addr_spec=sender)
    message["To"] = Address(display_name=name or "", addr_spec=address)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the service
    lines = [words.gettext("Dear %(name)s,", name=name or address), "",
             words.gettext("Attached is the monitoring report for week %(week)s, from %(first)s to %(last)s.",
                           week=period.label, first=first, last=last), "",
             words.gettext("Attached files:")]
    lines += [f"- {path.name}" for path in files]
    if any(path.suffix == ".docx" for path in files):
        lines += ["", words.gettext("The DOCX file can be edited (number, proposals, signature) before it is sent on.")]
    lines += ["", words.gettext("This message was sent automatically by the monitoring service; please do not "
                                "reply to it.")]
    message.set_content("\n".join(lines) + "\n")
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SendError(f"cannot read {path}: {exc.strerror or exc}") from None
        maintype, subtype = MIME_TYPES[path.suffix.lstrip(".")]
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
    return message


def tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    """Certificate and host-name checks always on; `ca_file` adds an organisation's own CA."""
    return ssl.create_default_context(cafile=smtp.ca_file) if smtp.ca_file else ssl.create_default_context()


def open_connection(smtp: SmtpSettings) -> smtplib.SMTP:
    """Connected (and, unless smtp.security is "none", encrypted) client; SendError when that fails.

    STARTTLS is required when configured: a server that does not offer it is an error, never a fall-back to
    plain text."""
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                                    context=tls_context(smtp))
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"cannot connect to {smtp.host}:{smtp.port} ({smtp.security}): {_reason(exc)}") from None
    try:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=tls_context(smtp))
            client.ehlo()
    except (OSError, smtplib.SMTPException) as exc:
        client.close()
        raise SendError(f"{smtp.host}:{smtp.port}: {smtp.security} failed: {_reason(exc)}") from None
    return client


def transmit(smtp: SmtpSettings, message: EmailMessage, *, password: str | None) -> None:
    """Hand `message` to the server. Every failure before DATA is certain not to have delivered; a broken
    connection during DATA is `uncertain` (the server may have taken the message)."""
    payload = message.as_bytes(policy=SMTP_POLICY)  # CRLF lines; smtplib dot-stuffs them
    recipients = [address.addr_spec for address in message["To"].addresses]
    client = open_connection(smtp)
    try:
        try:
            if smtp.username:
                login(client, smtp.username, password or "")
            code, reply = client.mail(parseaddr(smtp.sender)[1])
            if code != 250:
                raise SendError(f"sender refused: {code} {_text(reply)}")
            for address in recipients:
                code, reply = client.rcpt(address)
                if code not in (250, 251):
                    raise SendError(f"recipient {address} refused: {code} {_text(reply)}", permanent=code >= 500)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"{smtp.host}:{smtp.port}: {_reason(exc)}") from None
        try:
            # smtplib raises on a refused DATA command but *returns* the reply to the message itself
            code, reply = client.data(payload)
        except smtplib.SMTPDataError as exc:  # the server answered: not accepted
            code, reply = exc.smtp_code, exc.smtp_error
        except Exception as exc:  # anything else during DATA: the server may hold the message already
            raise SendError(f"connection lost while sending the message, it may have arrived: {_reason(exc)}",
                            uncertain=True) from None
        if code != 250:
            raise SendError(f"message refused: {code} {_text(reply)}", permanent=code >= 500)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def login(client: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib's login, except that a password (or user name) with letters beyond ASCII — "mật khẩu" — is sent
    as UTF-8 with AUTH PLAIN (RFC 4616), which smtplib (3.11) cannot: it encodes its AUTH strings as ASCII."""
    if (username + password).isascii():
        client.login(username, password)
        return
    client.ehlo_or_helo_if_needed()
    if "plain" not in client.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPException("the server offers no AUTH PLAIN, needed for a password beyond ASCII")
    token = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode("ascii")
    code, reply = client.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
