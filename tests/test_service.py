"""`monitor run` as operators run it: a child process serving the web UI with the scheduler inside."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests import helpers
from tests.scheduler_fixtures import REPO, ServiceProcess, feeds_yaml, items_for, rss, wait_for
from tests.servers import TestServer


def _count(db_path, sql: str, args: tuple = ()) -> int:
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


def test_run_serves_health_stores_items_and_stops_on_sigterm(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    with TestServer() as server:
        server.route("/a.xml", rss("a", items_for("a", range(5))), content_type="application/rss+xml")
        server.route("/b.xml", rss("b", items_for("b", range(3))), content_type="application/rss+xml")
        feeds.write_text(feeds_yaml([
            {"name": "a", "kind": "rss", "url": server.url("/a.xml"), "interval": "5s"},
            {"name": "b", "kind": "rss", "url": server.url("/b.xml"), "interval": "5s"},
        ]), encoding="utf-8")
        service = ServiceProcess(db_path, feeds)
        try:
            service.wait_address()
            wait_for(lambda: _count(db_path, "SELECT COUNT(*) FROM items") == 8, timeout=30)
            status, body = wait_for(lambda: (lambda r: r if r[1].get("status") == "ok"
                                             else None)(service.get_json("/health")))
            assert status == 200 and body == {"status": "ok", "reasons": []}  # anonymous: the status only
            started = time.monotonic()
            service.signal(signal.SIGTERM)
            service.proc.wait(10)
            assert time.monotonic() - started < 10
            assert service.proc.returncode == 0, service.read_log()
        finally:
            service.stop()
    # Each published item stored exactly once.
    assert _count(db_path, "SELECT COUNT(*) FROM items") == 8
    assert _count(db_path, "SELECT COUNT(DISTINCT source_id || '/' || guid) FROM items") == 8


def test_second_run_on_same_database_refuses(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    feeds.write_text(feeds_yaml([{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a.xml",
                                  "interval": "1h"}]), encoding="utf-8")
    with ServiceProcess(db_path, feeds) as first:
        first.wait_address()
        second = subprocess.run(
            [sys.executable, "-c", "import sys; from monitor.service import run; "
             f"sys.exit(run({str(db_path)!r}, {str(feeds)!r}, '127.0.0.1', 0))"],
            cwd=REPO, capture_output=True, text=True, timeout=30)
        assert second.returncode == 3
        assert "already running" in second.stderr and "monitor.db" in second.stderr
        assert first.proc.poll() is None  # the first one is unaffected


def test_invalid_config_starts_nothing(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    feeds.write_text("sources:\n  - name: a\n    kind: rss\n    url: http://127.0.0.1/a\n    interval: soon\n",
                     encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from monitor.service import run; "
         f"sys.exit(run({str(db_path)!r}, {str(feeds)!r}, '127.0.0.1', 0))"],
        cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"{feeds}:5" in result.stderr and "interval" in result.stderr
    assert not db_path.exists()


def test_sighup_reloads_feeds_and_rejects_an_invalid_edit_keeping_the_running_config(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    with TestServer() as server:
        server.route("/a.xml", rss("a", items_for("a", range(2))), content_type="application/rss+xml")
        server.route("/c.xml", rss("c", items_for("c", range(3))), content_type="application/rss+xml")
        a = {"name": "a", "kind": "rss", "url": server.url("/a.xml"), "interval": "5s"}
        feeds.write_text(feeds_yaml([a]), encoding="utf-8")
        # The file watcher is slowed right down so that only SIGHUP can explain a reload.
        with ServiceProcess(db_path, feeds, scheduler_options={"reconcile_seconds": 3600}) as service:
            service.wait_address()
            wait_for(lambda: _count(db_path, "SELECT COUNT(*) FROM items") == 2)
            feeds.write_text(feeds_yaml([a, {"name": "c", "kind": "rss", "url": server.url("/c.xml"),
                                             "interval": "5s"}]), encoding="utf-8")
            service.signal(signal.SIGHUP)
            wait_for(lambda: _count(db_path, "SELECT COUNT(*) FROM items") == 5, timeout=20)

            feeds.write_text(feeds_yaml([a, {"name": "c", "kind": "gopher", "url": server.url("/c.xml")}]),
                             encoding="utf-8")
            service.signal(signal.SIGHUP)
            wait_for(lambda: "reload rejected" in service.read_log(), timeout=10)
            log = service.read_log()
            assert f"{feeds}:" in log and "'kind'" in log and "gopher" in log
            assert service.proc.poll() is None
            requests = len(server.requests_to("/c.xml"))
            wait_for(lambda: len(server.requests_to("/c.xml")) > requests, timeout=15)  # c still polled
            status, body = service.get_json("/health")
            assert status == 200


# --------------------------------------------------------------------------- issue 15: start-up and trust


def _feeds_file(tmp_path):
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feeds_yaml([{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a.xml", "interval": "1h"}]),
                     encoding="utf-8")
    return feeds


def test_serve_on_a_busy_port_is_one_line_and_exit_2(tmp_path):
    """Item 3: `monitor serve --port P` when P is taken ends with one line, not an OSError traceback."""
    import db

    db_path, feeds = tmp_path / "monitor.db", _feeds_file(tmp_path)
    db.connect(db_path).conn.close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "monitor.cli", "--db", str(db_path), "--feeds", str(feeds),
                                 "serve", "--port", str(port)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"monitor: port {port} on 127.0.0.1 is already in use"], result.stderr
    assert "serving" not in result.stdout


def _login_cookie(app, name: str, user_agent: str) -> str:
    client = app.test_client()
    response = client.post("/login", data={"name": name, "password": helpers.PASSWORD},
                           headers={"User-Agent": user_agent})
    assert response.status_code in (302, 303)
    return client.get_cookie("session").value


def test_the_session_key_lives_beside_the_database_and_the_old_key_in_it_is_retired(world, tmp_path, monkeypatch):
    """Item 7: read access to the database no longer yields a session: the key an older version kept in
    service_state signs nothing after the upgrade, and is deleted; the new key is in <db>.secret (0600)."""
    import db
    from db.state import get_state, set_state
    monkeypatch.delenv("MONITOR_SECRET_KEY", raising=False)
    (db_path, _), feeds = world, _feeds_file(tmp_path)
    old_key = "0123456789abcdef" * 4
    database = db.connect(db_path)
    set_state(database, "web_secret_key", old_key)  # what a previous version left in the database
    database.conn.close()
    forged = _login_cookie(helpers.make_app(db_path, SECRET_KEY=old_key), "adm", "probe")

    with ServiceProcess(db_path, feeds) as service:
        address = service.wait_address()
        with httpx.Client(base_url=address, headers={"User-Agent": "probe"}, timeout=10) as client:
            refused = client.get("/admin/users", headers={"Cookie": f"session={forged}"})
            assert refused.status_code == 302 and "/login" in refused.headers["location"]

            secret = Path(f"{db_path}.secret")
            assert secret.exists() and stat.S_IMODE(secret.stat().st_mode) == 0o600
            new_key = secret.read_text(encoding="utf-8").strip()
            assert len(new_key) >= 32 and new_key != old_key
            # The same forgery with the key from the file works: the refusal above was the key's doing.
            signed = _login_cookie(helpers.make_app(db_path, SECRET_KEY=new_key), "adm", "probe")
            assert client.get("/admin/users", headers={"Cookie": f"session={signed}"}).status_code == 200
    database = db.connect(db_path)
    try:
        assert get_state(database, "web_secret_key") is None
        assert _count(db_path, "SELECT COUNT(*) FROM service_state WHERE value LIKE ?", (f"%{new_key}%",)) == 0
    finally:
        database.conn.close()
    # A second start reads the same file: logins survive a restart.
    with ServiceProcess(db_path, feeds) as service:
        service.wait_address()
    assert secret.read_text(encoding="utf-8").strip() == new_key


def test_secret_key_file_is_refused_when_others_can_read_it(tmp_path, monkeypatch):
    from monitor import service

    monkeypatch.delenv("MONITOR_SECRET_KEY", raising=False)
    db_path = tmp_path / "monitor.db"
    key = service.secret_key(db_path)
    secret = Path(f"{db_path}.secret")
    assert service.secret_key(db_path) == key
    secret.chmod(0o644)
    with pytest.raises(service.ServiceError, match=r"monitor\.db\.secret.*chmod 600"):
        service.secret_key(db_path)
    monkeypatch.setenv("MONITOR_SECRET_KEY", "from-the-environment-" * 2)
    assert service.secret_key(db_path) == "from-the-environment-" * 2


# ----- item 6: behind a reverse proxy, through the real server (waitress), not the Flask test client


@contextlib.contextmanager
def _waitress(app, environ: dict):
    """The app under waitress on 127.0.0.1 (any free port) with the proxy options `monitor run` would use."""
    from monitor import service

    server = service.web_server(app, "127.0.0.1", 0, proxy=service.proxy_options(environ))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown(timeout=5)  # in-flight requests finish while the server is still up
        server.close()
        thread.join(5)


def _session_cookie(response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("session="):
            return header
    return None


def _try_login(base: str, password: str, headers: dict) -> httpx.Response:
    """GET the form, then POST it, carrying the session cookie by hand (httpx keeps Secure cookies off http)."""
    with httpx.Client(base_url=base, timeout=10) as client:
        form = client.get("/login", headers=headers)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        cookie = _session_cookie(form).split(";", 1)[0]
        scheme = "https" if headers.get("X-Forwarded-Proto") == "https" else "http"
        return client.post("/login", data={"name": "mod", "password": password, "csrf_token": token},
                           headers={**headers, "Cookie": cookie, "Referer": f"{scheme}://{base.split('//')[1]}/login"})


@pytest.fixture()
def proxied_app(world):
    path, _ = world
    return helpers.make_app(path, as_deployed=True, SECRET_KEY="k" * 32, RATELIMIT_LOGIN="2 per minute",
                            LOGIN_LOCKOUT="100 per minute")


def test_behind_proxy_waitress_passes_the_client_address_and_https_to_the_app(proxied_app):
    with _waitress(proxied_app, {"MONITOR_BEHIND_PROXY": "1"}) as base:
        https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1"}
        ok = _try_login(base, helpers.PASSWORD, https)
        assert ok.status_code == 302, ok.text[:300]
        assert "; Secure" in _session_cookie(ok)
        plain = _try_login(base, helpers.PASSWORD, {"X-Forwarded-Proto": "http"})
        assert "; Secure" not in _session_cookie(plain)

        # Failed logins are counted per real client: one client is slowed, another is not.
        # nginx appends the peer to what the client sent: the last hop is the one to believe.
        guesser = {"X-Forwarded-For": "10.0.0.1, 203.0.113.7"}
        assert [_try_login(base, "wrong password", guesser).status_code for _ in range(3)] == [401, 401, 429]
        other = {"X-Forwarded-For": "203.0.113.8"}
        assert _try_login(base, "wrong password", other).status_code == 401
        spoofed = {"X-Forwarded-For": "203.0.113.7, 203.0.113.9"}
        assert _try_login(base, "wrong password", spoofed).status_code == 401


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(proxied_app):
    """Only the configured proxy's address is believed (here the proxy is elsewhere, so 127.0.0.1 is not)."""
    environ = {"MONITOR_BEHIND_PROXY": "1", "MONITOR_TRUSTED_PROXY": "192.0.2.10"}
    with _waitress(proxied_app, environ) as base:
        response = _try_login(base, helpers.PASSWORD, {"X-Forwarded-Proto": "https"})
        assert response.status_code == 302 and "; Secure" not in _session_cookie(response)
        codes = [_try_login(base, "wrong password", {"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                 for n in range(3)]
        assert codes == [401, 401, 429]  # all one client: 127.0.0.1


def test_proxy_options(monkeypatch):
    from monitor.service import ServiceError, proxy_options

    assert proxy_options({}) == {}
    options = proxy_options({"MONITOR_BEHIND_PROXY": "1"})
    assert options["trusted_proxy"] == "127.0.0.1" and options["trusted_proxy_count"] == 1
    assert set(options["trusted_proxy_headers"]) == {"x-forwarded-for", "x-forwarded-proto"}
    assert proxy_options({"MONITOR_BEHIND_PROXY": "1", "MONITOR_TRUSTED_PROXY": " ::1 "})["trusted_proxy"] == "::1"
    with pytest.raises(ServiceError, match="MONITOR_TRUSTED_PROXY.*10.0.0.0/8"):
        proxy_options({"MONITOR_BEHIND_PROXY": "1", "MONITOR_TRUSTED_PROXY": "10.0.0.0/8"})


# ----- hostile review item 7: ports and hosts are checked, each refusal is one line


def _usage_error(capsys, argv: list[str]) -> str:
    from monitor.cli import build_parser

    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(argv)
    assert stopped.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("command", ["serve", "run", "demo"])
@pytest.mark.parametrize("value", ["99999", "65536", "-1", "80x"])
def test_a_port_out_of_range_is_a_usage_error(capsys, command, value):
    """`serve --port 99999` listened on 34463 (99999 - 65536): the socket layer wraps it."""
    line = _usage_error(capsys, [command, "--port", value])
    assert "--port" in line and "65535" in line


def test_the_feed_port_of_the_demo_is_checked_too(capsys):
    assert "--feed-port" in _usage_error(capsys, ["demo", "--feed-port", "70000"])


@pytest.mark.parametrize("value", ["256.1.1.1", "", "  ", "1.2.3", "::1::2"])
def test_a_host_that_is_no_address_is_a_usage_error(capsys, value):
    line = _usage_error(capsys, ["serve", "--host", value])
    assert "--host" in line


def test_ports_and_hosts_that_are_fine_pass():
    from monitor.cli import build_parser

    for port in ("0", "1", "8080", "65535"):
        assert build_parser().parse_args(["serve", "--port", port]).port == int(port)
    for host in ("127.0.0.1", "0.0.0.0", "::", "::1", "localhost", "monitor.internal"):
        assert build_parser().parse_args(["run", "--host", host]).host == host


def test_a_host_name_that_does_not_resolve_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    import db
    from monitor.cli import main

    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    db_path, feeds = tmp_path / "monitor.db", _feeds_file(tmp_path)
    db.connect(db_path).conn.close()
    monkeypatch.setenv("MONITOR_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)  # no name service is asked
    assert main(["--db", str(db_path), "--feeds", str(feeds), "serve", "--host", "monitor-test.invalid",
                 "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'monitor-test.invalid'" in err and "Name or service not known" in err


def test_a_bad_web_threads_setting_is_a_service_error(monkeypatch):
    from monitor import service

    for value in ("six", "0", "-2"):
        monkeypatch.setenv("MONITOR_WEB_THREADS", value)
        with pytest.raises(service.ServiceError, match=f"MONITOR_WEB_THREADS: '{value}'"):
            service.web_server(object(), "127.0.0.1", 0, proxy={})


# ----- hostile review item 11: MONITOR_SECRET_KEY is checked like the audit key


@pytest.mark.parametrize(("value", "expected"), [
    ("short", "at least 32 characters"), ("x" * 31, "at least 32 characters"),
    ("\udcff" * 40, "not UTF-8"),  # bytes 0xff in the environment: every request answered 500
], ids=["short", "31-chars", "not-utf8"])
def test_an_unusable_secret_key_in_the_environment_stops_start_up_in_one_line(tmp_path, monkeypatch, capsys, value,
                                                                                expected):
    import db
    from monitor import service
    from monitor.cli import main

    monkeypatch.setenv("MONITOR_SECRET_KEY", value)
    with pytest.raises(service.ServiceError, match=expected):
        service.secret_key(tmp_path / "monitor.db")
    db_path, feeds = tmp_path / "monitor.db", _feeds_file(tmp_path)
    db.connect(db_path).conn.close()
    monkeypatch.setenv("MONITOR_HOME", str(tmp_path / "home"))
    assert main(["--db", str(db_path), "--feeds", str(feeds), "serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MONITOR_SECRET_KEY" in err and expected in err
    assert "serving" not in capsys.readouterr().out


def test_a_secret_key_of_32_characters_is_used(monkeypatch, tmp_path):
    from monitor import service

    monkeypatch.setenv("MONITOR_SECRET_KEY", "k" * 32)
    assert service.secret_key(tmp_path / "monitor.db") == "k" * 32
