"""The weekly report by e-mail (issue 13 item 5): settings, a real SMTP server on 127.0.0.1 (aiosmtpd), retries
with back-off, never the same week twice to the same address, the password from the environment, TLS."""

from __future__ import annotations

import email
import json
import shutil
import socket
import ssl
import subprocess
from datetime import UTC, date, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import db
from db import deliveries
from monitor.cli import main
from monitor.config import ConfigError, Recipient, ReportSettings, Settings, SmtpSettings, load_text
from monitor.reports import delivery
from monitor.reports.period import iso_week
from monitor.reports.render import FORMATS

WEEK = "2026-W49"  # Monday 30/11/2026 – Sunday 06/12/2026
MONDAY = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # 07:00 in Hanoi, when the weekly job runs
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SOURCE = "sources:\n  - name: a\n    kind: rss\n    url: https://a.vn/rss\n"


# --------------------------------------------------------------------------- a real SMTP server


class Inbox:
    """aiosmtpd handler keeping every accepted message; `delay` holds the reply to DATA (a slow server)."""

    def __init__(self, delay: float = 0.0):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        import asyncio

        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))  # queued: it will arrive, whatever the client sees
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """An SMTP server on 127.0.0.1:port that can be stopped and started again on the same port."""

    def __init__(self, port: int, inbox: Inbox, **options):
        self.port, self.inbox, self.options = port, inbox, options
        self.controller: Controller | None = None

    def start(self) -> Server:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture()
def inbox():
    return Inbox()


@pytest.fixture()
def server(inbox):
    running = Server(free_port(), inbox).start()
    yield running
    running.stop()


def settings_for(port: int, recipients: list[Recipient] | None = None, **smtp) -> Settings:
    options = {"host": "127.0.0.1", "sender": "Ban chỉ đạo <bcd@thanhhoa.example.vn>", "port": port,
               "starttls": False, "timeout": 5.0, **smtp}
    recipients = recipients or [Recipient("Trưởng ban", "truongban@thanhhoa.example.vn"),
                                Recipient(None, "vanphong@thanhhoa.example.vn")]
    return Settings(report=ReportSettings(recipients=recipients), smtp=SmtpSettings(**options))


@pytest.fixture()
def files(tmp_path) -> list[Path]:
    """The week's files as write_weekly leaves them (a DOCX among them, as the docx format will write)."""
    folder = tmp_path / "reports"
    folder.mkdir()
    written = []
    for fmt in ("html", "xlsx", "csv", "json", "pdf", "docx"):
        path = folder / f"report-{WEEK}.{fmt}"
        path.write_bytes(f"%{fmt} content of {WEEK}".encode())
        written.append(path)
    return written


def rows(database) -> dict[str, dict]:
    return {row["recipient"]: row for row in deliveries.deliveries(database, WEEK)}


# --------------------------------------------------------------------------- the message


def test_the_weekly_job_mails_docx_and_pdf_to_every_recipient_in_vietnamese(tmp_db, server, inbox, files):
    outcome = delivery.deliver_week(tmp_db, settings_for(server.port), iso_week(WEEK), files, now=MONDAY)

    assert outcome.as_dict() == {"queued": 2, "sent": 2, "retrying": 0, "failed": 0, "uncertain": 0}
    assert sorted(rcpt for rcpts, _ in inbox.messages for rcpt in rcpts) == [
        "truongban@thanhhoa.example.vn", "vanphong@thanhhoa.example.vn"]  # one message per recipient
    to_boss = next(m for rcpts, m in inbox.messages if rcpts == ["truongban@thanhhoa.example.vn"])
    assert to_boss["Subject"] == "Báo cáo tuần 2026-W49 (30/11/2026 – 06/12/2026)"
    assert to_boss["To"].addresses[0].display_name == "Trưởng ban"
    assert to_boss["From"].addresses[0].addr_spec == "bcd@thanhhoa.example.vn"
    assert to_boss["Auto-Submitted"] == "auto-generated" and to_boss["Message-ID"]
    body = to_boss.get_body(("plain",)).get_content()
    assert "Kính gửi: Trưởng ban," in body and "từ ngày 30/11/2026 đến ngày 06/12/2026" in body
    assert "Weekly" not in body and "Attached" not in body
    attached = [(part.get_filename(), part.get_content_type(), part.get_content())
                for part in to_boss.iter_attachments()]
    assert [(name, kind) for name, kind, _ in attached] == [
        (f"report-{WEEK}.docx", DOCX), (f"report-{WEEK}.pdf", "application/pdf")]  # the DOCX first, nothing else
    assert attached[1][2] == f"%pdf content of {WEEK}".encode()
    recorded = rows(tmp_db)
    assert {row["status"] for row in recorded.values()} == {"sent"}
    assert all(row["attempts"] == 1 and row["sent_at"] and row["message_id"] for row in recorded.values())


