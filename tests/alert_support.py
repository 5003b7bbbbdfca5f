"""What the alert tests share: a database with sources and stories, rows the producers of other helpers would
write (places, claim matches, spikes) inserted directly, a real SMTP server (aiosmtpd) and a local HTTP server
standing in for a webhook receiver and the Telegram Bot API, all on 127.0.0.1."""

from __future__ import annotations

import email
import json
import socket
from email import policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

import db
from db.sources import ensure_source
from monitor.config import AlertChannel, AlertSettings, Settings, SmtpSettings
from tests import helpers
from tests.servers import Response, TestServer

TOKEN = "987654:SECRETtokenABCDEF"  # a Telegram bot token: must never reach the database or the logs
CHAT = "-100777"
MAIL_SECRET = "mailpassXYZ"


class Inbox:
    """aiosmtpd handler keeping every accepted message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"

    def bodies(self) -> list[str]:
        texts = []
        for _rcpt, message in self.messages:
            part = message.get_body(preferencelist=("plain",)) or message
            texts.append(part.get_content())
        return texts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Smtp:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        # Login over plain text on 127.0.0.1, so the channel's URL carries a password as a real one would.
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, auth_require_tls=False,
                                     authenticator=lambda *args: AuthResult(success=True))

    def __enter__(self) -> Smtp:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def telegram_ok(request) -> Response:
    return Response(200, {"Content-Type": "application/json"},
                    json.dumps({"ok": True, "result": {"message_id": 1}}).encode())


def receiver() -> TestServer:
    """A local HTTP server answering a webhook (/hook) and the Bot API's sendMessage for TOKEN."""
    server = TestServer().start()
    server.route("/hook", "ok", content_type="text/plain")
    server.route(f"/bot{TOKEN}/sendMessage", handler=telegram_ok)
    return server


def posts(server: TestServer, path: str) -> list[dict]:
    return [json.loads(r.body) for r in server.requests if r.method == "POST" and r.path == path]


def settings_for(server: TestServer | None, smtp: Smtp | None = None, *, cooldown: int = 6 * 3600,
                 quiet_hours=None, when_email=("flagged_high", "claim_match", "jurisdiction", "spike"),
                 when_telegram=("claim_match", "spike"), max_attempts: int = 8) -> Settings:
    channels = []
    if smtp is not None:
        channels.append(AlertChannel("truc-ban-email", f"mailto://bcd:{MAIL_SECRET}@127.0.0.1:{smtp.port}"
                                     "?from=canhbao@thanhhoa.example.vn&to=trucban@thanhhoa.example.vn",
                                     tuple(when_email)))
    if server is not None:
        channels.append(AlertChannel("nhom-telegram", f"tgram://{TOKEN}/{CHAT}", tuple(when_telegram)))
        channels.append(AlertChannel("webhook", f"json://127.0.0.1:{server.port}/hook",
                                     ("flagged_high", "claim_match", "jurisdiction", "spike")))
    alerts = AlertSettings(channels=channels, cooldown=cooldown, quiet_hours=quiet_hours,
                           public_url="https://canhbao.example.gov.vn", max_attempts=max_attempts,
                           telegram_api=server.url("").rstrip("/") if server is not None else None,
                           telegram_token=TOKEN)
    smtp_settings = SmtpSettings(host="127.0.0.1", sender="Ban chỉ đạo <bcd@thanhhoa.example.vn>",
                                 port=smtp.port, starttls=False, timeout=5.0) if smtp is not None else None
    return Settings(alerts=alerts, smtp=smtp_settings)


def only_channel(settings: Settings, name: str) -> Settings:
    """`settings` with the one feeds.yaml channel `name` left."""
    settings.alerts.channels = [c for c in settings.alerts.channels if c.name == name]
    return settings


def queue_one_alert(world: World, settings: Settings, *, score: float = 0.95) -> None:
    """One flagged item, scanned after a first scan has set the cursors: it alone makes an alert."""
    from monitor.alerts import rules

    rules.scan(world.database, settings)
    world.item(score=score)
    rules.scan(world.database, settings)


