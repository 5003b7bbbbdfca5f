"""The throw-away PostgreSQL the suite runs against (tests/pg.py, the pg_* fixtures in tests/conftest.py):
it starts, hands out fresh databases and independent template copies, reaches other processes through one
URL, runs each test taking `database_url` once per backend, and leaves nothing behind — at the session's end,
on Ctrl-C, and (the folder at the next start) when the test process is killed outright."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from tests import pg

REPO = Path(__file__).resolve().parents[1]


def _gone(pid: int, timeout: float = 15.0) -> bool:
    """Whether process `pid` has exited (or is a zombie waiting for its parent) within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _wait_for(path: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} not written within {timeout:.0f} s")


def _pytest(test_file: Path, **kwargs) -> subprocess.Popen:
    """A separate pytest session on `test_file` with this suite's conftest, as a child process."""
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.conftest",
                             "-q", "-s", str(test_file)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def test_server_listens_on_its_socket_only_with_the_fast_settings(pg_server: pg.Server, pg_url: str) -> None:
    assert (pg_server.base / f".s.PGSQL.{pg.PORT}").is_socket()
    with psycopg.connect(pg_url) as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'fsync', "
            "'synchronous_commit', 'full_page_writes', 'lc_collate', 'server_encoding')").fetchall())
    assert settings == {"listen_addresses": "", "fsync": "off", "synchronous_commit": "off",
                        "full_page_writes": "off", "lc_collate": "C.UTF-8", "server_encoding": "UTF8"}
    if os.geteuid() == 0:  # PostgreSQL refuses root: the server runs as an unprivileged account
        assert pg_server.base.stat().st_uid != 0


def test_each_test_gets_a_fresh_empty_database_dropped_afterwards(pg_server: pg.Server) -> None:
    url = pg_server.create_database()
    name = url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        conn.execute("CREATE TABLE t (x int)")
    with psycopg.connect(url):  # a connection left open does not stop the drop
        pg_server.drop_database(url)
    exists = pg_server.admin().execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert exists == (0,)
    assert pg_server.create_database() != url, "names are not reused within a session"


def _build_counter(calls: list[str]):
    def build(url: str) -> dict:
        calls.append(url)
        conn = psycopg.connect(url, autocommit=True)  # left open on purpose: the template is sealed anyway
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO notes (body) VALUES ('tin giả'), ('đã kiểm chứng')")
        return {"notes": [1, 2]}
    return build


def test_template_built_once_and_copies_are_independent(pg_template, pg_server: pg.Server) -> None:
    calls: list[str] = []
    build = _build_counter(calls)
    first_url, first_ids = pg_template("harness_notes", build)
    second_url, second_ids = pg_template("harness_notes", build)
    assert len(calls) == 1 and first_url != second_url
    first_ids["notes"].append(99)
    assert second_ids == {"notes": [1, 2]}, "each copy gets its own deep copy of what the builder returned"
    with psycopg.connect(first_url) as conn:
        conn.execute("INSERT INTO notes (body) VALUES ('chỉ ở bản thứ nhất')")
        conn.execute("DELETE FROM notes WHERE id = 1")
    with psycopg.connect(second_url) as conn:
        assert conn.execute("SELECT body FROM notes ORDER BY id").fetchall() == [("tin giả",), ("đã kiểm chứng",)]
    with pytest.raises(psycopg.OperationalError, match="not currently accepting connections"):
        psycopg.connect(calls[0])  # the template itself is closed, so no test writes into every later copy


def test_a_failed_build_leaves_no_template_behind(pg_template, pg_server: pg.Server) -> None:
    def broken(url: str) -> None:
        raise ValueError("builder failed")

    with pytest.raises(ValueError, match="builder failed"):
        pg_template("harness_broken", broken)
    names = pg_server.admin().execute("SELECT count(*) FROM pg_database WHERE datname = 'template_harness_broken'")
    assert names.fetchone() == (0,)


def test_two_processes_share_one_url(pg_url: str) -> None:
    child = textwrap.dedent("""
        import os, sys, psycopg
        with psycopg.connect(sys.argv[1]) as conn:
            conn.execute("INSERT INTO seen (pid) VALUES (%s)", (os.getpid(),))
    """)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE seen (pid int NOT NULL)")
        children = [subprocess.Popen([sys.executable, "-c", child, pg_url], cwd=REPO) for _ in range(2)]
        assert [proc.wait(60) for proc in children] == [0, 0]
        seen = {pid for (pid,) in conn.execute("SELECT pid FROM seen")}
    assert seen == {proc.pid for proc in children}