def test_only_the_formats_written_are_attached(tmp_db, server, inbox, files):
    without_docx = [path for path in files if path.suffix != ".docx"]
    delivery.deliver_week(tmp_db, settings_for(server.port), iso_week(WEEK), without_docx, now=MONDAY)
    _, message = inbox.messages[0]
    assert [part.get_filename() for part in message.iter_attachments()] == [f"report-{WEEK}.pdf"]
    assert "DOCX" not in message.get_body(("plain",)).get_content()


def test_english_wording_when_the_report_language_is_english(tmp_db, server, inbox, files, monkeypatch):
    monkeypatch.setattr(delivery, "report_language", lambda settings: "en")
    delivery.deliver_week(tmp_db, settings_for(server.port), iso_week(WEEK), files, now=MONDAY)
    assert inbox.messages[0][1]["Subject"] == "Weekly report 2026-W49 (2026-11-30 – 2026-12-06)"


def test_nothing_is_queued_without_smtp_settings_or_e_mail_recipients(tmp_db, files, caplog):
    settings = Settings(report=ReportSettings(recipients=[Recipient("UBND tỉnh Thanh Hóa", None)]))
    assert delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files) is None
    assert delivery.deliver_week(tmp_db, Settings(), iso_week(WEEK), files) is None
    assert not caplog.records
    # Addresses listed (they may be there for the DOCX's "Nơi nhận" only) but no smtp: said in the log, every week.
    settings = Settings(report=ReportSettings(recipients=[Recipient(None, "truongban@thanhhoa.example.vn")]))
    assert delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files) is None
    (record,) = caplog.records
    assert record.levelname == "WARNING" and (record.week, record.reason) == (WEEK, "no smtp settings")
    assert deliveries.deliveries(tmp_db) == []


# --------------------------------------------------------------------------- failures, retries, exactly once


def test_a_server_down_is_recorded_and_retried_later_with_back_off(tmp_db, inbox, files):
    port = free_port()  # nothing listens there yet
    settings = settings_for(port)
    outcome = delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY)
    assert outcome.as_dict()["retrying"] == 2 and not inbox.messages
    first = rows(tmp_db)["truongban@thanhhoa.example.vn"]
    assert first["status"] == "pending" and first["attempts"] == 1
    assert "cannot connect to 127.0.0.1" in first["last_error"]
    assert first["next_attempt_at"] == db.to_iso(MONDAY + timedelta(minutes=5))

    # Not due yet: nothing is attempted.
    assert delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(minutes=4)).as_dict()["retrying"] == 0
    # Due, server still down: the second failure waits three times as long.
    delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(minutes=5))
    second = rows(tmp_db)["truongban@thanhhoa.example.vn"]
    assert second["attempts"] == 2
    assert second["next_attempt_at"] == db.to_iso(MONDAY + timedelta(minutes=5 + 15))

    server = Server(port, inbox).start()
    try:
        outcome = delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(minutes=20))
    finally:
        server.stop()
    assert sorted(outcome.sent) == ["truongban@thanhhoa.example.vn", "vanphong@thanhhoa.example.vn"]
    assert len(inbox.messages) == 2
    done = rows(tmp_db)["truongban@thanhhoa.example.vn"]
    assert done["status"] == "sent" and done["attempts"] == 3 and done["last_error"] is None


def test_after_max_attempts_a_delivery_is_failed_and_left_alone(tmp_db, files):
    settings = settings_for(free_port(), max_attempts=2)
    delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY)
    outcome = delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(hours=1))
    assert len(outcome.failed) == 2
    assert {row["status"] for row in rows(tmp_db).values()} == {"failed"}
    assert delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(days=2)).as_dict()["failed"] == 0


