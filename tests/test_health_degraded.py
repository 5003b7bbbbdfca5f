"""Issue 12 item 8 (honest health): /health and the UI banner say "degraded", with the reason, when every
source failed its last run, when nothing was stored for 3 intervals, or when the scorer refuses its model;
`monitor run` warns on stderr when its first crawl pass reaches no source at all."""

from __future__ import annotations

import json
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import db
from db.state import SCORER_REFUSED_KEY, delete_state, scorer_problem, set_state
from monitor.schedule.scheduler import HEARTBEAT_KEY, STATUS_KEY, FirstPass, Scheduler
from monitor.scoring import ActiveScorer
from tests import helpers
from tests.scheduler_fixtures import ServiceProcess, feeds_yaml, wait_for

SECRET_PATH = "/srv/models/secret-location/model.skops"


def _health(path, *, admin: bool = False, **config) -> dict:
    client = helpers.make_app(path, **config).test_client()
    if admin:
        helpers.login(client, "adm")
    response = client.get("/health")
    assert response.status_code == 200
    return response.get_json()


def _sql(path, sql: str, args: tuple = ()) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, args)
    conn.close()


def _ago(**delta) -> str:
    return db.to_iso(datetime.now(UTC) - timedelta(**delta))


def test_every_source_failing_is_degraded_until_one_gets_through(world):
    path, _ = world
    _sql(path, "UPDATE sources SET enabled = 1")  # the world's sources were made by intake, disabled
    assert _health(path) == {"status": "ok", "reasons": []}
    _sql(path, "UPDATE sources SET consecutive_failures = 3 WHERE enabled = 1")
    assert _health(path) == {"status": "degraded", "reasons": ["every source failed its last run"]}
    admin = _health(path, admin=True)
    assert admin["scheduler"]["all_sources_failing"] is True and admin["scheduler"]["sources_enabled"] > 0
    _sql(path, "UPDATE sources SET consecutive_failures = 0 WHERE id = (SELECT MIN(id) FROM sources WHERE enabled = 1)")
    body = _health(path)
    assert "every source failed its last run" not in body["reasons"]
    _sql(path, "UPDATE sources SET consecutive_failures = 0")
    assert _health(path) == {"status": "ok", "reasons": []}


def test_nothing_stored_for_three_intervals_is_degraded_only_while_a_scheduler_runs(world):
    path, _ = world
    database = db.connect(path)
    _sql(path, "UPDATE sources SET enabled = 1, interval_seconds = 600, effective_interval_seconds = NULL")
    _sql(path, "UPDATE items SET fetched_at = ?", (_ago(hours=2),))
    set_state(database, HEARTBEAT_KEY, db.utcnow())
    set_state(database, STATUS_KEY, json.dumps({"started_at": _ago(hours=1)}))
    assert _health(path, SCHEDULER_EXPECTED=True) == {"status": "degraded", "reasons": ["nothing stored recently"]}
    details = _health(path, admin=True, SCHEDULER_EXPECTED=True)["scheduler"]
    assert details["nothing_stored_after"] == 1800 and details["nothing_stored_for"] >= 3600
    assert _health(path, SCHEDULER_EXPECTED=False) == {"status": "ok", "reasons": []}  # `monitor serve`: no crawling
    set_state(database, STATUS_KEY, json.dumps({"started_at": _ago(minutes=5)}))  # a fresh start gets its window
    assert _health(path, SCHEDULER_EXPECTED=True) == {"status": "ok", "reasons": []}
    set_state(database, STATUS_KEY, json.dumps({"started_at": _ago(hours=1)}))
    _sql(path, "UPDATE items SET fetched_at = ? WHERE id = (SELECT MAX(id) FROM items)", (_ago(minutes=29),))
    assert _health(path, SCHEDULER_EXPECTED=True) == {"status": "ok", "reasons": []}
    database.conn.close()


def test_a_refused_model_is_degraded_with_the_path_for_admins_only(world):
    path, _ = world
    database = db.connect(path)
    set_state(database, SCORER_REFUSED_KEY, json.dumps({"model_path": SECRET_PATH, "error": "ValueError: bad file",
                                                        "current_version": "v1", "at": db.utcnow()}))
    anonymous = helpers.make_app(path).test_client().get("/health")
    assert anonymous.get_json() == {"status": "degraded", "reasons": ["scorer refusing its model"]}
    assert SECRET_PATH not in anonymous.get_data(as_text=True)
    assert _health(path, admin=True)["scorer"]["refused"]["model_path"] == SECRET_PATH
    delete_state(database, SCORER_REFUSED_KEY)
    assert _health(path) == {"status": "ok", "reasons": []}
    database.conn.close()


