"""Issue 15 item 10 (/health): anonymous callers get the status only; admins (session or API token) the details."""

from __future__ import annotations

import json

import db
from db.state import set_state
from db.tokens import create_token
from monitor.schedule.scheduler import CONFIG_ERROR_KEY, HEARTBEAT_KEY
from tests import helpers


def _client(path, **config):
    app = helpers.make_app(path, **config)
    return app.test_client()


def test_anonymous_health_shows_the_status_and_no_path_or_error_text(world):
    path, info = world
    database = db.connect(path)
    secret_path = "/etc/monitor/feeds-secret-location.yaml"
    set_state(database, CONFIG_ERROR_KEY, f"{secret_path}:3: sources[0].kind: unknown kind 'gopher'")
    set_state(database, HEARTBEAT_KEY, db.utcnow())

    response = _client(path, SCHEDULER_EXPECTED=True).get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body == {"status": "degraded", "reasons": ["feeds.yaml change rejected"]}
    text = response.get_data(as_text=True)
    assert secret_path not in text and "gopher" not in text and str(path) not in text

    admin = _client(path, SCHEDULER_EXPECTED=True)
    helpers.login(admin, "adm")
    details = admin.get("/health").get_json()
    assert details["status"] == "degraded" and secret_path in details["scheduler"]["config_error"]
    assert details["items"] and details["database"] is True

    moderator = _client(path, SCHEDULER_EXPECTED=True)
    helpers.login(moderator, "mod")
    assert moderator.get("/health").get_json() == body  # details are for admins only

    token = create_token(database, info["users"]["adm"], "uptime robot")
    with_token = _client(path).get("/health", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert secret_path in with_token["scheduler"]["config_error"]
    mod_token = create_token(database, info["users"]["mod"], "not an admin")
    assert _client(path).get("/health", headers={"Authorization": f"Bearer {mod_token}"}).get_json() == body
    assert _client(path).get("/health", headers={"Authorization": "Bearer mon_forged"}).get_json() == body
    database.conn.close()


def test_health_status_is_ok_degraded_or_error_with_503_only_for_error(world, tmp_path):
    path, _ = world
    database = db.connect(path)
    assert _client(path).get("/health").get_json() == {"status": "ok", "reasons": []}
    set_state(database, HEARTBEAT_KEY, "2020-01-01T00:00:00Z")
    stale = _client(path, SCHEDULER_EXPECTED=True).get("/health")
    assert stale.status_code == 503
    assert json.loads(stale.get_data()) == {"status": "error", "reasons": ["scheduler not running"]}
    database.conn.close()
    broken = tmp_path / "gone.db"
    app = _client(broken)
    broken.unlink()
    broken.mkdir()
    down = app.get("/health")
    assert down.status_code == 503 and down.get_json() == {"status": "error", "reasons": ["database unreachable"]}