def test_no_second_copy_after_a_retry_or_a_restart(db_path, tmp_db, server, inbox, files):
    settings = settings_for(server.port)
    delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY)
    assert len(inbox.messages) == 2
    # The weekly job runs again for the same week (a missed run caught up), and the retry job passes by.
    again = delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY + timedelta(hours=1))
    assert again.queued == 0 and again.sent == []
    delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(days=1))
    # A restart: a new process, a new connection to the same database.
    tmp_db.conn.close()
    reopened = db.connect(db_path)
    try:
        delivery.deliver_week(reopened, settings, iso_week(WEEK), files, now=MONDAY + timedelta(days=1))
        delivery.send_due(reopened, settings, now=MONDAY + timedelta(days=2))
    finally:
        reopened.conn.close()
    assert len(inbox.messages) == 2


def test_a_recipient_listed_twice_gets_one_copy(tmp_db, server, inbox, files):
    twice = [Recipient("A", "same@thanhhoa.example.vn"), Recipient("B", "SAME@thanhhoa.example.vn")]
    delivery.deliver_week(tmp_db, settings_for(server.port, twice), iso_week(WEEK), files, now=MONDAY)
    assert len(inbox.messages) == 1


def test_a_send_interrupted_by_a_crash_is_not_repeated(tmp_db, server, inbox, files):
    """The process died after claiming a row (it may have handed the message over): never sent again by itself."""
    settings = settings_for(server.port)
    deliveries.enqueue(tmp_db, WEEK, [("truongban@thanhhoa.example.vn", None)], [str(files[-1])],
                       now=db.to_iso(MONDAY))
    (row,) = deliveries.due(tmp_db, db.to_iso(MONDAY))
    assert deliveries.claim(tmp_db, row["id"], db.to_iso(MONDAY))
    assert not deliveries.claim(tmp_db, row["id"], db.to_iso(MONDAY))  # a second sender cannot take it
    delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(minutes=30))  # still within the claim
    assert rows(tmp_db)["truongban@thanhhoa.example.vn"]["status"] == "sending"
    delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(hours=2))
    assert rows(tmp_db)["truongban@thanhhoa.example.vn"]["status"] == "uncertain"
    assert inbox.messages == []


def test_a_connection_lost_while_handing_over_the_message_is_uncertain_never_resent(tmp_db, files, db_path,
                                                                                      capsys):
    slow = Inbox(delay=2.0)
    server = Server(free_port(), slow).start()
    try:
        settings = settings_for(server.port, [Recipient(None, "truongban@thanhhoa.example.vn")], timeout=0.5)
        outcome = delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY)
        assert outcome.uncertain == ["truongban@thanhhoa.example.vn"]
        row = rows(tmp_db)["truongban@thanhhoa.example.vn"]
        assert row["status"] == "uncertain" and "may have arrived" in row["last_error"]
        assert len(slow.messages) == 1  # the server did take it
        delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(days=1))
        assert len(slow.messages) == 1
        # Only a person sends it again: `monitor deliveries --retry ID`.
        assert main(["--db", str(db_path), "deliveries", "--retry", str(row["id"])]) == 0
        slow.delay = 0
        delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(days=1))
        assert len(slow.messages) == 2 and rows(tmp_db)["truongban@thanhhoa.example.vn"]["status"] == "sent"
    finally:
        server.stop()
    assert main(["--db", str(db_path), "deliveries", "--retry", str(row["id"])]) == 2  # sent: nothing to retry
    assert "no failed or uncertain delivery" in capsys.readouterr().err


