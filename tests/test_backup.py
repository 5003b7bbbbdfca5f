"""Online backup (SQLite backup API) keeping the last N, and restore — through the CLI as operators use it."""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

import db
from monitor.backup import BackupError, backup, list_backups, restore
from monitor.cli import main
from monitor.schedule.locks import SchedulerLock


def _add_source(database, name: str) -> None:
    with db.transaction(database) as conn:
        conn.execute("INSERT INTO sources (name, kind, url, created_at) VALUES (?, 'rss', 'http://x/', ?)",
                     (name, db.utcnow()))


def test_backup_is_consistent_while_writers_write_and_keeps_last_n(tmp_db, db_path, tmp_path):
    _add_source(tmp_db, "base")
    stop = threading.Event()

    def writer() -> None:
        conn = db.connect(db_path, migrate_schema=False)
        n = 0
        while not stop.is_set():
            _add_source(conn, f"s{n}")
            n += 1
        conn.conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    try:
        made = [backup(db_path, tmp_path / "backups", keep=3, now=start + timedelta(days=i)) for i in range(5)]
    finally:
        stop.set()
        thread.join()
    kept = list_backups(tmp_path / "backups")
    assert kept == made[-3:]
    assert [p.name for p in kept] == ["monitor-backup-20261103T000000Z.db", "monitor-backup-20261104T000000Z.db",
                                      "monitor-backup-20261105T000000Z.db"]
    for path in kept:
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM sources WHERE name = 'base'").fetchone()[0] == 1
        conn.close()


def test_restore_through_cli_brings_back_the_backup_and_keeps_the_old_db(tmp_db, db_path, tmp_path, capsys):
    _add_source(tmp_db, "before")
    assert main(["--db", str(db_path), "--feeds", str(tmp_path / "none.yaml"), "backup",
                 "--dir", str(tmp_path / "b"), "--keep", "2"]) == 0
    saved = capsys.readouterr().out.strip()
    _add_source(tmp_db, "after")
    tmp_db.conn.close()
    assert main(["--db", str(db_path), "restore", saved]) == 0
    conn = db.connect(db_path)
    names = {r[0] for r in conn.conn.execute("SELECT name FROM sources")}
    conn.conn.close()
    assert names == {"before"}
    previous = list(tmp_path.glob("monitor.db.before-restore-*"))
    assert len(previous) == 1
    assert re.fullmatch(r"monitor\.db\.before-restore-\d{8}T\d{6}Z", previous[0].name)
    old = sqlite3.connect(previous[0])
    assert {r[0] for r in old.execute("SELECT name FROM sources")} == {"before", "after"}
    old.close()


def test_restore_refuses_while_the_service_holds_the_database(tmp_db, db_path, tmp_path, capsys):
    path = backup(db_path, tmp_path / "b")
    with SchedulerLock(db_path):
        assert main(["--db", str(db_path), "restore", str(path)]) == 3
    assert "stop it" in capsys.readouterr().err


def test_restore_rejects_a_corrupt_backup(db_path, tmp_path):
    bad = tmp_path / "monitor-20260101T000000Z.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(BackupError, match="not a usable"):
        restore(bad, db_path)
    assert not db_path.exists()


def test_retention_forgets_old_crawl_runs_but_never_items(tmp_db):
    from monitor.config import Settings
    from monitor.schedule.housekeeping import default_jobs, retention

    _add_source(tmp_db, "s")
    with db.transaction(tmp_db) as conn:
        for started, status in [("2026-01-01T00:00:00Z", "ok"), ("2026-11-20T00:00:00Z", "ok"),
                                ("2026-01-02T00:00:00Z", "running")]:
            conn.execute("INSERT INTO crawl_runs (source_id, started_at, status) VALUES (1, ?, ?)", (started, status))
    removed = retention(tmp_db, Settings(), "x.db", days=90, now=datetime(2026, 11, 23, tzinfo=UTC))
    assert removed == {"crawl_runs": 1}
    left = {r[0] for r in tmp_db.conn.execute("SELECT started_at FROM crawl_runs")}
    assert left == {"2026-11-20T00:00:00Z", "2026-01-02T00:00:00Z"}
    assert set(default_jobs()) == {"weekly_report", "report_delivery", "backup", "retention", "retrain_proposal"}


def test_housekeeping_backup_and_weekly_report_jobs_write_their_files(tmp_db, db_path, tmp_path):
    from monitor.config import ReportSettings, Settings
    from monitor.schedule.housekeeping import daily_backup, weekly_report

    settings = Settings(reports_dir=str(tmp_path / "reports"), backups_dir=str(tmp_path / "bk"), backups_keep=2,
                        report=ReportSettings(agency="Ban Chỉ đạo 35 tỉnh Thanh Hóa"))
    paths = [daily_backup(tmp_db, settings, str(db_path)) for _ in range(1)]
    assert [p.name for p in list_backups(tmp_path / "bk")] == [paths[0].rsplit("/", 1)[1]]
    written = weekly_report(tmp_db, settings, str(db_path))
    assert written and all(str(tmp_path / "reports") in p for p in written)
    assert any(p.endswith(".csv") for p in written)
    # The DOCX is written too, with feeds.yaml's `settings: report:`.
    from docx import Document

    docx_path = next(p for p in written if p.endswith(".docx"))
    assert "BAN CHỈ ĐẠO 35 TỈNH THANH HÓA" in Document(docx_path).tables[0].cell(0, 0).text


