"""The `monitor` CLI core commands, run in-process: init, users, status, crawl errors, classify input, --help."""

from __future__ import annotations

import argparse
import io
import json

import pytest

import db
from db.sources import ensure_source, get_source
from db.users import authenticate
from monitor.cli import build_parser, main
from monitor.domain import RawItem
from monitor.pipeline import ingest


@pytest.fixture()
def env(monkeypatch, db_path):
    for name in ("MONITOR_DB", "MONITOR_FEEDS", "MONITOR_ADMIN_PASSWORD", "MONITOR_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONITOR_HOME", str(db_path.parent / "home"))
    return monkeypatch


def run(db_path, *args: str) -> int:
    return main(["--db", str(db_path), *args])


def users(db_path) -> dict[str, str]:
    database = db.connect(db_path)
    try:
        return {row["name"]: row["role"] for row in database.query("SELECT name, role FROM users")}
    finally:
        database.conn.close()


def test_init_creates_admin_and_is_harmless_twice(env, db_path, capsys):
    env.setenv("MONITOR_ADMIN_PASSWORD", "quản trị viên 2026")
    assert run(db_path, "init", "--admin", "hoa") == 0
    assert "hoa" in capsys.readouterr().out
    assert users(db_path) == {"hoa": "admin"}
    database = db.connect(db_path)
    version = db.schema_version(database)
    assert authenticate(database, "hoa", "quản trị viên 2026") is not None
    database.conn.close()

    env.setenv("MONITOR_ADMIN_PASSWORD", "a different password")
    assert run(db_path, "init", "--admin", "hoa") == 0
    assert "already exists" in capsys.readouterr().out
    database = db.connect(db_path)
    assert users(db_path) == {"hoa": "admin"}
    assert db.schema_version(database) == version
    assert authenticate(database, "hoa", "quản trị viên 2026") is not None  # password not overwritten
    database.conn.close()


def test_init_without_password_source_fails_clearly(env, db_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run(db_path, "init", "--admin", "hoa") == 2
    assert "MONITOR_ADMIN_PASSWORD" in capsys.readouterr().err
    assert not db_path.exists()  # no password, no database


def test_init_rejects_short_password(env, db_path, capsys):
    env.setenv("MONITOR_ADMIN_PASSWORD", "short")
    assert run(db_path, "init", "--admin", "hoa") == 1
    assert "8" in capsys.readouterr().err
    assert users(db_path) == {}


def test_db_from_environment(env, db_path, capsys):
    env.setenv("MONITOR_DB", str(db_path))
    env.setenv("MONITOR_ADMIN_PASSWORD", "long enough password")
    assert main(["init", "--admin", "root"]) == 0
    assert users(db_path) == {"root": "admin"}


def test_users_add(env, tmp_db, db_path, capsys):
    env.setenv("MONITOR_PASSWORD", "kiểm duyệt viên")
    assert run(db_path, "users", "add", "minh", "--role", "moderator") == 0
    assert "minh" in capsys.readouterr().out
    assert users(db_path) == {"minh": "moderator"}
    database = db.connect(db_path)
    assert authenticate(database, "minh", "kiểm duyệt viên") is not None
    database.conn.close()

    assert run(db_path, "users", "add", "minh", "--role", "analyst") == 1
    assert "already exists" in capsys.readouterr().err
    assert users(db_path) == {"minh": "moderator"}

    assert run(db_path, "users", "list") == 0
    assert "minh" in capsys.readouterr().out


def test_users_add_unknown_role_rejected_by_argparse(env, db_path, capsys):
    env.setenv("MONITOR_PASSWORD", "kiểm duyệt viên")
    with pytest.raises(SystemExit) as caught:
        run(db_path, "users", "add", "minh", "--role", "superuser")
    assert caught.value.code == 2
    assert "superuser" in capsys.readouterr().err
    assert not db_path.exists() or users(db_path) == {}


def test_status_json(env, db_path, capsys):
    database = db.connect(db_path)
    source_id = ensure_source(database, "Báo Nghệ An", "rss", "https://baonghean.vn/rss/home.rss", "vi")
    ingest(database, get_source(database, source_id),
           [RawItem(guid="1", title="Tin một", text="Nội dung tin thứ nhất ở Nghệ An."),
            RawItem(guid="2", title="Tin hai", text="Nội dung tin thứ hai ở Nghệ An.")], None)
    database.conn.close()
    capsys.readouterr()
    assert run(db_path, "status", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert {"items", "sources"} <= set(report)
    assert report["items"] == {"new": 2}
    assert [source["name"] for source in report["sources"]] == ["Báo Nghệ An"]
    assert report["sources"][0]["items"] == 2


def test_status_text_on_empty_database(env, tmp_db, db_path, capsys):
    assert run(db_path, "status") == 0
    assert "Items by status: none" in capsys.readouterr().out


def test_crawl_with_invalid_feeds_exits_2_naming_file_and_line(env, tmp_db, db_path, tmp_path, capsys):
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("sources:\n  - name: X\n    kind: carrier-pigeon\n    url: https://example.org/rss\n",
                     encoding="utf-8")
    assert main(["--db", str(db_path), "--feeds", str(feeds), "crawl"]) == 2
    err = capsys.readouterr().err
    assert f"{feeds}:3:" in err
    assert "kind" in err
    assert tmp_db.conn.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 0  # nothing started


def test_crawl_feeds_path_from_environment(env, tmp_db, db_path, tmp_path, capsys):
    feeds = tmp_path / "other.yaml"
    feeds.write_text("sources:\n  - name: X\n    kind: rss\n    url: ftp://example.org/rss\n", encoding="utf-8")
    env.setenv("MONITOR_FEEDS", str(feeds))
    assert run(db_path, "crawl") == 2
    assert f"{feeds}:4:" in capsys.readouterr().err


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*prefix, name))
                found.extend(_commands(sub, (*prefix, name)))
    return found