class RefuseRecipient(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_recipient_refused_for_good_fails_at_once_and_the_others_still_get_it(tmp_db, files):
    inbox = RefuseRecipient()
    server = Server(free_port(), inbox).start()
    try:
        recipients = [Recipient(None, "nobody@thanhhoa.example.vn"), Recipient(None, "vanphong@thanhhoa.example.vn")]
        outcome = delivery.deliver_week(tmp_db, settings_for(server.port, recipients), iso_week(WEEK), files,
                                        now=MONDAY)
    finally:
        server.stop()
    assert outcome.failed == ["nobody@thanhhoa.example.vn"] and outcome.sent == ["vanphong@thanhhoa.example.vn"]
    refused = rows(tmp_db)["nobody@thanhhoa.example.vn"]
    assert refused["status"] == "failed" and refused["attempts"] == 1 and "550" in refused["last_error"]


class RefuseOnce(Inbox):
    """Answers the first message with `reply`: 451 as a greylisting or overloaded server does, 554 as spam."""

    def __init__(self, reply: str):
        super().__init__()
        self.reply, self.refused = reply, 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if not self.refused:
            self.refused += 1
            return self.reply
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize(("reply", "then"), [("451 4.3.0 try again later", "sent"),
                                             ("554 5.7.1 rejected as spam", "failed")])
def test_a_message_the_server_refuses_is_retried_or_failed_never_counted_sent(tmp_db, files, reply, then):
    """smtplib returns (not raises) the server's answer to the message: a 451 or 554 there is no delivery."""
    inbox = RefuseOnce(reply)
    server = Server(free_port(), inbox).start()
    try:
        settings = settings_for(server.port, [Recipient(None, "truongban@thanhhoa.example.vn")])
        first = delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY)
        assert first.sent == [] and inbox.messages == []
        assert reply[:3] in rows(tmp_db)["truongban@thanhhoa.example.vn"]["last_error"]
        delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(minutes=5))
    finally:
        server.stop()
    assert rows(tmp_db)["truongban@thanhhoa.example.vn"]["status"] == then
    assert len(inbox.messages) == (then == "sent")


# --------------------------------------------------------------------------- the password, TLS


def authenticated_server(inbox: Inbox) -> Server:
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data == (b"bcd", "mật-khẩu 1".encode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    # No TLS here (auth_require_tls off): the service allows a password without TLS only to a loopback host.
    return Server(free_port(), inbox, authenticator=check, auth_required=True, auth_require_tls=False).start()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # on purpose: a loopback test server
def test_the_password_is_read_from_the_environment_variable_named(tmp_db, inbox, files, monkeypatch):
    server = authenticated_server(inbox)
    try:
        settings = settings_for(server.port, username="bcd", password_env="R4_TEST_SMTP_PASSWORD")
        monkeypatch.delenv("R4_TEST_SMTP_PASSWORD", raising=False)
        delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY)
        row = rows(tmp_db)["truongban@thanhhoa.example.vn"]
        assert row["status"] == "pending" and "R4_TEST_SMTP_PASSWORD" in row["last_error"]

        monkeypatch.setenv("R4_TEST_SMTP_PASSWORD", "wrong")
        delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(minutes=5))
        assert "535" in rows(tmp_db)["truongban@thanhhoa.example.vn"]["last_error"] and not inbox.messages

        monkeypatch.setenv("R4_TEST_SMTP_PASSWORD", "mật-khẩu 1")
        outcome = delivery.send_due(tmp_db, settings, now=MONDAY + timedelta(hours=1))
    finally:
        server.stop()
    assert len(outcome.sent) == 2 and len(inbox.messages) == 2
    stored = json.dumps(deliveries.deliveries(tmp_db))
    assert "mật-khẩu" not in stored and "wrong" not in stored  # nothing of the password in the database


@pytest.mark.parametrize(("port", "starttls", "expected"), [
    (587, True, "starttls"), (25, True, "starttls"), (25, False, "none"), (465, False, "ssl")])
def test_tls_mode_from_the_port_and_starttls(port, starttls, expected):
    assert SmtpSettings(host="h", sender="a@b.vn", port=port, starttls=starttls).security == expected


def test_tls_mode_defaults_from_the_port_in_feeds_yaml():
    def security(smtp: str) -> str:
        return load_text(f"settings:\n  smtp: {{host: mail.example.vn, from: a@example.vn{smtp}}}\n" + SOURCE) \
            .settings.smtp.security

    assert security("") == "starttls" and security(", port: 465") == "ssl" and security(", port: 25") == "starttls"
    assert security(", port: 25, starttls: false") == "none"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl, which Debian's ca-certificates brings along)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([shutil.which("openssl") or "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def test_starttls_with_a_verified_certificate(tmp_db, inbox, files, certificate):
    server = Server(free_port(), inbox, tls_context=server_context(certificate), require_starttls=True).start()
    try:
        trusted = settings_for(server.port, starttls=True, ca_file=str(certificate[0]))
        assert delivery.deliver_week(tmp_db, trusted, iso_week(WEEK), files, now=MONDAY).as_dict()["sent"] == 2
        # The system's CAs alone do not know this certificate: refused, recorded, retried (never sent in clear).
        untrusted = settings_for(server.port, [Recipient(None, "other@thanhhoa.example.vn")], starttls=True)
        outcome = delivery.deliver_week(tmp_db, untrusted, iso_week(WEEK), files, now=MONDAY)
    finally:
        server.stop()
    assert outcome.retrying == ["other@thanhhoa.example.vn"] and len(inbox.messages) == 2
    assert "CERTIFICATE_VERIFY_FAILED" in rows(tmp_db)["other@thanhhoa.example.vn"]["last_error"]


