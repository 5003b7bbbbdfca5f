"""The CLI on a hostile or unready machine (issue 15 items 3 and 4): environment errors end with one line
on stderr and exit code 2.

Everything runs in-process against files in the test's temporary directory; nothing listens or fetches.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

import db
from monitor.cli import main
from monitor.scheduler import SchedulerLock


@pytest.fixture()
def env(monkeypatch, tmp_path):
    for name in ("MONITOR_DB", "MONITOR_FEEDS", "MONITOR_ADMIN_PASSWORD", "MONITOR_PASSWORD", "MONITOR_LOG_LEVEL",
                 "MONITOR_LOG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONITOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MONITOR_MODEL_DIR", str(tmp_path / "models"))
    return monkeypatch


@pytest.fixture()
def ready_db(db_path):
    """A created, migrated database (what `monitor init` leaves)."""
    db.connect(db_path).conn.close()
    return db_path


@pytest.fixture()
def feeds(tmp_path) -> Path:
    """One source on a closed local port: never reached in these tests."""
    path = tmp_path / "feeds.yaml"
    path.write_text("settings:\n  host_delay: 0\nsources:\n  - name: Báo thử\n    kind: rss\n"
                    "    url: http://127.0.0.1:9/a.xml\n    interval: 1h\n", encoding="utf-8")
    return path


def one_error_line(err: str) -> str:
    """The whole of stderr must be one line, and not a traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --------------------------------------------------------------------------- item 3: one line, exit 2


def test_unknown_log_level_is_one_line_naming_the_option(env, ready_db, capsys):
    assert main(["--db", str(ready_db), "--log-level", "LOUD", "status"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--log-level" in line and "LOUD" in line and "WARNING" in line


def test_unknown_log_level_from_the_environment_names_the_variable(env, ready_db, capsys):
    env.setenv("MONITOR_LOG_LEVEL", "loud")
    assert main(["--db", str(ready_db), "status"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "MONITOR_LOG_LEVEL" in line and "loud" in line


def test_log_level_is_case_insensitive(env, ready_db, capsys):
    assert main(["--db", str(ready_db), "--log-level", "info", "status"]) == 0


def test_crawl_while_another_process_holds_the_write_lock(env, ready_db, feeds, monkeypatch, capsys):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 300)  # the default waits 30 s
    monkeypatch.setattr("monitor.scoring.load_scorer", lambda *a, **k: None)
    holder = sqlite3.connect(ready_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code = main(["--db", str(ready_db), "--feeds", str(feeds), "crawl"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(ready_db) in line and "locked by another process" in line
    database = db.connect(ready_db)
    try:
        assert database.conn.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 0
    finally:
        database.conn.close()


def test_run_on_a_full_disk_names_the_file_it_could_not_write(env, ready_db, feeds, monkeypatch, capsys):
    real_write = os.write

    def full_disk_for_the_lock(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".lock"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk_for_the_lock)
    code = main(["--db", str(ready_db), "--feeds", str(feeds), "run", "--port", "0"])
    monkeypatch.setattr(os, "write", real_write)
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == f"error: cannot write {ready_db}.lock: No space left on device"
    SchedulerLock(ready_db).acquire().release()  # the failed attempt left no lock behind


def test_a_genuine_bug_keeps_its_traceback(env, ready_db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not the environment")

    monkeypatch.setattr("monitor.status.status_report", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["--db", str(ready_db), "status"])
