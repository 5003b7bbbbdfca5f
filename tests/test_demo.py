"""`monitor demo` (issue 15 item 5): the address guard stays on except for the demo's own feed server (that
address and port), it says where its database is and who can log in, and a busy port stops it before it
crawls anything."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import db
from monitor.config import load
from monitor.crawl.fetch import AddressPolicy, Fetcher, FetchError
from monitor.demo import DEMO_PASSWORD, DEMO_USERS, prepare_demo, serve_demo_feeds
from tests import helpers
from tests.servers import TestServer

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def clean_env(monkeypatch, tmp_path):
    for name in ("MONITOR_ALLOW_PRIVATE_NETWORKS", "MONITOR_DB", "MONITOR_FEEDS", "MONITOR_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONITOR_HOME", str(tmp_path / "home"))
    return monkeypatch


@pytest.fixture()
def demo(tmp_path, clean_env):
    server, base_url = serve_demo_feeds()
    try:
        db_path, feeds_path = prepare_demo(tmp_path / "demo", base_url)
        yield server, base_url, db_path, feeds_path
    finally:
        server.shutdown()
        server.server_close()


def test_demo_settings_allow_only_the_demo_feed_server(demo):
    server, base_url, _db_path, feeds_path = demo
    settings = load(feeds_path).settings
    assert settings.allow_private_networks is False
    with Fetcher(settings) as fetcher:
        assert fetcher.check_url(f"{base_url}/tin-dia-phuong.rss") == ("127.0.0.1", server.server_address[1])
        with pytest.raises(FetchError, match="10.0.0.5"):
            fetcher.check_url("http://10.0.0.5/secret")
        other_port = server.server_address[1] + 1 if server.server_address[1] < 65535 else 1024
        with pytest.raises(FetchError, match="127.0.0.1"):
            fetcher.check_url(f"http://127.0.0.1:{other_port}/secret")
        with pytest.raises(FetchError):
            fetcher.check_url(f"http://127.0.0.2:{server.server_address[1]}/")


def test_report_form_in_the_demo_fetches_the_feed_server_but_not_another_local_address(demo):
    """The report-a-link form of a demo app (its feeds file as FEEDS) refuses a private address."""
    _server, base_url, db_path, feeds_path = demo
    app = helpers.make_app(db_path, FEEDS=str(feeds_path), SECRET_KEY="k" * 32, SCORER=None)
    client = app.test_client()
    assert client.post("/login", data={"name": "demo-analyst", "password": DEMO_PASSWORD}).status_code == 302
    with TestServer() as secret:
        secret.route("/secret", b"internal only: do not fetch", content_type="text/html")
        client.post("/report", data={"url": secret.url("/secret"), "text": "xem thử trang này"})
        assert secret.requests_to("/secret") == []
    page = client.post("/report", data={"url": f"{base_url}/tin-dia-phuong.rss"}, follow_redirects=True)
    assert page.status_code == 200
    database = db.connect(db_path)
    try:
        urls = [row[0] for row in database.conn.execute("SELECT url FROM items")]
    finally:
        database.conn.close()
    assert f"{base_url}/tin-dia-phuong.rss" in urls


@pytest.mark.parametrize("entry, allowed, refused", [
    ("127.0.0.1:8765", [("127.0.0.1", 8765), ("::ffff:127.0.0.1", 8765)], [("127.0.0.1", 8766), ("127.0.0.2", 8765)]),
    ("[::1]:8080", [("::1", 8080)], [("::1", 8081), ("127.0.0.1", 8080)]),
    ("10.20.0.0/16", [("10.20.3.4", 1), ("10.20.3.4", 443)], [("10.21.0.1", 443)]),
])
def test_allowlist_entries_with_a_port_allow_that_endpoint_only(entry, allowed, refused):
    policy = AddressPolicy(False, [entry])
    for address, port in allowed:
        assert policy.refusal_at(address, port) is None, (address, port)
    for address, port in refused:
        assert policy.refusal_at(address, port), (address, port)


@pytest.mark.parametrize("entry", ["127.0.0.1:0", "127.0.0.1:99999", "localhost:80", "[::1]", "::1:80:x", "10.0.0.0/33"])
def test_a_bad_allowlist_entry_is_named(entry):
    with pytest.raises(ValueError, match="private_allowlist"):
        AddressPolicy(False, [entry])


def _run_demo_in_process(port: int, capsys, monkeypatch) -> tuple[int, str, str]:
    import monitor.service

    monkeypatch.setattr(monitor.service, "run", lambda *args, **kwargs: 0)  # everything but serving
    from monitor.demo import run_demo

    code = run_demo(argparse.Namespace(host="127.0.0.1", port=port, feed_port=0))
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_prints_its_database_and_users_and_leaves_the_guard_on(clean_env, tmp_path, capsys):
    code, out, _err = _run_demo_in_process(8080, capsys, clean_env)
    assert code == 0
    db_path = tmp_path / "home" / "demo" / "demo.db"
    assert str(db_path) in out
    for name, role in DEMO_USERS:
        assert name in out and role in out
    assert DEMO_PASSWORD in out
    assert "MONITOR_ALLOW_PRIVATE_NETWORKS" not in os.environ
    assert db_path.exists()


def test_demo_refuses_a_busy_port_before_crawling(clean_env, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "monitor.cli", "demo", "--port", str(port)], cwd=REPO,
                                env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"monitor: port {port} on 127.0.0.1 is already in use"]
    assert not (tmp_path / "home" / "demo" / "demo.db").exists()  # nothing crawled, nothing created