def test_starttls_required_but_not_offered_is_an_error_not_plain_text(tmp_db, server, inbox, files):
    settings = settings_for(server.port, starttls=True)  # this server offers no STARTTLS
    outcome = delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY)
    assert len(outcome.retrying) == 2 and inbox.messages == []
    assert "starttls failed" in rows(tmp_db)["truongban@thanhhoa.example.vn"]["last_error"]


class ImplicitTls(SmtpSettings):
    """Port 465's mode on a test port (binding 465 itself would need it free)."""
    security = "ssl"


def test_tls_from_the_first_byte_on_the_ssl_port(tmp_db, inbox, files, certificate):
    server = Server(free_port(), inbox, ssl_context=server_context(certificate)).start()
    try:
        settings = settings_for(server.port)
        settings.smtp = ImplicitTls(**{**vars(settings.smtp), "ca_file": str(certificate[0])})
        outcome = delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY)
    finally:
        server.stop()
    assert len(outcome.sent) == 2 and len(inbox.messages) == 2


# --------------------------------------------------------------------------- settings


def config_error(settings: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_text("settings:\n" + settings + SOURCE)
    return caught.value


def test_recipients_and_smtp_settings_load():
    text = """\
  report:
    recipients:
      - truongban@thanhhoa.example.vn
      - {name: "Văn phòng UBND tỉnh", email: vanphong@thanhhoa.example.vn}
      - Như trên
  smtp:
    host: mail.thanhhoa.example.vn
    port: 587
    username: bcd
    password_env: REPORT_SMTP_PASSWORD
    from: "Ban chỉ đạo <bcd@thanhhoa.example.vn>"
    timeout: 20
"""
    settings = load_text("settings:\n" + text + SOURCE).settings
    assert settings.report.recipients == [Recipient(None, "truongban@thanhhoa.example.vn"),
                                          Recipient("Văn phòng UBND tỉnh", "vanphong@thanhhoa.example.vn"),
                                          Recipient("Như trên", None)]
    assert [r.email for r in delivery.email_recipients(settings.report.recipients)] == ["truongban@thanhhoa.example.vn",
                                                                   "vanphong@thanhhoa.example.vn"]
    smtp = settings.smtp
    assert (smtp.host, smtp.port, smtp.security, smtp.username, smtp.password_env, smtp.timeout, smtp.max_attempts) \
        == ("mail.thanhhoa.example.vn", 587, "starttls", "bcd", "REPORT_SMTP_PASSWORD", 20.0, 8)


@pytest.mark.parametrize(("settings", "line", "field", "words"), [
    ("  report:\n    recipients:\n      - ok@thanhhoa.example.vn\n      - truongban@thanhhoa\n", 5,
     "report.recipients", "not an e-mail address"),
    ("  report:\n    recipients:\n      - {name: X, email: 'a b@c.vn'}\n  smtp: {host: h, from: a@b.vn}\n", 4,
     "report.recipients", "not an e-mail address"),
    ("  report:\n    recipients: a@b.vn\n", 3, "report.recipients", "must be a list"),
    ("  report:\n    recipents: []\n", 3, "report.recipents", "unknown setting"),
    ("  smtp:\n    host: h\n", 3, "smtp.from", "is required"),
    ("  smtp:\n    host: h\n    from: not-an-address\n", 4, "smtp.from", "not an address"),
    ("  smtp:\n    host: h\n    from: a@b.vn\n    port: 465\n    starttls: true\n", 6, "smtp.starttls", "465"),
    ("  smtp:\n    host: h\n    from: a@b.vn\n    port: smtp\n", 5, "smtp.port", "port number"),
    ("  smtp:\n    host: h\n    from: a@b.vn\n    username: u\n", 5, "smtp.password_env", "go together"),
    ("  smtp:\n    host: h\n    from: a@b.vn\n    username: u\n    password_env: 'hunter2!'\n", 6,
     "smtp.password_env", "NAME of an environment variable"),
    ("  smtp:\n    host: mail.example.vn\n    from: a@b.vn\n    starttls: false\n    username: u\n"
     "    password_env: P\n", 5, "smtp.starttls", "unencrypted"),
    ("  smtp:\n    host: h\n    from: a@b.vn\n    timeout: 0\n", 5, "smtp.timeout", "at least 1"),
    ("  smtp:\n    host: h\n    from: a@b.vn\n    ca_file: /nonexistent/ca.pem\n", 5, "smtp.ca_file", "not a file"),
    ("  smtp:\n    host: h\n    from: a@b.vn\n    password: hunter2\n", 5, "smtp.password", "unknown setting"),
])
def test_bad_report_and_smtp_settings_name_the_line_and_field(settings, line, field, words):
    error = config_error(settings)
    assert (error.line, error.field) == (line, field) and words in error.message
    assert "hunter2" not in str(error)  # a password typed into feeds.yaml is never echoed


# --------------------------------------------------------------------------- the scheduler and `monitor status`


def test_the_scheduler_runs_the_weekly_job_and_retries_every_five_minutes(db_path, tmp_path, inbox, monkeypatch):
    from monitor.schedule import housekeeping
    from monitor.schedule.scheduler import Scheduler

    port = free_port()
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"""\
settings:
  reports_dir: {tmp_path / "reports"}
  report:
    recipients: [{{name: Trưởng ban, email: truongban@thanhhoa.example.vn}}]
  smtp: {{host: 127.0.0.1, port: {port}, starttls: false, from: bcd@thanhhoa.example.vn, timeout: 5}}
{SOURCE}""", encoding="utf-8")
    scheduler = Scheduler(db_path, feeds, crawl=lambda *a, **k: None, housekeeping=True, heartbeat_seconds=60,
                          reconcile_seconds=60, first_run_spread=3600)
    scheduler.start()
    try:
        job = scheduler._aps.get_job("housekeeping:report_delivery")
        assert job is not None and job.trigger.interval == timedelta(minutes=5)
        assert set(housekeeping.default_jobs()) >= {"weekly_report", "report_delivery"}
        written = scheduler._housekeeping("weekly_report")  # the server is down: the files are written anyway
        week = Path(written[0]).name.split(".")[0].removeprefix("report-")
        assert [Path(p).suffix for p in written if Path(p).suffix in (".docx", ".pdf")]
        database = db.connect(db_path, migrate_schema=False)
        (row,) = deliveries.deliveries(database)
        assert (row["week"], row["status"], row["attempts"]) == (week, "pending", 1)
        assert sorted(Path(f).name for f in row["files"]) == sorted(
            f"report-{week}.{fmt}" for fmt in ("docx", "pdf") if fmt in FORMATS)

        with db.transaction(database) as conn:  # the back-off has passed
            conn.execute("UPDATE report_deliveries SET next_attempt_at = '2000-01-01T00:00:00Z'")
        server = Server(port, inbox).start()
        try:
            assert scheduler._housekeeping("report_delivery") == {
                "queued": 0, "sent": 1, "retrying": 0, "failed": 0, "uncertain": 0}
        finally:
            server.stop()
        assert scheduler._housekeeping("report_delivery") is None  # nothing due: nothing sent again
        (_, message), = inbox.messages
        assert message["Subject"].startswith(f"Báo cáo tuần {week} (")
        assert [part.get_filename() for part in message.iter_attachments()][-1] == f"report-{week}.pdf"
    finally:
        scheduler.stop(timeout=5)