def webhook_alert(world: World, address: str, *, score: float = 0.97) -> Settings:
    """Settings with no channels, the moderator subscribed to high-priority alerts at the webhook `address`,
    and one such alert queued: what the webhook address tests start from."""
    from db import alerts as store

    settings = settings_for(None)
    settings.alerts.channels = []
    store.save_subscription(world.database, world.users["mod"], "webhook", address, ["flagged_high"], [], True)
    queue_one_alert(world, settings, score=score)
    return settings


class World:
    """A database with five sources and helpers to store copies of a story and the other helpers' rows."""

    def __init__(self, path: Path | str) -> None:
        self.database = db.connect(path)  # a SQLite file or a PostgreSQL URL
        self.sources = [ensure_source(self.database, f"Nguồn {n}", "rss", f"https://nguon{n}.vn/rss", "vi")
                        for n in range(1, 6)]
        self.users = {name: db.users.add_user(self.database, name, helpers.PASSWORD, role)
                      for name, role in helpers.USERS.items()}
        self.n = 0

    def item(self, *, source: int = 0, cluster: int | None = None, status: str = "flagged", score: float = 0.5,
             title: str = "Tin đồn xã Đông Tiến có dịch lạ", about: bool = False, rules: list | None = None) -> int:
        self.n += 1
        item_id = helpers.make_item(self.database, self.sources[source], self.n, title=title,
                                    text=f"Nội dung bản {self.n}", status=status, misinformation=score,
                                    url=f"https://nguon{source + 1}.vn/bai/{self.n}", cluster_id=cluster,
                                    fetched_at=db.utcnow(), explanation={"terms": {}, "rules": rules or []})
        if about:
            with db.transaction(self.database) as conn:
                conn.execute("UPDATE items SET about_jurisdiction = 1 WHERE id = ?", (item_id,))
        return item_id

    def cluster_of(self, item_id: int) -> int:
        return self.database.conn.execute("SELECT cluster_id FROM items WHERE id = ?", (item_id,)).fetchone()[0]

    def place(self, item_id: int, code: str = "c:15904", province: str = "p:38") -> None:
        with db.transaction(self.database) as conn:
            conn.execute("INSERT INTO item_places (item_id, code, level, province_code) VALUES (?, ?, 'commune', ?)",
                         (item_id, code, province))

    def claim(self, item_id: int, text: str = "Xã Đông Tiến có dịch lạ",
              url: str = "https://thanhhoa.gov.vn/bac-bo/1", matched_at: str | None = None) -> int:
        with db.transaction(self.database) as conn:
            conn.execute(
                "INSERT INTO known_claims (text, text_key, verdict, url, publisher, origin, created_at)"
                " VALUES (?, ?, 'false', ?, 'Cổng TTĐT Thanh Hóa', 'import', ?) ON CONFLICT DO NOTHING",
                (text, text.lower(), url, db.utcnow()))
            claim_id = conn.execute("SELECT id FROM known_claims WHERE url = ?", (url,)).fetchone()[0]
            conn.execute("INSERT INTO claim_matches (item_id, claim_id, similarity, matched_at) VALUES (?, ?, 0.93, ?)",
                         (item_id, claim_id, matched_at or db.utcnow()))
        return claim_id

    def spike(self, item_ids: list[int], rule: str = "lan-nhanh", kind: str = "story_sources",
              subject: str | None = None, observed: float = 5) -> int:
        cluster = self.cluster_of(item_ids[0])
        with db.transaction(self.database) as conn:
            spike_id = conn.execute(
                "INSERT INTO spikes (rule, kind, subject, window_start, fired_at, observed, expected)"
                " VALUES (?, ?, ?, ?, ?, ?, NULL) RETURNING id",
                (rule, kind, subject or str(cluster), db.utcnow(), db.utcnow(), observed)).fetchone()[0]
            for item_id in item_ids:
                conn.execute("INSERT INTO spike_items (spike_id, item_id, cluster_id) VALUES (?, ?, ?)",
                             (spike_id, item_id, self.cluster_of(item_id)))
        return spike_id

    def dump(self) -> str:
        """Everything stored, as text: what a secret must never be found in."""
        if db.dialect(self.database) == "sqlite":
            return "\n".join(self.database.conn.iterdump())
        tables = [row[0] for row in self.database.conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        return "\n".join(repr(row) for table in tables for row in self.database.conn.execute(f'SELECT * FROM "{table}"'))