def test_database_url_runs_a_test_once_per_backend(backend: str, database_url: str) -> None:
    if backend == "sqlite":
        assert Path(database_url).parent.is_dir() and not Path(database_url).exists()
        with sqlite3.connect(database_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    else:
        assert database_url.startswith("postgresql://")
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0].startswith("t_")


def test_stop_ends_the_server_and_removes_its_folder() -> None:
    server = pg.start()
    assert server.started_in < pg.START_TIMEOUT and server.base.is_dir()
    pid = server.process.pid
    server.stop()
    assert not server.base.exists() and _gone(pid)
    server.stop()  # a second stop (the atexit hook after the fixture's) does nothing


def test_session_end_and_ctrl_c_leave_nothing_behind(tmp_path: Path) -> None:
    """A pytest session using pg_server that ends normally, and one interrupted (SIGINT) mid-test."""
    (tmp_path / "test_tiny.py").write_text(textwrap.dedent("""
        import os, sys, time
        from pathlib import Path

        def test_uses_the_server(pg_server, pg_url):
            Path(os.environ["REPORT"]).write_text(f"{pg_server.base} {pg_server.process.pid}\\n")
            if os.environ.get("HANG"):
                time.sleep(120)
    """))
    for hang in ("", "1"):
        report = tmp_path / f"report{hang}"
        session = _pytest(tmp_path / "test_tiny.py", env={**os.environ, "REPORT": str(report), "HANG": hang})
        base, pid = _wait_for(report).split()
        assert Path(base).is_dir()
        if hang:
            session.send_signal(signal.SIGINT)
        output = session.communicate(timeout=60)[0]
        assert ("KeyboardInterrupt" in output) if hang else (session.returncode == 0), output
        assert not Path(base).exists(), output
        assert _gone(int(pid)), output


def test_a_killed_test_process_stops_its_server_and_the_next_start_sweeps_the_folder() -> None:
    code = "import time; from tests import pg; s = pg.start(); print(s.base, flush=True); time.sleep(120)"
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    base = Path(child.stdout.readline().strip())
    assert (base / "data" / "postmaster.pid").exists()
    child.kill()
    child.wait(30)
    child.stdout.close()
    deadline = time.monotonic() + 30
    while (base / "data" / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (base / "data" / "postmaster.pid").exists(), "the server outlived the process that started it"
    assert base.exists()
    assert base in pg.sweep_stale(base.parent)
    assert not base.exists()


def test_binaries_found_on_path_first_then_debians_highest_version(tmp_path: Path, monkeypatch) -> None:
    def fake(folder: Path) -> Path:
        folder.mkdir(parents=True)
        for name in ("initdb", "postgres"):
            (folder / name).write_text("#!/bin/sh\n")
            (folder / name).chmod(0o755)
        return folder

    debian = tmp_path / "usr-lib-postgresql"
    fake(debian / "9.6" / "bin")
    newest = fake(debian / "15" / "bin")
    (debian / "16" / "bin").mkdir(parents=True)  # a client-only version: no server binaries
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert pg.find_bin_dir(debian) == newest
    on_path = fake(tmp_path / "on-path")
    monkeypatch.setenv("PATH", str(on_path))
    assert pg.find_bin_dir(debian) == on_path
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert pg.find_bin_dir(tmp_path / "nothing") is None


def test_without_binaries_the_postgresql_cases_fail_with_one_line(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "test_tiny.py").write_text(textwrap.dedent("""
        import pytest
        from tests import pg
        pg.find_bin_dir = lambda: None
        pytestmark = pytest.mark.usefixtures("backend")  # a module opting in: each test runs on both

        def test_on_both(database_url):
            pass
    """))
    session = _pytest(tmp_path / "test_tiny.py", env={**os.environ, "CI": ""})
    output = session.communicate(timeout=120)[0]
    assert session.returncode == 1 and "1 passed, 1 error" in output and "skipped" not in output, output
    assert "PostgreSQL server binaries not found (no initdb on PATH or in /usr/lib/postgresql/*/bin): run " \
           "scripts/test.sh, which installs Debian's postgresql" in output, output
    monkeypatch.setenv("CI", "true")  # in CI the test command should have installed it: the message says so
    assert "CI=true: scripts/test.sh should have installed Debian's postgresql" in pg.unavailable_message()