def test_status_shows_the_last_delivery(db_path, tmp_db, files, capsys):
    settings = settings_for(free_port())
    delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY)
    assert main(["--db", str(db_path), "status"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("Report e-mail:"))
    assert line.startswith("Report e-mail: 2026-W49: 2 retrying (next attempt 2026-12-07T00:05:00Z); last error: "
                           "cannot connect to 127.0.0.1")
    assert main(["--db", str(db_path), "status", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["report_delivery"]
    assert summary["week"] == WEEK and summary["counts"]["pending"] == 2
    assert main(["--db", str(db_path), "deliveries"]) == 0
    listing = capsys.readouterr().out
    assert "truongban@thanhhoa.example.vn" in listing and "pending" in listing


def test_period_dates_of_the_subject_come_from_the_iso_week():
    period = iso_week(WEEK)
    assert (period.first_day, period.last_day) == (date(2026, 11, 30), date(2026, 12, 6))


@pytest.mark.parametrize(("args", "words"), [
    (["--retry", "99999999999999999999999"], "--retry 99999999999999999999999"),
    (["--retry", "0"], "--retry 0"),
    (["--week", "2026-W99"], "--week"),
    (["--week", "<b>"], "--week")])
def test_deliveries_bad_id_or_week_is_one_line_naming_the_option(db_path, tmp_db, capsys, args, words):
    """An id beyond SQLite's integers was an OverflowError traceback; a week that cannot exist listed nothing,
    as if that week had simply not been sent."""
    assert main(["--db", str(db_path), "deliveries", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and words in err, err


def test_a_recipient_taken_off_the_list_is_not_sent_the_pending_retries(tmp_db, inbox, files):
    """Hostile review: an address removed from settings.report.recipients (a typo fixed, someone who left the
    committee) kept its pending row and was still sent the week's report on the next retry, hours later."""
    port = free_port()  # down: both deliveries are pending
    delivery.deliver_week(tmp_db, settings_for(port), iso_week(WEEK), files, now=MONDAY)
    assert {row["status"] for row in rows(tmp_db).values()} == {"pending"}

    kept = settings_for(port, [Recipient("Trưởng ban", "TruongBan@thanhhoa.example.vn")])  # the other one removed
    server = Server(port, inbox).start()
    try:
        outcome = delivery.send_due(tmp_db, kept, now=MONDAY + timedelta(minutes=5))
    finally:
        server.stop()
    assert outcome.sent == ["truongban@thanhhoa.example.vn"]
    assert [rcpts for rcpts, _ in inbox.messages] == [["truongban@thanhhoa.example.vn"]]
    dropped = rows(tmp_db)["vanphong@thanhhoa.example.vn"]
    assert dropped["status"] == "failed" and "no longer" in dropped["last_error"]
    assert dropped["next_attempt_at"] is None


def test_one_format_failing_still_mails_the_others_and_the_job_fails(db_path, tmp_db, tmp_path, server, inbox,
                                                                     monkeypatch):
    """Hostile review: write_weekly wrote the formats one after another and stopped at the first exception (a
    crawled title fpdf2 could not lay out), so the committee got no e-mail at all that week, the DOCX included.
    Now every format that can be written is, the DOCX goes out, and the job still records the failure."""
    from monitor.reports import pdf
    from monitor.schedule import housekeeping

    def broken(report):
        raise ValueError("The row with index 3 is too high and cannot be rendered on a single page")

    monkeypatch.setattr(pdf, "render", broken)
    settings = settings_for(server.port)
    settings.reports_dir = str(tmp_path / "reports")
    with pytest.raises(housekeeping.WeeklyReportError) as caught:
        housekeeping.weekly_report(tmp_db, settings, str(db_path))
    assert "pdf" in str(caught.value) and "too high" in str(caught.value)
    written = sorted(path.suffix for path in (tmp_path / "reports").iterdir())
    assert ".docx" in written and ".pdf" not in written and ".html" in written
    assert len(inbox.messages) == 2
    assert [[part.get_filename().rsplit(".", 1)[1] for part in message.iter_attachments()]
            for _, message in inbox.messages] == [["docx"], ["docx"]]


def test_a_multi_line_refusal_is_recorded_on_one_line(db_path, tmp_db, files, capsys):
    """Hostile review: smtplib joins a multi-line reply ("550-5.7.1 …" / "550 5.7.1 …", as large providers
    send) with a newline; stored as it came, it split `monitor status`'s "Report e-mail:" line in two."""
    inbox = RefuseOnce("554-5.7.1 The message was rejected\r\n554-5.7.1 see https://example.vn/policy\r\n"
                       "554 5.7.1 for details")
    server = Server(free_port(), inbox).start()
    try:
        settings = settings_for(server.port, [Recipient(None, "truongban@thanhhoa.example.vn")])
        delivery.deliver_week(tmp_db, settings, iso_week(WEEK), files, now=MONDAY)
    finally:
        server.stop()
    error = rows(tmp_db)["truongban@thanhhoa.example.vn"]["last_error"]
    assert "554" in error and "for details" in error and "\n" not in error and "\r" not in error
    assert main(["--db", str(db_path), "status"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Report e-mail:"))
    assert "see `monitor deliveries`" in line
