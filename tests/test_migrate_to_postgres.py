"""`monitor migrate-to-postgres`: a SQLite installation moves whole, its decision log still verifies."""

from __future__ import annotations

import sqlite3

import pytest

import db
import db.decisions
from db import keys
from monitor import cli
from tests import helpers

MODERATOR = next(name for name, role in helpers.USERS.items() if role == "moderator")


def _decide_a_few(path, ids) -> None:
    database = db.connect(path)
    for n, item in enumerate(("high", "mid")):
        item_id = ids["items"][item]
        version = database.conn.execute("SELECT version FROM items WHERE id = ?", [item_id]).fetchone()[0]
        db.decisions.decide(database, item_id=item_id, user_id=ids["users"][MODERATOR], action="confirm_misinformation" if n else "dismiss",
                            new_status="confirmed" if n else "dismissed", expected_version=version,
                            note=f"ghi chú {n}")
    database.conn.close()


def _counts(conn, tables) -> dict[str, int]:
    return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.fixture
def installation(tmp_path, monkeypatch):
    monkeypatch.delenv(keys.AUDIT_KEY_ENV, raising=False)
    monkeypatch.delenv(keys.AUDIT_KEY_FILE_ENV, raising=False)
    path = tmp_path / "monitor.db"
    ids = helpers.build(path)
    _decide_a_few(path, ids)
    return path, ids


def test_everything_is_copied_and_the_chain_verifies(installation, pg_url, tmp_path, monkeypatch, capsys):
    path, ids = installation
    monkeypatch.setenv("MONITOR_STATE_DIR", str(tmp_path))
    assert cli.main(["migrate-to-postgres", str(path), pg_url]) == 0
    out = capsys.readouterr().out
    assert "decision log verified on PostgreSQL: 2 decisions" in out

    from db.transfer import tables_in_order

    lite = sqlite3.connect(path)
    tables = tables_in_order(lite)
    target = db.connect(pg_url)
    assert _counts(target.conn, tables) == _counts(lite, tables)
    decisions = "SELECT id, item_id, action, note, prev_hash, row_hash FROM decisions ORDER BY id"
    assert [tuple(r) for r in target.conn.execute(decisions).fetchall()] == lite.execute(decisions).fetchall()

    # with the installation's key, the copied log verifies, new decisions chain on, and ids continue
    monkeypatch.setenv(keys.AUDIT_KEY_ENV, keys.secret_beside(path.with_name("monitor.db.audit-key"),
                                                               what="audit key", create=False))
    low = ids["items"]["low"]
    version = target.conn.execute("SELECT version FROM items WHERE id = ?", [low]).fetchone()[0]
    db.decisions.decide(target, item_id=low, user_id=ids["users"][MODERATOR], action="confirm_misinformation",
                        new_status="confirmed", note="", expected_version=version)
    assert db.decisions.verify(target).problems == []
    assert target.conn.execute("SELECT MAX(id) FROM decisions").fetchone()[0] == 3
    new_item = helpers.make_item(target, ids["sources"]["thanhhoa"], 999, title="Mới sau khi chuyển", text="")
    assert new_item > max(ids["items"].values())
    # the search index came along: a word from a copied title, typed without tone marks
    from db.search import search

    assert ids["items"]["high"] in [row["id"] for row in search(target, "vac xin")]


def test_a_database_that_already_holds_data_is_refused_and_left_as_it_was(installation, pg_url, tmp_path,
                                                                          monkeypatch, capsys):
    path, _ids = installation
    monkeypatch.setenv("MONITOR_STATE_DIR", str(tmp_path))
    target = db.connect(pg_url)
    helpers.build(pg_url)
    before = target.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    assert cli.main(["migrate-to-postgres", str(path), pg_url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: nothing was copied: the PostgreSQL database already holds data") and "\n" not in err
    assert target.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == before


def test_bad_arguments_are_one_line_errors(tmp_path, pg_url, capsys):
    assert cli.main(["migrate-to-postgres", str(tmp_path / "none.db"), pg_url]) == 2
    assert "no such SQLite database" in capsys.readouterr().err
    (tmp_path / "x.db").write_bytes(b"")
    assert cli.main(["migrate-to-postgres", str(tmp_path / "x.db"), "/not/a/url"]) == 2
    assert "is not a PostgreSQL URL" in capsys.readouterr().err


def test_without_a_folder_for_the_checkpoints_nothing_is_copied(installation, pg_url, monkeypatch, capsys):
    path, _ids = installation
    monkeypatch.delenv("MONITOR_STATE_DIR", raising=False)
    assert cli.main(["migrate-to-postgres", str(path), pg_url]) == 2
    assert "set MONITOR_STATE_DIR" in capsys.readouterr().err
    assert db.connect(pg_url).conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
