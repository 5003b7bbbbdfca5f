"""Issue 14 §3, stateless web: several web processes behind one PostgreSQL database share the secret key,
the sessions (and their revocation), the CSRF tokens, the login rate limits and the addresses users
log in from; /health reports the scheduler and worker processes.

"Two processes" are two apps built by create_app on the same database and key. The login limiter is one
module-level object whose storage every create_app replaces with a fresh one, as a new process would
have: a count that survives building app B was kept outside the process (the contrast test on SQLite's
memory:// shows the same sequence forgetting it).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import db
import db.ratelimits
import db.users
from db import keys
from tests import helpers

KEY = "k" * 40
PASSWORD = helpers.PASSWORD
OFFICE, STRANGER, ELSEWHERE = "203.0.113.7", "198.51.100.9", "192.0.2.44"
LOGGED_IN_PAGE = "/docs/api"  # a page with the logout form (its CSRF token) and no query of its own


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path) -> str:
    """A database on each backend: a SQLite file, then a fresh PostgreSQL database (migrated by connect)."""
    if request.param == "sqlite":
        return str(tmp_path / "monitor.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture()
def shared(pg_url) -> str:
    """A migrated PostgreSQL database with a moderator and an admin."""
    database = db.connect(pg_url)
    db.users.add_user(database, "mod", PASSWORD, "moderator")
    db.users.add_user(database, "adm", PASSWORD, "admin")
    database.conn.close()
    return pg_url


def _app(url: str, **config):
    return helpers.make_app(url, as_deployed=True, SECRET_KEY=KEY, EVIDENCE_ON_DECIDE=False, **config)


def _token(client, path: str = "/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _login(client, name: str, password: str = PASSWORD, *, address: str | None = None) -> int:
    if address:
        client.environ_base["REMOTE_ADDR"] = address
    data = {"name": name, "password": password, "csrf_token": _token(client)}
    return client.post("/login", data=data).status_code


# ----- the counters behind the limiter


def test_counters_add_up_expire_and_clear_on_both_backends(target):
    database = db.connect(target)
    try:
        assert db.ratelimits.get(database, "a", now=1000) == 0
        assert [db.ratelimits.incr(database, "a", 60, now=1000 + i) for i in range(3)] == [1, 2, 3]
        assert db.ratelimits.incr(database, "a", 60, amount=2, now=1010) == 5
        assert db.ratelimits.get(database, "a", now=1059) == 5
        assert db.ratelimits.expires_at(database, "a", now=1059) == 1060  # the window started at the first hit
        assert db.ratelimits.get(database, "a", now=1060) == 0  # the window is over
        assert db.ratelimits.incr(database, "a", 60, now=1061) == 1  # a new window from here
        assert db.ratelimits.expires_at(database, "a", now=1061) == 1121
        db.ratelimits.incr(database, "b", 10, now=1061)
        db.ratelimits.incr(database, "c", 10, now=1100)  # drops "b", whose window is over, on the way
        assert [tuple(row) for row in database.conn.execute("SELECT key FROM rate_limits ORDER BY key")] == \
            [("a",), ("c",)]
        db.ratelimits.clear(database, "a")
        assert db.ratelimits.get(database, "a", now=1100) == 0
        assert db.ratelimits.reset(database) == 1
    finally:
        database.conn.close()


def test_the_monitordb_storage_speaks_the_limits_interface(target):
    from limits import parse
    from limits.storage import storage_from_string
    from limits.strategies import FixedWindowRateLimiter

    import web.ratelimit_storage  # noqa: F401 - registers monitordb://
    db.connect(target).conn.close()
    storage = storage_from_string("monitordb://", database=target)
    assert storage.check()
    limiter = FixedWindowRateLimiter(storage)
    three = parse("3 per minute")
    assert [limiter.hit(three, "login", "mod") for _ in range(4)] == [True, True, True, False]
    assert not limiter.test(three, "login", "mod")
    assert limiter.test(three, "login", "ana")
    stats = limiter.get_window_stats(three, "login", "mod")
    assert stats.remaining == 0 and 0 < stats.reset_time - time.time() <= 60
    # Another storage object on the same database (another process) sees the same count.
    assert not FixedWindowRateLimiter(storage_from_string("monitordb://", database=target)).test(three, "login", "mod")
    with pytest.raises(ValueError, match="needs the database"):
        storage_from_string("monitordb://")


# ----- secret keys: never in the database, the same for every process on PostgreSQL


def test_postgresql_needs_the_session_key_from_the_environment(tmp_path, monkeypatch):
    from monitor import service

    url = "postgresql://monitor@db.example/monitor"
    for name in ("MONITOR_SECRET_KEY", "MONITOR_SECRET_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(service.ServiceError, match=r"^on PostgreSQL the web session key must be set in "
                                                   r"MONITOR_SECRET_KEY or in a file named by MONITOR_SECRET_KEY_FILE"):
        service.secret_key(url)
    key_file = tmp_path / "secret"
    monkeypatch.setenv("MONITOR_SECRET_KEY_FILE", str(key_file))
    with pytest.raises(service.ServiceError, match=r"session key file .*/secret named by MONITOR_SECRET_KEY_FILE "
                                                   "does not exist"):
        service.secret_key(url)
    key_file.write_text("f" * 40 + "\n", encoding="utf-8")
    key_file.chmod(0o644)
    with pytest.raises(service.ServiceError, match="chmod 600"):
        service.secret_key(url)
    key_file.chmod(0o600)
    assert service.secret_key(url) == "f" * 40
    # On SQLite the named file wins over the one beside the database, which is then not made.
    assert service.secret_key(tmp_path / "monitor.db") == "f" * 40
    assert not (tmp_path / "monitor.db.secret").exists()
    monkeypatch.setenv("MONITOR_SECRET_KEY", "e" * 40)
    assert service.secret_key(url) == "e" * 40


def test_postgresql_needs_the_audit_key_from_the_environment(pg_url, tmp_path, monkeypatch):
    """A key made up per process would split the decision log between web processes: refused."""
    for name in ("MONITOR_AUDIT_KEY", "MONITOR_AUDIT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    database = db.connect(pg_url)
    try:
        with pytest.raises(keys.KeyFileError, match="on PostgreSQL the audit key cannot live beside the database: set MONITOR_AUDIT_KEY"):
            keys.audit_key(database, create=True)
        key_file = tmp_path / "audit-key"
        key_file.write_text("a" * 64, encoding="utf-8")
        key_file.chmod(0o600)
        monkeypatch.setenv("MONITOR_AUDIT_KEY_FILE", str(key_file))
        assert keys.audit_key(database) == b"a" * 64
        assert keys.audit_key_source(database) == str(key_file)
    finally:
        database.conn.close()


def test_monitor_serve_on_postgresql_without_keys_stops_with_one_line(tmp_path, monkeypatch, capsys):
    from monitor import service

    for name in ("MONITOR_SECRET_KEY", "MONITOR_SECRET_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    feeds = Path(__file__).resolve().parent.parent / "feeds.yaml"
    code = service.run("postgresql://monitor@db.invalid/monitor", feeds, "127.0.0.1", 0, start_scheduler=False)
    error = capsys.readouterr().err
    assert code == service.EXIT_CONFIG
    assert error.count("\n") == 1 and "MONITOR_SECRET_KEY_FILE" in error, error


def test_monitor_serve_on_postgresql_without_the_audit_key_stops(shared, monkeypatch):
    from monitor import service

    for name in ("MONITOR_AUDIT_KEY", "MONITOR_AUDIT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    database = db.connect(shared)
    try:
        with pytest.raises(service.ServiceError, match="MONITOR_AUDIT_KEY_FILE"):
            service.check_shared_keys(database)
    finally:
        database.conn.close()


def test_an_app_on_postgresql_without_a_secret_key_is_refused(shared):
    with pytest.raises(ValueError, match="SECRET_KEY, the same in every web process"):
        helpers.make_app(shared, SECRET_KEY="")


# ----- sessions, CSRF and their revocation across processes


def test_a_session_opened_on_one_process_works_and_ends_on_another(shared):
    first, second = _app(shared), _app(shared)
    browser = first.test_client()
    assert _login(browser, "adm") == 302
    token = _token(browser, LOGGED_IN_PAGE)  # the logout button's (its secret goes into the session)
    cookie = browser.get_cookie("session").value
    other = second.test_client()
    other.set_cookie("session", cookie)
    health = other.get("/health").get_json()
    assert "processes" in health, "the admin's session was not recognised by the second app"
    # The second process checks the first one's CSRF token: without it a POST is refused, with it accepted.
    assert other.post("/logout", data={}).status_code == 400
    assert other.post("/logout", data={"csrf_token": token}).status_code == 302
    # Logging out there ended the session here too: its generation moved on in the shared database.
    assert set(browser.get("/health").get_json()) == {"status", "reasons"}
    assert browser.get(LOGGED_IN_PAGE).status_code == 302  # to the login page


# ----- login rate limits and known addresses across processes


def test_failed_logins_are_counted_across_processes(shared):
    config = {"LOGIN_LOCKOUT": "3 per 10 minutes", "RATELIMIT_LOGIN": "50 per minute"}
    first = _app(shared, **config)
    assert [_login(first.test_client(), "mod", "wrong", address=STRANGER) for _ in range(2)] == [401, 401]
    second = _app(shared, **config)  # a fresh limiter storage, as in another process
    assert _login(second.test_client(), "mod", "wrong", address=STRANGER) == 401
    assert _login(first.test_client(), "mod", address=ELSEWHERE) == 429  # the third failure was on the other
    assert _login(second.test_client(), "adm", address=ELSEWHERE) == 302  # only that account waits


def test_memory_storage_forgets_counts_in_a_new_process(world):
    """The contrast (SQLite's default, one process per file): a new limiter storage starts from zero."""
    path, _ = world
    config = {"LOGIN_LOCKOUT": "3 per 10 minutes", "RATELIMIT_LOGIN": "50 per minute"}
    first = helpers.make_app(path, **{**helpers.TEST_CONFIG, "RATELIMIT_ENABLED": True, **config})
    assert [helpers.login(first.test_client(), "mod", "wrong").status_code for _ in range(2)] == [401, 401]
    second = helpers.make_app(path, **{**helpers.TEST_CONFIG, "RATELIMIT_ENABLED": True, **config})
    assert helpers.login(second.test_client(), "mod", "wrong").status_code == 401
    assert helpers.login(first.test_client(), "mod").status_code == 302


def test_an_address_a_user_logged_in_from_is_known_to_every_process(shared):
    config = {"LOGIN_LOCKOUT": "3 per 10 minutes", "RATELIMIT_LOGIN": "50 per minute"}
    first = _app(shared, **config)
    assert _login(first.test_client(), "adm", address=OFFICE) == 302
    second = _app(shared, **config)
    assert [_login(second.test_client(), "adm", "wrong", address=STRANGER) for _ in range(4)] == [401, 401, 401, 429]
    assert _login(first.test_client(), "adm", address=ELSEWHERE) == 429
    assert _login(second.test_client(), "adm", address=OFFICE) == 302  # learnt by the first process


# ----- /health: the scheduler and the workers


def _beat(url: str, worker_id: str, kind: str, state: str, *, seconds_ago: float = 0) -> None:
    from datetime import UTC, datetime, timedelta

    from db import workers

    database = db.connect(url)
    try:
        workers.beat(database, worker_id, kind, state, db.utcnow())
        if seconds_ago:
            then = db.to_iso(datetime.now(UTC) - timedelta(seconds=seconds_ago))
            database.conn.execute("UPDATE workers SET last_beat = ? WHERE id = ?", (then, worker_id))
    finally:
        database.conn.close()


def _admin_health(app) -> tuple[int, dict]:
    client = app.test_client()
    assert _login(client, "adm") == 302
    answer = client.get("/health")
    return answer.status_code, answer.get_json()


def test_health_reports_the_scheduler_and_the_workers(shared):
    app = _app(shared)
    code, body = _admin_health(app)
    assert code == 200 and body["status"] == "ok", body  # nothing ever beat: nothing is expected
    assert body["processes"]["workers"] == {"count": 0, "last_beat": None, "expected": False, "processes": []}
    _beat(shared, "host-a:1", "scheduler", "leader")
    _beat(shared, "host-b:2", "scheduler", "standby")
    _beat(shared, "host-a:3", "worker", "running")
    _beat(shared, "host-b:4", "worker", "running", seconds_ago=5)
    _beat(shared, "host-c:5", "worker", "running", seconds_ago=3600)  # killed long ago
    code, body = _admin_health(app)
    processes = body["processes"]
    assert processes["schedulers"]["count"] == 2 and processes["schedulers"]["leader"] == "host-a:1"
    assert processes["workers"]["count"] == 2
    assert [(row["id"], row["alive"]) for row in processes["workers"]["processes"]] == \
        [("host-a:3", True), ("host-b:4", True), ("host-c:5", False)]
    assert processes["workers"]["last_beat"] == max(row["last_beat"] for row in processes["workers"]["processes"])
    assert "no worker running" not in body["reasons"] and "scheduler not running" not in body["reasons"]


def test_health_says_when_no_worker_or_no_scheduler_beats(shared):
    app = _app(shared)
    _beat(shared, "host-a:1", "scheduler", "standby", seconds_ago=0)  # a standby alone crawls nothing
    _beat(shared, "host-a:3", "worker", "running", seconds_ago=600)
    anonymous = app.test_client().get("/health")
    assert anonymous.status_code == 503
    assert anonymous.get_json() == {"status": "error", "reasons": ["scheduler not running", "no worker running"]}
    _beat(shared, "host-a:1", "scheduler", "leader")
    _beat(shared, "host-b:4", "worker", "running")
    answer = app.test_client().get("/health")
    assert answer.status_code == 200, answer.get_json()