def test_backup_into_the_databases_own_folder_never_prunes_the_live_file(tmp_path, capsys):
    """Issue 15 item 18: `--db X/monitor-0live.db backup --dir X --keep 1` deleted the live database."""
    live = tmp_path / "monitor-0live.db"
    database = db.connect(live)
    _add_source(database, "live")
    database.conn.close()
    stranger = tmp_path / "monitor-notes.db"  # someone else's file that happens to share the prefix
    stranger.write_bytes(b"not ours")
    for _ in range(3):
        assert main(["--db", str(live), "--feeds", str(tmp_path / "none.yaml"), "backup",
                     "--dir", str(tmp_path), "--keep", "1"]) == 0
    written = [line for line in capsys.readouterr().out.split("\n") if line]
    assert live.exists() and stranger.read_bytes() == b"not ours"
    conn = sqlite3.connect(live)
    assert conn.execute("SELECT name FROM sources").fetchall() == [("live",)]
    conn.close()
    kept = list_backups(tmp_path)
    assert len(kept) == 1 and str(kept[0]) == written[-1]
    assert kept[0].name.startswith("monitor-backup-")


def test_pruning_matches_the_backup_name_exactly_and_skips_the_database_in_use(tmp_path):
    folder = tmp_path / "bk"
    folder.mkdir()
    lookalikes = ["monitor-backup-20200101T000000Z.db.keep", "monitor-backup-2020.db", "xmonitor-backup-20200101T000000Z.db",
                  "monitor-backup-20200101T000000Z-mine.db", "monitor-20200101T000000Z.db"]
    for name in lookalikes:
        (folder / name).write_bytes(b"x")
    # A live database named like a backup (restored and used in place) is the path in use: never pruned.
    live = folder / "monitor-backup-19990101T000000Z.db"
    database = db.connect(live)
    _add_source(database, "live")
    database.conn.close()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    made = [backup(live, folder, keep=1, now=start + timedelta(days=i)) for i in range(3)]
    assert live.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted([*lookalikes, live.name, made[-1].name])
    assert list_backups(folder, exclude=live) == [made[-1]]


_BACKUP_WITH_A_FILE_SIZE_LIMIT = """
import resource, signal, sys
from monitor.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
sys.exit(main(sys.argv[2:]))
"""


def test_a_backup_the_disk_refuses_leaves_no_partial_file_and_names_the_backup_not_the_database(tmp_path):
    """issue 15 follow-up 13: on a full disk `monitor backup` left monitor-backup-<stamp>.partial behind (pruning
    never removes it) and said "disk full / cannot write <the live database>", which was never written to.
    The storage really refuses here: RLIMIT_FSIZE in a child process, smaller than the database."""
    import subprocess
    import sys

    from tests.scheduler_fixtures import REPO

    live = tmp_path / "live" / "monitor.db"
    database = db.connect(live)
    with db.transaction(database) as conn:
        conn.execute("CREATE TABLE pad (blob BLOB)")
        conn.executemany("INSERT INTO pad VALUES (randomblob(4000))", [()] * 200)  # ~800 KB
    database.conn.close()
    folder = tmp_path / "bk"
    done = subprocess.run([sys.executable, "-c", _BACKUP_WITH_A_FILE_SIZE_LIMIT, str(256 * 1024), "--db", str(live),
                           "--feeds", str(tmp_path / "none.yaml"), "backup", "--dir", str(folder)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()  # one line, no traceback
    assert re.fullmatch(rf"error: disk full / cannot write {re.escape(str(folder))}/monitor-backup-\d{{8}}T\d{{6}}Z\.db"
                        r" \(.+\)", line), line
    assert list(folder.iterdir()) == []  # no .partial (nor its journal) left behind
    conn = sqlite3.connect(live)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_partial_files_left_by_a_killed_backup_are_removed_by_the_next_one_after_a_day(tmp_path):
    """A backup killed mid-copy (power cut, OOM) cannot clean up after itself: the next backup removes the
    leftovers of this module's own naming once they are a day old (a younger one may be a backup running now)."""
    live = tmp_path / "monitor.db"
    db.connect(live).conn.close()
    folder = tmp_path / "bk"
    folder.mkdir()
    now = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
    stale = folder / "monitor-backup-20261108T030000Z.partial"
    running = folder / "monitor-backup-20261110T025900Z.partial"
    stranger = folder / "monitor-backup-notes.partial"
    for path in (stale, running, stranger):
        path.write_bytes(b"x")
    made = backup(live, folder, keep=3, now=now)
    assert sorted(p.name for p in folder.iterdir()) == sorted([made.name, running.name, stranger.name])


def test_backup_and_restore_refuse_a_postgresql_database_with_one_line_pointing_to_pg_dump(pg_url, tmp_path, capsys):
    """A PostgreSQL database is not a file to copy: both commands say so in one line, name pg_dump, and make
    nothing (no backup folder, no lock file); the scheduler's daily backup leaves it to pg_dump."""
    from monitor.config import Settings
    from monitor.schedule.housekeeping import daily_backup

    db.connect(pg_url).close()
    assert main(["--db", pg_url, "backup", "--dir", str(tmp_path / "bk")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {pg_url} is a PostgreSQL database: back it up with pg_dump") and err.count("\n") == 1
    (tmp_path / "old.db").write_bytes(b"x")
    assert main(["--db", pg_url, "restore", str(tmp_path / "old.db")]) == 1
    assert "pg_dump" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]
    with pytest.raises(BackupError, match=r"^postgresql://monitor:\*\*\*@db\.example\.vn/monitor is a PostgreSQL"):
        backup("postgresql://monitor:s3cret@db.example.vn/monitor", tmp_path / "bk")
    note = daily_backup(None, Settings(backups_dir=str(tmp_path / "bk")), pg_url)
    assert note.startswith("skipped: ") and "pg_dump" in note and not (tmp_path / "bk").exists()