def test_active_scorer_reports_a_refusal_and_its_end(tmp_path, tmp_db):
    from classifiers.model import DEFAULT_MODEL, load_state
    from classifiers.registry import Registry
    from monitor.schedule.resources import WorkerResources

    heard: list = []
    scorer = ActiveScorer(registry_root=tmp_path, recheck_seconds=0, on_refused=heard.append)
    assert heard == [None]
    state = load_state(DEFAULT_MODEL)
    state["version"] = "candidate-h"
    registry = Registry(tmp_path)
    registry.add(state, {})
    registry.promote("candidate-h", force=True)
    registry.active_model_path().write_bytes(b"not a model file")
    scorer.score(["tin tức"])
    assert heard[-1]["model_path"] == str(registry.active_model_path()) and heard[-1]["current_version"]
    registry.rollback()
    scorer.score(["tin tức"])
    assert heard[-1] is None
    # The scheduler's resources keep it where /health reads it.
    resources = WorkerResources(str(tmp_db.conn.execute("PRAGMA database_list").fetchone()[2]))
    resources._record_refusal({"model_path": "x", "error": "E", "current_version": "v"})
    assert scorer_problem(resources.database())["refused"]["error"] == "E"
    resources._record_refusal(None)
    assert scorer_problem(resources.database()) is None
    resources.close()


def test_the_banner_names_the_reason_in_the_users_language_and_details_for_admins(world):
    path, _ = world
    database = db.connect(path)
    client = helpers.make_app(path).test_client()
    helpers.login(client, "mod")
    assert 'id="health-banner"' not in client.get("/search").get_data(as_text=True)
    set_state(database, SCORER_REFUSED_KEY, json.dumps({"model_path": SECRET_PATH, "error": "ValueError: bad"}))
    _sql(path, "UPDATE sources SET enabled = 1, consecutive_failures = 1, last_error = 'refused'")
    page = client.get("/search").get_data(as_text=True)
    assert 'id="health-banner"' in page and "Dịch vụ suy giảm" in page
    assert "mọi nguồn đều lỗi ở lần chạy gần nhất" in page and "bộ chấm điểm từ chối mô hình" in page
    assert SECRET_PATH not in page
    admin = helpers.make_app(path).test_client()
    helpers.login(admin, "adm")
    assert "ValueError: bad" in admin.get("/search").get_data(as_text=True)
    delete_state(database, SCORER_REFUSED_KEY)
    _sql(path, "UPDATE sources SET consecutive_failures = 0")
    assert 'id="health-banner"' not in client.get("/search").get_data(as_text=True)
    database.conn.close()


def _scheduler_with(tmp_path, outcomes: dict[str, str]) -> tuple[Scheduler, list[FirstPass]]:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feeds_yaml([{"name": name, "kind": "rss", "url": f"http://127.0.0.1:9/{name}.xml",
                                  "interval": "1h"} for name in outcomes]), encoding="utf-8")
    heard: list[FirstPass] = []

    def crawl(_database, source, *_args, **_kwargs):
        status = outcomes[source.name]
        return SimpleNamespace(status=status, error=None if status == "ok" else f"{source.name} refused", new=0)

    scheduler = Scheduler(tmp_path / "m.db", feeds, crawl=crawl, scorer=object(), housekeeping=False,
                          first_run_spread=0.1, heartbeat_seconds=0.2, reconcile_seconds=0.2,
                          on_first_pass=heard.append)
    return scheduler, heard


def test_the_first_pass_is_reported_once_with_how_many_failed(tmp_path):
    for outcomes, failed in [({"a": "error", "b": "error"}, 2), ({"a": "error", "b": "ok"}, 1)]:
        (tmp_path / str(failed)).mkdir()
        scheduler, heard = _scheduler_with(tmp_path / str(failed), outcomes)
        scheduler.start()
        try:
            wait_for(lambda heard=heard: heard, timeout=20)
            scheduler.run_now("a")
            scheduler.wait_idle(5)
        finally:
            scheduler.stop()
        assert len(heard) == 1 and heard[0].total == 2 and heard[0].failed == failed
        assert heard[0].all_failed is (failed == 2) and "refused" in heard[0].first_error


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_monitor_run_warns_when_no_source_can_be_reached(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    port = _closed_port()
    feeds.write_text(feeds_yaml([{"name": name, "kind": "rss", "url": f"http://127.0.0.1:{port}/{name}.xml",
                                  "interval": "1h"} for name in ("a", "b", "c")]), encoding="utf-8")
    with ServiceProcess(db_path, feeds) as service:
        service.wait_address()
        wait_for(lambda: "cảnh báo" in service.read_log(), timeout=60)
        status, body = service.get_json("/health")
        lines = [line for line in service.read_log().splitlines() if "cảnh báo" in line]
    assert len(lines) == 1
    assert "monitor: cảnh báo: không kết nối được nguồn nào: 3 nguồn lỗi (" in lines[0]
    assert status == 200 and "every source failed its last run" in body["reasons"]
