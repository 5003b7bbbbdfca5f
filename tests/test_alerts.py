"""Alerts (issue 11 item 4): configuration, the event scan (one alert per story, cooldown, quiet hours →
digest), delivery through real components on 127.0.0.1 (aiosmtpd for e-mail, a local HTTP server for the
webhook and the Telegram Bot API), retry with back-off, and secrets kept out of the database and logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

import db
from db import alerts as store
from monitor import config
from monitor.alerts import rules, send
from monitor.config import ConfigError
from tests.alert_support import (
    CHAT,
    MAIL_SECRET,
    TOKEN,
    Smtp,
    only_channel,
    posts,
    queue_one_alert,
    receiver,
    settings_for,
    webhook_alert,
)

FEEDS = """\
alerts:
  - {name: truc-ban-email, url: "${ALERT_MAIL_URL}", when: [flagged_high, claim_match, jurisdiction, spike]}
  - {name: nhom-telegram, url: "tgram://${TG_TOKEN}/${TG_CHAT}", when: [claim_match, spike]}
settings:
  alerts: {cooldown: 6h, quiet_hours: "22:00-06:30", digest_at: "06:30", high_score: 0.9,
           public_url: "https://canhbao.example.gov.vn"}
sources:
  - {name: a, kind: rss, url: "https://a.vn/rss"}
