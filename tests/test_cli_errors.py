"""The CLI on a hostile or unready machine (issue 15 items 3 and 4): environment errors end with one line
on stderr and exit code 2, a mistyped database path creates nothing, passwords can be piped.

Everything runs in-process against files in the test's temporary directory; nothing listens or fetches.
"""

from __future__ import annotations

import errno
import io
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import db
from db.users import authenticate, find_user
from monitor.cli import build_parser, main
from monitor.schedule.locks import SchedulerLock

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


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
    assert line == f"error: disk full / cannot write {ready_db}.lock: No space left on device"
    SchedulerLock(ready_db).acquire().release()  # the failed attempt left no lock behind


def test_a_genuine_bug_keeps_its_traceback(env, ready_db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not the environment")

    monkeypatch.setattr("monitor.status.status_report", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["--db", str(ready_db), "status"])


# --------------------------------------------------------------------------- item 4: nothing created by mistake


@pytest.mark.parametrize("command", [
    ["status"], ["users", "list"], ["crawl"], ["sources", "list"], ["audit", "verify"], ["backup"],
    ["import", "posts.csv", "--no-score"], ["serve", "--port", "0"], ["run", "--port", "0"],
    ["report", "--week", "2026-W47", "--format", "json"], ["train", "--from-db"],
], ids=" ".join)
def test_a_missing_database_is_an_error_and_nothing_is_created(env, tmp_path, feeds, command, capsys):
    missing = tmp_path / "nonexistent" / "dir" / "x.db"
    assert main(["--db", str(missing), "--feeds", str(feeds), *command]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(missing) in line and "monitor init" in line
    assert not (tmp_path / "nonexistent").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]


def test_init_creates_the_database_and_says_where(env, tmp_path, capsys):
    path = tmp_path / "new" / "folder" / "monitor.db"
    env.setenv("MONITOR_ADMIN_PASSWORD", "quản trị viên 2026")
    assert main(["--db", str(path), "init", "--admin", "hoa"]) == 0
    out = capsys.readouterr().out
    assert f"created the database {path}" in out
    assert path.exists()
    assert main(["--db", str(path), "init", "--admin", "hoa"]) == 0
    assert "created" not in capsys.readouterr().out


def test_init_with_password_stdin(env, db_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("mật khẩu có dấu cách \nignored second line\n"))
    assert main(["--db", str(db_path), "init", "--admin", "hoa", "--password-stdin"]) == 0
    database = db.connect(db_path)
    try:
        assert authenticate(database, "hoa", "mật khẩu có dấu cách ") is not None
    finally:
        database.conn.close()


@pytest.mark.parametrize("stdin", ["", "\n", "\r\n"], ids=["eof", "empty-line", "crlf"])
def test_init_refuses_an_empty_piped_password_and_creates_nothing(env, db_path, monkeypatch, capsys, stdin):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["--db", str(db_path), "init", "--admin", "hoa", "--password-stdin"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--password-stdin" in line and "empty" in line
    assert not db_path.exists()


def _monitor(args: list[str], tmp_path: Path, locale: str = "C.UTF-8", **popen) -> subprocess.CompletedProcess:
    """`monitor ARGS` in a child process, as a shell runs it: the real sys.stdin of the locale."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MONITOR_", "LC_", "LANG", "PYTHONIO", "PYTHONUTF8"))}
    env.update(LC_ALL=locale, MONITOR_HOME=str(tmp_path / "home"), MONITOR_MODEL_DIR=str(tmp_path / "models"))
    return subprocess.run([sys.executable, "-c", "from monitor.cli import console; console()", *args], cwd=REPO, env=env, capture_output=True,
                          timeout=120, **popen)


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_a_piped_password_that_is_not_utf8_is_one_line_and_creates_nothing(tmp_path, db_path, locale):
    """Hostile review item 4: under the C and C.UTF-8 locales stdin decodes with surrogateescape, so the
    bytes arrive as lone surrogates (no UnicodeDecodeError) and failed later, after the database was made."""
    done = _monitor(["--db", str(db_path), "init", "--admin", "hoa", "--password-stdin"], tmp_path, locale,
                    input=b"\xffpassword123\n")
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr.decode("utf-8", "replace"))
    assert "--password-stdin" in line and "UTF-8" in line
    assert not db_path.exists()


def test_password_stdin_with_stdin_closed_is_one_line(tmp_path, db_path):
    done = _monitor(["--db", str(db_path), "init", "--admin", "hoa", "--password-stdin"], tmp_path,
                    stdin=None, preexec_fn=lambda: os.close(0))
    assert done.returncode == 2, done.stderr
    assert "standard input is closed" in one_error_line(done.stderr.decode())
    assert not db_path.exists()


@pytest.mark.parametrize(("admin", "password", "expected"), [
    ("hoa", "short", "at least 8 characters"), ("  ", "long enough password", "must not be empty")])
def test_init_refused_by_the_account_rules_creates_no_database(env, db_path, monkeypatch, capsys, admin, password,
                                                                expected):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert main(["--db", str(db_path), "init", "--admin", admin, "--password-stdin"]) == 1
    assert expected in one_error_line(capsys.readouterr().err)
    assert not db_path.exists()


def test_users_add_with_password_stdin(env, ready_db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("kiểm duyệt viên\n"))
    assert main(["--db", str(ready_db), "users", "add", "lan", "--role", "moderator", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["--db", str(ready_db), "users", "add", "minh", "--role", "analyst", "--password-stdin"]) == 2
    one_error_line(capsys.readouterr().err)
    database = db.connect(ready_db)
    try:
        assert authenticate(database, "lan", "kiểm duyệt viên") is not None
        assert find_user(database, "minh") is None
    finally:
        database.conn.close()


def test_users_add_without_a_password_source_is_one_line(env, ready_db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["--db", str(ready_db), "users", "add", "lan", "--role", "moderator"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "MONITOR_PASSWORD" in line and "--password-stdin" in line


def _exit_code_sentence(text: str) -> str:
    found = re.search(r"exit code 1 only [^|]*?(?=\.|\||$)", " ".join(text.replace("`", "").split()), re.IGNORECASE)
    assert found, text
    return found.group(0).strip().lower()


def test_crawl_help_states_the_exit_codes_of_the_readme():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "crawl" in a.choices)
    help_text = subparsers.choices["crawl"].format_help()
    row = next(line for line in README.read_text(encoding="utf-8").splitlines()
               if line.startswith("| `monitor crawl"))
    assert _exit_code_sentence(help_text) == _exit_code_sentence(row)


def test_train_without_the_research_data_says_what_it_needs(env, tmp_path, capsys):
    env.setenv("MONITOR_DATA_DIR", str(tmp_path / "no-data"))
    code = main(["--db", str(tmp_path / "monitor.db"), "train", "--registry", str(tmp_path / "registry")])
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(tmp_path / "no-data") in line and "MONITOR_DATA_DIR" in line and "--from-db" in line
    assert not (tmp_path / "monitor.db").exists() and not (tmp_path / "registry").exists()


def test_model_commands_need_no_database_and_create_none(env, tmp_path, capsys):
    missing = tmp_path / "nowhere" / "monitor.db"
    assert main(["--db", str(missing), "model", "--registry", str(tmp_path / "registry"), "list"]) == 0
    assert main(["--db", str(missing), "model", "--registry", str(tmp_path / "registry"), "rollback"]) == 1
    assert not missing.parent.exists()


# --------------------------------------------------------------------------- hostile review item 5


def test_crawl_with_a_bad_private_allowlist_entry_is_a_config_error(env, ready_db, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text('settings:\n  private_allowlist: ["127.0.0.1:0"]\nsources:\n  - name: a\n    kind: rss\n'
                   "    url: http://127.0.0.1:9/a.xml\n", encoding="utf-8")
    assert main(["--db", str(ready_db), "--feeds", str(bad), "crawl"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{bad}:2: field 'private_allowlist'" in line and "'127.0.0.1:0'" in line


# --------------------------------------------------------------------------- hostile review items 3 and 8: audit export


def test_audit_export_out_never_replaces_the_database_or_a_pipe(env, ready_db, tmp_path, capsys):
    before = ready_db.read_bytes()
    assert main(["--db", str(ready_db), "audit", "export", "--out", str(ready_db)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: --out {ready_db}: ") and "database" in line
    assert ready_db.read_bytes() == before
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    assert main(["--db", str(ready_db), "audit", "export", "--format", "jsonl", "--out", str(pipe)]) == 2
    assert "not a regular file" in one_error_line(capsys.readouterr().err)


def test_audit_export_out_into_a_missing_folder_or_onto_a_folder_is_one_line(env, ready_db, tmp_path, capsys):
    missing = tmp_path / "nonexist" / "x.csv"
    assert main(["--db", str(ready_db), "audit", "export", "--out", str(missing)]) == 2
    assert "does not exist" in one_error_line(capsys.readouterr().err)
    assert main(["--db", str(ready_db), "audit", "export", "--out", str(tmp_path)]) == 2
    assert "is a folder" in one_error_line(capsys.readouterr().err)
    good = tmp_path / "audit.csv"
    assert main(["--db", str(ready_db), "audit", "export", "--out", str(good)]) == 0
    assert good.read_text(encoding="utf-8").startswith("id,created_at,user_name,action,")


@pytest.mark.parametrize("flag", ["--since", "--until"])
def test_audit_export_with_a_date_that_is_not_one_is_a_usage_error(env, ready_db, capsys, flag):
    assert main(["--db", str(ready_db), "audit", "export", flag, "2026-13-01"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert flag in line and "'2026-13-01'" in line


# --------------------------------------------------------------------------- hostile review item 8: one line, not a traceback


@pytest.mark.parametrize("command", [["status"], ["users", "list"], ["audit", "verify"], ["sources", "list"],
                                     ["report", "--week", "2026-W47", "--format", "json"]], ids=" ".join)
def test_a_file_that_is_not_a_database_is_one_line_naming_it(env, tmp_path, command, capsys, monkeypatch):
    notes = tmp_path / "notes.txt"
    notes.write_text("ghi chú, không phải cơ sở dữ liệu\n" * 20, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["--db", str(notes), *command]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(notes) in line and "not a SQLite database" in line
    assert notes.read_text(encoding="utf-8").startswith("ghi chú")


def test_an_empty_file_is_not_taken_for_a_database(env, tmp_path, capsys):
    """A 0-byte file was migrated into a new, empty database and `status` answered 'none', exit 0."""
    empty = tmp_path / "monitor.db"
    empty.touch()
    assert main(["--db", str(empty), "status"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(empty) in line and "empty" in line and "monitor init" in line
    assert empty.stat().st_size == 0
    env.setenv("MONITOR_ADMIN_PASSWORD", "mật khẩu đủ dài")
    assert main(["--db", str(empty), "init", "--admin", "hoa"]) == 0  # init may make it one, and says so
    assert f"created the database {empty}" in capsys.readouterr().out


def test_report_out_whose_ending_says_another_format_is_one_line(env, ready_db, tmp_path, capsys):
    """A DOCX written as w47.pdf opens in a PDF reader as a broken file (issue 13 review)."""
    code = main(["--db", str(ready_db), "report", "--week", "2026-W47", "--format", "docx",
                 "--out", str(tmp_path / "w47.PDF")])
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert "ends in .pdf but the format is docx" in line and "w47.docx" in line
    assert not (tmp_path / "w47.PDF").exists()
    assert main(["--db", str(ready_db), "report", "--week", "2026-W47", "--format", "csv",
                 "--out", str(tmp_path / "w47.txt")]) == 0  # an ending that names no format is the user's choice


def test_report_out_with_a_name_too_long_or_in_proc_is_one_line(env, ready_db, tmp_path, capsys):
    long = tmp_path / ("r" * 300 + ".json")
    assert main(["--db", str(ready_db), "report", "--week", "2026-W47", "--format", "json", "--out", str(long)]) == 2
    assert "File name too long" in one_error_line(capsys.readouterr().err)
    proc = Path("/proc/self/report.json")
    assert main(["--db", str(ready_db), "report", "--week", "2026-W47", "--format", "json", "--out", str(proc)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(proc) in line and ".tmp" not in line


def test_backup_dir_that_is_a_file_is_one_line(env, ready_db, tmp_path, capsys):
    a_file = tmp_path / "hostname"
    a_file.write_text("not a folder\n", encoding="utf-8")
    assert main(["--db", str(ready_db), "backup", "--dir", str(a_file)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(a_file) in line and "not a folder" in line
    assert main(["--db", str(ready_db), "backup", "--dir", str(a_file / "below")]) == 2
    assert str(a_file) in one_error_line(capsys.readouterr().err)
    assert a_file.read_text(encoding="utf-8") == "not a folder\n"


def test_a_folder_given_as_the_feeds_file_or_the_import_file_is_one_line(env, ready_db, tmp_path, capsys):
    folder = tmp_path / "sources"
    folder.mkdir()
    assert main(["--db", str(ready_db), "--feeds", str(folder), "crawl"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(folder) in line and "is a folder" in line
    assert main(["--db", str(ready_db), "import", str(folder), "--no-score"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(folder) in line and "is a folder" in line


@pytest.mark.parametrize(("action", "code"), [("verify", 1), ("checkpoint", 2)])
def test_an_audit_key_in_the_environment_that_is_not_utf8_is_named_not_a_traceback(env, ready_db, capsys, action,
                                                                                   code):
    """verify lists an unusable key as a problem (exit 1); checkpoint cannot sign without one (exit 2)."""
    env.setenv("MONITOR_AUDIT_KEY", "\udcff" * 40)  # the bytes 0xff: os.environ holds them as surrogates
    assert main(["--db", str(ready_db), "audit", action]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert any("MONITOR_AUDIT_KEY" in line and "UTF-8" in line for line in err.splitlines())


@pytest.mark.parametrize("variable", ["MONITOR_ADMIN_PASSWORD", "MONITOR_PASSWORD"])
def test_a_password_in_the_environment_that_is_not_utf8_is_one_line(env, ready_db, capsys, variable):
    env.setenv(variable, "\udcffpassword123")
    command = ["init", "--admin", "hoa"] if variable == "MONITOR_ADMIN_PASSWORD" else ["users", "add", "lan",
                                                                                        "--role", "analyst"]
    assert main(["--db", str(ready_db), *command]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert variable in line and "UTF-8" in line


def test_an_error_line_stays_one_line_whatever_the_path_holds(env, ready_db, tmp_path, capsys):
    out = tmp_path / "tuần\n47" / "r.json"
    assert main(["--db", str(ready_db), "report", "--week", "2026-W47", "--format", "json", "--out", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "tuần\\n47" in line


def test_python_dash_m_monitor_cli_prints_a_usage_error_as_one_line(tmp_path, db_path):
    """`python -m monitor.cli` (how the benches and helpers run it) runs cli.py as __main__, a second copy of
    the module: a command's `from monitor.cli import CliError` is another class than the one main() catches,
    so every usage error ended in a traceback (`monitor deliveries --retry 999999`)."""
    db.connect(db_path).conn.close()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MONITOR_")}
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "--db", str(db_path), "deliveries", "--retry",
                           "999999"], cwd=REPO, env=env, capture_output=True, timeout=120)
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr.decode("utf-8"))
    assert "--retry 999999" in line
