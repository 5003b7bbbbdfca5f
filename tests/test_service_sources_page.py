"""Admin sources page and /health: what an operator sees about each source and the scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import db
from db.state import set_state
from monitor.schedule.scheduler import HEARTBEAT_KEY
from monitor.status import status_report
from tests import helpers
from web.sources_page import register


def _ago(**delta) -> str:
    return db.to_iso(datetime.now(UTC) - timedelta(**delta))


def _source(conn, name: str, **columns) -> int:
    values = {"kind": "rss", "url": f"https://{name}.example.vn/rss", "interval_seconds": 3600,
              "created_at": _ago(days=30), **columns}
    keys = ", ".join(values)
    cursor = conn.execute(f"INSERT INTO sources (name, {keys}) VALUES (?, {', '.join('?' * len(values))})",
                          (name, *values.values()))
    return int(cursor.lastrowid)


def _setup(path):
    """Sources in every state on the world's database at `path`."""
    database = db.connect(path)
    with db.transaction(database) as conn:
        ids = {
            "healthy": _source(conn, "healthy", last_success_at=_ago(minutes=5), next_run_at=_ago(minutes=-55)),
            "failing": _source(conn, "failing", consecutive_failures=3, last_error_at=_ago(minutes=2),
                               last_error="HTTP 503 <script>alert(1)</script> from server"),
            "paused": _source(conn, "paused", paused=1, consecutive_failures=10, last_error="HTTP 404"),
            "dark": _source(conn, "dark", last_success_at=_ago(minutes=10)),
            "off": _source(conn, "off", enabled=0),
        }
    for n, (name, age) in enumerate([("healthy", {"hours": 2}), ("healthy", {"days": 3}), ("dark", {"days": 10}),
                                     ("dark", {"days": 12})]):
        helpers.make_item(database, ids[name], 500 + n, title=f"Bài {n}", text=f"Nội dung {n}",
                           fetched_at=_ago(**age), status="new")
    set_state(database, HEARTBEAT_KEY, db.utcnow())
    return database, ids


def _client(path, **config):
    app = helpers.make_app(path, **config)
    register(app)
    return app.test_client()


def test_sources_page_shows_each_sources_health_to_admins_only(world):
    path, _ = world
    _, ids = _setup(path)
    client = _client(path)
    assert client.get("/admin/sources/").status_code in (302, 401)
    helpers.login(client, "mod")
    assert client.get("/admin/sources/").status_code == 403
    client = _client(path)
    helpers.login(client, "adm")
    page = client.get("/admin/sources/").get_data(as_text=True)
    for name, state in [("healthy", "ok"), ("failing", "failing"), ("paused", "paused"), ("dark", "dark"),
                        ("off", "disabled")]:
        assert f'id="source-{ids[name]}" class="state-{state}" data-state="{state}"' in page, name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert 'id="scheduler-state">running' in page or 'id="scheduler-state">đang chạy' in page  # vi is the default UI language

    response = client.post(f"/admin/sources/{ids['paused']}/resume")
    assert response.status_code == 303
    database = db.connect(path)
    assert database.conn.execute("SELECT paused, consecutive_failures FROM sources WHERE id = ?",
                                 (ids["paused"],)).fetchone() == (0, 0)


def test_status_report_counts_items_per_window_and_spots_dark_sources(world):
    path, _ = world
    database, _ = _setup(path)
    report = status_report(database)
    sources = {row["name"]: row for row in report["sources"]}
    assert (sources["healthy"]["items_24h"], sources["healthy"]["items_7d"]) == (1, 2)
    assert sources["dark"]["gone_dark"] is True and sources["dark"]["items_7d"] == 0
    assert sources["healthy"]["gone_dark"] is False
    assert report["scheduler"]["healthy"] is True
    assert report["scheduler"]["sources_failing"] == ["failing"]
    assert report["scheduler"]["sources_paused"] == ["paused"]


def test_health_reports_scheduler_and_turns_503_when_the_heartbeat_is_stale(world):
    path, _ = world
    database, _ = _setup(path)
    client = _client(path, SCHEDULER_EXPECTED=True)
    helpers.login(client, "adm")  # the details are for admins; anyone gets the status
    response = client.get("/health")
    body = response.get_json()
    assert response.status_code == 200 and body["ok"] is True and body["status"] == "degraded"
    assert body["scheduler"]["sources_failing"] == ["failing"] and body["scheduler"]["sources_paused"] == ["paused"]
    assert "queue_depth" in body["scheduler"]
    set_state(database, HEARTBEAT_KEY, _ago(minutes=10))
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["scheduler"]["healthy"] is False
    # `monitor serve` (web only) does not expect a scheduler: still healthy.
    assert _client(path, SCHEDULER_EXPECTED=False).get("/health").status_code == 200