"""


# --------------------------------------------------------------------------- configuration


def test_config_expands_the_environment_and_keeps_the_url_out_of_repr(monkeypatch):
    monkeypatch.setenv("ALERT_MAIL_URL", f"mailtos://bcd:{MAIL_SECRET}@smtp.example.vn?to=a@example.vn")
    monkeypatch.setenv("TG_TOKEN", TOKEN)
    monkeypatch.setenv("TG_CHAT", CHAT)
    alerts = config.load_text(FEEDS, "feeds.yaml").settings.alerts
    assert [c.name for c in alerts.channels] == ["truc-ban-email", "nhom-telegram"]
    assert alerts.channels[1].url == f"tgram://{TOKEN}/{CHAT}"
    assert alerts.channels[1].when == ("claim_match", "spike")
    assert (alerts.cooldown, alerts.quiet_hours, alerts.digest_at) == (21600, ((22, 0), (6, 30)), (6, 30))
    assert TOKEN not in repr(alerts) and MAIL_SECRET not in repr(alerts)


def test_a_missing_variable_is_named_with_file_and_line(monkeypatch):
    monkeypatch.setenv("ALERT_MAIL_URL", "mailto://a@example.vn")
    monkeypatch.delenv("TG_TOKEN", raising=False)
    monkeypatch.setenv("TG_CHAT", CHAT)
    with pytest.raises(ConfigError) as error:
        config.load_text(FEEDS, "feeds.yaml")
    assert str(error.value) == "feeds.yaml:3: field 'alerts.url': the environment variable TG_TOKEN is not set"


@pytest.mark.parametrize(("entry", "field", "line_has"), [
    ('{name: x, url: "https://hooks.example.vn/x?token=s3cret"}', "alerts.url", "https://…"),
    ('{name: x, url: "json://h.vn/x", when: [flagged]}', "alerts.when", "flagged_high"),
    ('{name: x, url: "json://h.vn/x", colour: red}', "alerts.colour", "unknown setting"),
    ('{url: "json://h.vn/x"}', "alerts.name", "is required"),
])
def test_bad_channels_are_config_errors(entry, field, line_has):
    with pytest.raises(ConfigError) as error:
        config.load_text(f"alerts:\n  - {entry}\nsources: []\n", "feeds.yaml")
    assert error.value.field == field and error.value.line == 2 and line_has in str(error.value)
    assert "s3cret" not in str(error.value)


def test_bad_alert_settings_are_config_errors():
    with pytest.raises(ConfigError, match="alerts.quiet_hours"):
        config.load_text('settings:\n  alerts: {quiet_hours: "22h"}\nsources: []\n')
    with pytest.raises(ConfigError, match="alerts.high_score"):
        config.load_text("settings:\n  alerts: {high_score: 5}\nsources: []\n")
    with pytest.raises(ConfigError, match="alerts.cooldown"):
        config.load_text("settings:\n  alerts: {cooldown: 10s}\nsources: []\n")


# --------------------------------------------------------------------------- the scan


@pytest.fixture()
def world(any_alert_world):
    """Every case from here on runs on SQLite and on PostgreSQL."""
    return any_alert_world


def test_the_first_scan_starts_now_and_never_sends_the_history(world):
    world.item(score=0.99)
    settings = settings_for(None, None)
    settings.alerts.channels = [config.AlertChannel("c", "json://127.0.0.1:1/x")]
    assert rules.scan(world.database, settings).added == 0
    assert store.all_alerts(world.database) == []
    world.item(score=0.99)
    assert rules.scan(world.database, settings).added == 1


def test_one_alert_per_story_with_every_reason_and_cooldown(world):
    settings = settings_for(None, None, cooldown=3600)
    settings.alerts.channels = [config.AlertChannel("all", "json://127.0.0.1:1/x"),
                                config.AlertChannel("claims", "json://127.0.0.1:1/y", ("claim_match",))]
    rules.scan(world.database, settings)
    first = world.item(score=0.95, about=True)
    story = world.cluster_of(first)
    second = world.item(source=1, cluster=story, score=0.2, status="new")
    world.claim(second)
    world.place(first)
    world.item(source=2, status="new", score=0.1)  # another story, nothing to say about it
    outcome = rules.scan(world.database, settings)
    assert outcome.added == 2
    rows = store.all_alerts(world.database)
    assert {(r["channel"], tuple(r["events"])) for r in rows} == {
        ("all", ("flagged_high", "claim_match", "jurisdiction")), ("claims", ("claim_match",))}
    assert all(r["story"] == story for r in rows)
    assert rows[0]["reasons"]["claims"][0]["url"] == "https://thanhhoa.gov.vn/bac-bo/1"
    # The same story again: merged into the alert still waiting (not a second alert).
    world.item(source=3, cluster=story, score=0.97)
    assert rules.scan(world.database, settings).merged == 1
    assert len(store.all_alerts(world.database)) == 2
    # Sent, then the story fires again within the cooldown: nothing; after it: a second alert.
    store.claim(world.database, [r["id"] for r in rows], db.utcnow())
    store.mark_sent(world.database, [r["id"] for r in rows], db.utcnow())
    world.item(source=4, cluster=story, score=0.98)
    assert rules.scan(world.database, settings).cooled == 1
    world.item(source=4, cluster=story, score=0.99)
    later = datetime.now(UTC) + timedelta(seconds=3601)
    assert rules.scan(world.database, settings, now=later).added == 1


def test_flagged_high_means_a_high_score_or_a_watchlist_hit(world):
    settings = settings_for(None, None)
    settings.alerts.channels = [config.AlertChannel("c", "json://127.0.0.1:1/x", ("flagged_high",))]
    rules.scan(world.database, settings)
    world.item(score=0.89)  # flagged, below high_score
    world.item(score=0.99, status="new")  # a high score, not flagged
    assert rules.scan(world.database, settings).added == 0
    world.item(score=0.5, rules=[{"name": "bao-luc", "weight": 1}])
    rows = store.all_alerts(world.database) if rules.scan(world.database, settings).added else []
    assert rows and rows[0]["reasons"]["watchlist"] == ["bao-luc"]


def test_late_claim_matches_and_spikes_are_events(world):
    settings = settings_for(None, None)
    settings.alerts.channels = [config.AlertChannel("c", "json://127.0.0.1:1/x", ("claim_match", "spike"))]
    old = world.item(status="new")
    rules.scan(world.database, settings)
    world.claim(old)  # a claim imported after the item was scanned
    copies = [old] + [world.item(source=n, cluster=world.cluster_of(old), status="new") for n in (1, 2)]
    world.spike(copies, observed=3)
    assert rules.scan(world.database, settings).added == 1
    (row,) = store.all_alerts(world.database)
    assert row["events"] == ["claim_match", "spike"] and row["reasons"]["spikes"][0]["observed"] == 3
    assert rules.scan(world.database, settings).stories == 0  # nothing read twice


def test_subscriptions_filter_by_event_and_place(world):
    settings = settings_for(None, None)
    store.save_subscription(world.database, world.users["mod"], "email", "mod@thanhhoa.example.vn",
                            ["jurisdiction"], ["p:38"], True)
    store.save_subscription(world.database, world.users["ana"], "email", "ana@example.vn",
                            ["jurisdiction"], ["p:01"], True)
    rules.scan(world.database, settings)
    item = world.item(about=True)
    world.place(item, "c:15904", "p:38")
    rules.scan(world.database, settings)
    assert [(r["user_id"], r["channel"]) for r in store.all_alerts(world.database)] == [(world.users["mod"], None)]


def test_quiet_hours_hold_alerts_for_one_morning_digest(world):
    with receiver() as server:
        settings = settings_for(server, None, quiet_hours=((22, 0), (6, 30)))
        settings.alerts.channels = [c for c in settings.alerts.channels if c.name == "webhook"]
        rules.scan(world.database, settings)
        night = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 23:00 in Asia/Ho_Chi_Minh
        world.item(score=0.95, title="Tin thứ nhất")
        world.item(score=0.96, title="Tin thứ hai")
        assert rules.scan(world.database, settings, now=night).added == 2
        rows = store.all_alerts(world.database)
        assert all(r["digest"] and r["next_attempt_at"] == "2026-12-02T23:30:00Z" for r in rows)
        assert send.send_due(world.database, settings, now=night + timedelta(hours=1)).sent == 0
        # Past the cooldown (6 h) but before the digest: the story's new copy joins its held alert.
        world.item(score=0.97, cluster=rows[0]["story"])
        assert rules.scan(world.database, settings, now=night + timedelta(hours=7)).merged == 1
        assert send.send_due(world.database, settings, now=datetime(2026, 12, 2, 23, 30, tzinfo=UTC)).sent == 2
        (digest,) = posts(server, "/hook")
        assert "Tin thứ nhất" in digest["message"] and "Tin thứ hai" in digest["message"]
        assert {r["status"] for r in store.all_alerts(world.database)} == {"sent"}


# --------------------------------------------------------------------------- delivery, real components


def test_email_telegram_and_webhook_receive_the_alert(world, caplog):
    caplog.set_level(logging.DEBUG)
    with Smtp() as smtp, receiver() as server:
        settings = settings_for(server, smtp)
        rules.scan(world.database, settings)
        first = world.item(score=0.95, about=True)
        story = world.cluster_of(first)
        copies = [first] + [world.item(source=n, cluster=story, status="new") for n in range(1, 5)]
        world.claim(copies[2])
        world.place(first)
        rules.scan(world.database, settings)
        outcome = send.send_due(world.database, settings)
        assert outcome.sent == 3, outcome
        (mail,) = smtp.inbox.bodies()
        (telegram,) = posts(server, f"/bot{TOKEN}/sendMessage")
        (hook,) = posts(server, "/hook")
    assert str(telegram["chat_id"]) == CHAT
    for text in (mail, telegram["text"], hook["message"]):
        assert "Tin đồn xã Đông Tiến có dịch lạ" in text
        assert "Trùng với tin đã được bác bỏ" in text and "https://thanhhoa.gov.vn/bac-bo/1" in text
        assert f"https://canhbao.example.gov.vn/items/{first}" in text
        for n in range(1, 6):
            assert f"Nguồn {n}" in text and f"https://nguon{n}.vn/bai/" in text
    assert "c:15904" in mail  # the place, in the jurisdiction reason
    dumped = world.dump()
    assert TOKEN not in dumped and MAIL_SECRET not in dumped and "/hook" not in dumped
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert TOKEN not in logged and MAIL_SECRET not in logged


def test_a_failing_channel_is_retried_with_back_off(world, caplog):
    with receiver() as server:
        server.route("/hook", "down", status=500, content_type="text/plain")
        settings = settings_for(server, None, max_attempts=3)
        settings.alerts.channels = [c for c in settings.alerts.channels if c.name == "webhook"]
        rules.scan(world.database, settings)
        world.item(score=0.95)
        world.item(score=0.96)
        rules.scan(world.database, settings)
        now = datetime.now(UTC)
        outcome = send.send_due(world.database, settings, now=now)
        assert (outcome.retrying, outcome.skipped) == (1, 1)  # the second is not tried against a failing channel
        assert len(posts(server, "/hook")) == 1
        first = store.all_alerts(world.database)[0]
        assert first["status"] == "pending" and first["attempts"] == 1 and first["last_error"]
        assert not first["last_error"][:1].isdigit()  # Apprise's message, not its log line's time and level
        assert first["next_attempt_at"] == db.to_iso(now + timedelta(seconds=30))
        second = store.all_alerts(world.database)[1]  # waits for the channel's retry, no attempt counted
        assert (second["attempts"], second["next_attempt_at"]) == (0, first["next_attempt_at"])
        assert send.send_due(world.database, settings, now=now + timedelta(seconds=10)).retrying == 0
        assert len(posts(server, "/hook")) == 1
        assert send.send_due(world.database, settings, now=now + timedelta(seconds=31)).retrying == 1
        row = store.get(world.database, first["id"])
        assert row["attempts"] == 2 and row["next_attempt_at"] == db.to_iso(now + timedelta(seconds=31 + 90))
        assert len(posts(server, "/hook")) == 2
        server.route("/hook", "ok", content_type="text/plain")
        assert send.send_due(world.database, settings, now=now + timedelta(seconds=200)).sent == 2
        assert [r["status"] for r in store.all_alerts(world.database)] == ["sent", "sent"]


def test_attempts_used_up_leave_the_alert_failed(world):
    with receiver() as server:
        server.route("/hook", "down", status=503, content_type="text/plain")
        settings = only_channel(settings_for(server, None, max_attempts=1), "webhook")
        queue_one_alert(world, settings)
        assert send.send_due(world.database, settings).failed == 1
    (row,) = store.all_alerts(world.database)
    assert row["status"] == "failed" and row["next_attempt_at"] is None
    assert "127.0.0.1" not in row["last_error"]  # the URL's parts are masked in the recorded error
    assert store.retry(world.database, row["id"]) and store.get(world.database, row["id"])["status"] == "pending"


def test_a_user_subscription_by_email_goes_through_settings_smtp(world):
    with Smtp() as smtp:
        settings = settings_for(None, smtp)
        settings.alerts.channels = []
        store.save_subscription(world.database, world.users["mod"], "email", "mod@thanhhoa.example.vn",
                                ["flagged_high"], [], True)
        rules.scan(world.database, settings)
        item = world.item(score=0.97)
        rules.scan(world.database, settings)
        assert send.send_due(world.database, settings).sent == 1
        ((recipients, message),) = smtp.inbox.messages
    assert recipients == ["mod@thanhhoa.example.vn"]
    assert message["Subject"].startswith("Cảnh báo:")
    assert f"/items/{item}" in message.get_content()


def test_a_removed_channel_fails_its_waiting_alerts(world):
    settings = settings_for(None, None)
    settings.alerts.channels = [config.AlertChannel("gone", "json://127.0.0.1:1/x")]
    rules.scan(world.database, settings)
    world.item(score=0.95)
    rules.scan(world.database, settings)
    settings.alerts.channels = []
    assert send.send_due(world.database, settings).failed == 1
    assert "no longer configured" in store.all_alerts(world.database)[0]["last_error"]


def test_a_long_digest_reaches_telegram_in_several_messages(world):
    with receiver() as server:
        settings = settings_for(server, None, quiet_hours=((22, 0), (6, 30)), when_telegram=("flagged_high",))
        settings.alerts.channels = [c for c in settings.alerts.channels if c.name == "nhom-telegram"]
        rules.scan(world.database, settings)
        for n in range(30):
            world.item(score=0.95, title=f"Tin số {n}: " + "người dân hoang mang vì tin đồn " * 4)
        night = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
        assert rules.scan(world.database, settings, now=night).added == 30
        assert send.send_due(world.database, settings, now=datetime(2026, 12, 2, 23, 30, tzinfo=UTC)).sent == 30
        messages = posts(server, f"/bot{TOKEN}/sendMessage")
    assert len(messages) > 1 and all(len(m["text"]) <= 4096 for m in messages)
    joined = "".join(m["text"] for m in messages)
    assert "Tin số 0:" in joined and "Tin số 29:" in joined


def test_monitor_status_tells_the_last_days_alerts_and_their_failures(world, capsys):
    from monitor.cli import main

    settings = settings_for(None, None, max_attempts=1)
    settings.alerts.channels = [config.AlertChannel("dead", "json://127.0.0.1:9/x")]
    rules.scan(world.database, settings)
    world.item(score=0.95)
    world.item(score=0.96)
    rules.scan(world.database, settings)
    assert send.send_due(world.database, settings).failed == 1  # the other waits for the channel's retry
    assert main(["--db", db.location(world.database), "status"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Alerts (24 h):"))
    assert line.startswith("Alerts (24 h): 1 waiting, 1 failed; last error: ") and line.endswith("(/alerts/)")
    assert "127.0.0.1" not in line


def test_an_alert_left_sending_by_a_dead_process_becomes_uncertain(world):
    settings = settings_for(None, None)
    settings.alerts.channels = [config.AlertChannel("c", "json://127.0.0.1:9/x")]
    rules.scan(world.database, settings)
    world.item(score=0.95)
    rules.scan(world.database, settings)
    (row,) = store.all_alerts(world.database)
    assert store.claim(world.database, [row["id"]], db.to_iso(datetime.now(UTC) - timedelta(hours=1)))
    assert not store.claim(world.database, [row["id"]], db.utcnow())  # claimed once only
    send.send_due(world.database, settings)
    row = store.get(world.database, row["id"])
    assert row["status"] == "uncertain" and "interrupted while sending" in row["last_error"]


def test_the_sender_stops_between_messages_when_the_service_stops(world):
    with receiver() as server:
        settings = settings_for(server, None)
        settings.alerts.channels = [c for c in settings.alerts.channels if c.name == "webhook"]
        rules.scan(world.database, settings)
        world.item(score=0.95)
        world.item(score=0.96)
        rules.scan(world.database, settings)
        asked = []
        outcome = send.send_due(world.database, settings, stop=lambda: asked.append(1) or len(asked) > 1)
        assert outcome.sent == 1 and len(posts(server, "/hook")) == 1
    assert [r["status"] for r in store.all_alerts(world.database)] == ["sent", "pending"]


def test_a_users_webhook_whose_host_resolves_inside_is_refused_unless_private_networks_are_allowed(world):
    """The form refuses a literal private IP; a host name ("localhost") that resolves to one is refused when
    the alert is sent, as the crawler refuses it, and nothing is posted; allowed again with private networks."""
    server = receiver()
    try:
        settings = webhook_alert(world, f"http://localhost:{server.port}/hook")
        assert send.send_due(world.database, settings).failed == 1
        assert "webhook refused" in store.all_alerts(world.database)[0]["last_error"]
        assert posts(server, "/hook") == []
        settings.allow_private_networks = True
        world.item(score=0.98, cluster=None)
        rules.scan(world.database, settings)
        assert send.send_due(world.database, settings).sent == 1
        assert len(posts(server, "/hook")) == 1
    finally:
        server.stop()
