"""Hostile review of issue 14 (PostgreSQL backend): defects found, each pinned by a test."""

from __future__ import annotations

import sqlite3

import pytest

import db
import db.tokens
from db.postgres import redacted
from db.sources import ensure_source, get_source
from monitor import cli
from monitor.domain import RawItem
from monitor.pipeline import ingest
from tests import helpers
from tests.test_migrate_to_postgres import _counts, installation  # noqa: F401 - fixture

# ----- secrets: libpq also takes the password as a query parameter


@pytest.mark.parametrize("url", ["postgresql://monitor@db.internal/monitor?password=s3cret",
                                 "postgresql://monitor@db.internal/monitor?sslmode=require&password=s3cret",
                                 "postgresql:///monitor?host=/run/postgresql&user=monitor&password=s3cret"])
def test_redacted_hides_a_password_given_as_a_query_parameter(url):
    assert "s3cret" not in redacted(url)


# ----- NUL bytes: SQLite stores them, PostgreSQL refuses them in text


@pytest.mark.parametrize("field", ["guid", "url"])
def test_a_feed_item_with_a_nul_byte_does_not_break_the_batch(any_db, field):
    source = get_source(any_db, ensure_source(any_db, "S", "rss", "https://baothanhhoa.vn/rss", "vi"))
    values = dict(guid="g1", title="Tiêu đề một", text="Nội dung bài viết số một", url="https://baothanhhoa.vn/b1.html")
    values[field] += "\x00x"
    good = RawItem(guid="g2", title="Tiêu đề hai", text="Nội dung bài viết số hai", url="https://baothanhhoa.vn/b2.html")
    result = ingest(any_db, source, [RawItem(**values), good], None)
    assert result.new == 2


@pytest.fixture()
def web_app(database_url, backend, tmp_path, monkeypatch):
    if backend == "postgresql":
        monkeypatch.setenv("MONITOR_AUDIT_KEY_FILE", str(tmp_path / "audit-key"))
        monkeypatch.setenv("MONITOR_STATE_DIR", str(tmp_path))
    ids = helpers.build(database_url)
    app = helpers.make_app(database_url, as_deployed=True, SECRET_KEY="k" * 40, WTF_CSRF_ENABLED=False,
                           EVIDENCE_ON_DECIDE=False, PROPAGATE_EXCEPTIONS=False)
    return app, ids


def test_a_login_with_a_nul_byte_is_refused_not_a_500(web_app):
    app, _ids = web_app
    response = app.test_client().post("/login", data={"name": "adm\x00", "password": "x"})
    assert response.status_code < 500


@pytest.mark.parametrize("path", ["/queue?language=vi%00", "/api/v1/queue?language=vi%00"])
def test_a_query_parameter_with_a_nul_byte_is_not_a_500(web_app, path):
    app, _ids = web_app
    client = app.test_client()
    helpers.login(client, "adm")
    assert client.get(path).status_code < 500


@pytest.mark.parametrize("form", ["decide", "comment", "user"])
def test_a_form_with_a_nul_byte_is_not_a_500(web_app, form):
    app, ids = web_app
    client = app.test_client()
    helpers.login(client, "adm")
    item = ids["items"]["mid"]
    path, data = {"decide": (f"/items/{item}/decide", {"action": "dismiss", "note": "n\x00o", "version": "1"}),
                  "comment": (f"/items/{item}/comments", {"body": "n\x00o"}),
                  "user": ("/admin/users", {"name": "n\x00o", "password": "verylongpassword123", "role": "analyst"}),
                  }[form]
    assert client.post(path, data=data).status_code < 500


def test_an_api_decision_whose_note_holds_a_nul_is_refused_and_an_escaped_backslash_is_not(web_app):
    app, ids = web_app
    database = db.connect(app.config["DATABASE"])
    token = db.tokens.create_token(database, ids["users"]["mod"], "t")
    database.conn.close()
    client, item = app.test_client(), ids["items"]["mid"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    nul = client.post(f"/api/v1/items/{item}/decisions", headers=headers,
                      data='{"action": "dismiss", "version": 1, "note": "n\\u0000o"}')
    assert nul.status_code == 400 and nul.get_json()["error"] == "bad_request"
    text = client.post(f"/api/v1/items/{item}/decisions", headers=headers,
                       json={"action": "dismiss", "version": 1, "note": "đọc \\u0000 là chữ"})
    assert text.status_code == 201, text.get_json()


# ----- migrate-to-postgres: rows SQLite accepted and PostgreSQL refuses


def _spoil(path, sql):
    lite = sqlite3.connect(path)
    lite.execute(sql)
    lite.commit()
    lite.close()


@pytest.mark.parametrize("spoil", [
    "UPDATE items SET text = 'a' || char(0) || 'b' WHERE id = 2",
    "UPDATE items SET title = CAST(X'fffe41' AS TEXT) WHERE id = 2",  # invalid UTF-8
    "UPDATE items SET version = 'abc' WHERE id = 2",
])
def test_migrate_refuses_bad_rows_in_one_line_and_leaves_the_target_empty(installation, pg_url, tmp_path,  # noqa: F811
                                                                         monkeypatch, capsys, spoil):
    path, _ids = installation
    monkeypatch.setenv("MONITOR_STATE_DIR", str(tmp_path))
    _spoil(path, spoil)
    assert cli.main(["migrate-to-postgres", str(path), pg_url]) == 2
    err = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]  # after the progress lines
    assert "error: nothing was copied: table items" in err, err
    target = db.connect(pg_url)
    assert target.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
    assert target.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0