COMMANDS = _commands(build_parser())


def test_core_commands_present():
    names = {command[0] for command in COMMANDS}
    assert {"init", "users", "crawl", "status", "classify", "serve", "run", "demo"} <= names
    assert ("users", "add") in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as caught:
        main([*command, "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:")
    assert " ".join(command) in out


def test_top_level_help(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    assert "--db" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(env, db_path, capsys):
    assert run(db_path) == 2
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("lines, bad_line", [
    ('{"text": "Tin một"}\n{"text": "Tin hai"\n', 2),
    ('{"text": "Tin một"}\n\n{"body": "no text field"}\n', 3),
    ('{"text": 42}\n', 1),
])
def test_classify_bad_jsonl_line_exits_2(env, db_path, monkeypatch, capsys, lines, bad_line):
    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded when the input is bad")

    monkeypatch.setattr("monitor.scoring.load_scorer", no_model)
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert run(db_path, "classify", "--json") == 2
    err = capsys.readouterr().err
    assert f"line {bad_line}" in err


def test_classify_json_scores_each_line_with_the_shipped_model(env, db_path, monkeypatch, capsys):
    texts = ["Cảnh báo: uống nước muối nóng chữa khỏi ung thư, bác sĩ giấu kín!",
             "UBND tỉnh Thanh Hóa họp bàn kế hoạch phát triển kinh tế năm 2026."]
    stdin = json.dumps({"text": texts[0]}, ensure_ascii=False) + "\n" + texts[1] + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert run(db_path, "classify", "--json") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    results = [json.loads(line) for line in lines]
    assert [result["text"] for result in results] == texts
    for result in results:
        assert 0.0 <= result["misinformation"] <= 1.0
        assert 0.0 <= result["harm"] <= 1.0
        assert isinstance(result["flagged"], list)
        assert result["model_version"]


def test_users_added_from_the_cli_are_in_the_account_audit_trail(tmp_path, monkeypatch, capsys):
    import db
    from monitor.cli import main

    db_path = tmp_path / "audit.db"
    monkeypatch.setenv("MONITOR_ADMIN_PASSWORD", "admin-password")
    monkeypatch.setenv("MONITOR_PASSWORD", "moderator-password")
    assert main(["--db", str(db_path), "init", "--admin", "root"]) == 0
    assert main(["--db", str(db_path), "users", "add", "lan", "--role", "moderator"]) == 0
    rows = db.connect(db_path).conn.execute(
        "SELECT users.name, user_changes.actor_id FROM user_changes JOIN users ON users.id = user_changes.target_id"
        " ORDER BY user_changes.id").fetchall()
    assert rows == [("root", None), ("lan", None)]


def test_sources_pause_and_resume_by_name(env, db_path, capsys):
    database = db.connect(db_path)
    source_id = ensure_source(database, "Báo Nghệ An", "rss", "https://baonghean.vn/rss")
    database.conn.execute("UPDATE sources SET consecutive_failures = 7 WHERE id = ?", (source_id,))
    database.conn.close()
    assert run(db_path, "sources", "pause", "Báo Nghệ An") == 0
    assert "paused" in capsys.readouterr().out
    assert get_source(db.connect(db_path), source_id)["paused"] == 1
    assert run(db_path, "sources", "resume", "Báo Nghệ An") == 0
    assert "resumed" in capsys.readouterr().out
    row = get_source(db.connect(db_path), source_id)
    assert (row["paused"], row["consecutive_failures"]) == (0, 0)
    assert run(db_path, "sources", "pause", "Báo Thanh Hóa") == 1
    err = capsys.readouterr().err
    assert "no source named 'Báo Thanh Hóa'" in err and "Báo Nghệ An" in err  # names the ones that exist
