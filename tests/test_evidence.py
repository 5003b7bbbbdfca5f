"""Evidence capture (issue 12 item 5): the page fetched again through the crawler's Fetcher, kept as WARC
beside the database, listed and downloadable on the item page, checked by `monitor audit verify`, and
still there after the source deletes the post."""

from __future__ import annotations

import gzip
import hashlib
import io
import types

import pytest
from warcio.archiveiterator import ArchiveIterator

import db
import db.evidence
from monitor import config, evidence
from monitor.commands import audit as audit_command
from monitor.config import ConfigError, Settings
from tests import helpers
from tests.servers import TestServer

PAGE = ("<html><head><title>Bài đăng</title></head><body><article><h1>Tin đồn về vắc-xin</h1>"
        + "<p>Nội dung bài đăng bị cho là sai sự thật, được chia sẻ rộng rãi trên mạng xã hội. </p>" * 8
        + "</article></body></html>").encode()


@pytest.fixture()
def site():
    with TestServer() as server:
        server.route("/post/1", PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
        yield server


def _settings(server: TestServer, **extra) -> Settings:
    return Settings(private_allowlist=[f"127.0.0.1:{server.port}"], host_delay=0, **extra)


def _item(path, ids, url: str, n: int = 90) -> int:
    database = db.connect(path)
    try:
        return helpers.make_item(database, ids["sources"]["thanhhoa"], n, title="Bài có bằng chứng",
                                 text="Nội dung", url=url)
    finally:
        database.conn.close()


def _app(path, server: TestServer, **overrides):
    return helpers.make_app(path, SETTINGS=_settings(server), EVIDENCE_ON_DECIDE=True, **overrides)


def _captures(path, item_id: int) -> list[dict]:
    database = db.connect(path)
    try:
        return db.evidence.for_item(database, item_id)
    finally:
        database.conn.close()


def test_save_evidence_keeps_a_warc_pair_that_survives_the_post_being_deleted(world, site):
    path, ids = world
    item_id = _item(path, ids, site.url("/post/1"))
    client = _app(path, site).test_client()
    helpers.login(client, "mod")
    answer = client.post(f"/items/{item_id}/evidence")
    assert answer.status_code == 303
    [row] = _captures(path, item_id)
    assert row["error"] is None and row["http_status"] == 200 and row["why"] == "manual"
    assert row["user_name"] == "mod" and row["final_url"] == site.url("/post/1")
    stored = evidence.folder(path) / row["path"]
    assert stored.name.endswith(".warc.gz") and stored.parent.name == str(item_id)
    data = stored.read_bytes()
    assert hashlib.sha256(data).hexdigest() == row["sha256"] and len(data) == row["size"]
    records = [(r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
               for r in ArchiveIterator(io.BytesIO(data))]  # a record is read before the iterator moves on
    assert [record[0] for record in records] == ["response", "request"]
    (_, response, response_http, body), (_, request, request_http, _) = records
    assert response_http.get_statuscode() == "200" and body == PAGE
    assert request_http.protocol == "GET" and request.get_header("WARC-Target-URI") == site.url("/post/1")
    assert request.get_header("WARC-Concurrent-To") == response.get_header("WARC-Record-ID")
    assert gzip.decompress(data).startswith(b"WARC/")
    full = db.evidence.get(db.connect(path), row["id"])
    assert "sai sự thật" in full["text"]  # the plain-text rendering
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert row["sha256"][:12] in page and f"/evidence/{row['id']}" in page

    site.route("/post/1", b"gone", status=410)  # the source deletes the post
    assert client.post(f"/items/{item_id}/evidence").status_code == 303
    latest = _captures(path, item_id)[0]
    assert latest["error_kind"] == "http" and latest["http_status"] == 410 and "410" in latest["error"]
    assert "410" in client.get(f"/items/{item_id}").get_data(as_text=True)
    download = client.get(f"/evidence/{row['id']}")
    assert download.status_code == 200 and download.mimetype == "application/warc"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert hashlib.sha256(download.data).hexdigest() == row["sha256"]


def test_confirm_and_escalate_capture_in_the_background(world, site):
    path, ids = world
    first, second = _item(path, ids, site.url("/post/1"), 91), _item(path, ids, site.url("/post/1?x=2"), 92)
    client = _app(path, site).test_client()
    helpers.login(client, "mod")
    answer = client.post(f"/items/{first}/decide", data={"action": "confirm_misinformation", "version": "1"})
    assert answer.status_code == 303
    answer = client.post(f"/items/{second}/decide", data={"action": "escalate", "version": "1", "note": "xem"})
    assert answer.status_code == 303
    assert evidence.wait_idle(30)
    assert [r["why"] for r in _captures(path, first)] == ["confirm"]
    assert [r["why"] for r in _captures(path, second)] == ["escalate"]
    assert all(r["error"] is None for r in _captures(path, first) + _captures(path, second))


def test_a_dismissal_captures_nothing(world, site):
    path, ids = world
    item_id = _item(path, ids, site.url("/post/1"))
    client = _app(path, site).test_client()
    helpers.login(client, "mod")
    client.post(f"/items/{item_id}/decide", data={"action": "dismiss", "version": "1"})
    assert evidence.wait_idle(30)
    assert _captures(path, item_id) == []


def test_a_slow_site_never_slows_the_decision(world):
    path, ids = world
    with TestServer() as server:
        server.route("/slow", PAGE, headers={"Content-Type": "text/html"}, delay=3)
        item_id = _item(path, ids, server.url("/slow"))
        client = _app(path, server).test_client()
        helpers.login(client, "mod")
        import time

        started = time.monotonic()
        answer = client.post(f"/items/{item_id}/decide", data={"action": "confirm_harm", "version": "1"})
        assert answer.status_code == 303 and time.monotonic() - started < 2
        assert evidence.wait_idle(30)
    assert [r["why"] for r in _captures(path, item_id)] == ["confirm"]


@pytest.mark.parametrize(("url_path", "settings", "kind"), [
    ("/big", {"evidence_max_bytes": 2048}, "too_large"),
    ("/missing", {}, "http"),
    ("/slow", {"read_timeout": 0.5, "deadline": 1.0}, "timeout"),
])
def test_failures_are_recorded_with_their_reason_and_shown(world, url_path, settings, kind):
    path, ids = world
    with TestServer() as server:
        server.route("/big", b"x" * 5000, headers={"Content-Type": "text/html"})
        server.route("/slow", PAGE, headers={"Content-Type": "text/html"}, delay=2)
        item_id = _item(path, ids, server.url(url_path))
        app = helpers.make_app(path, SETTINGS=_settings(server, **settings))
        client = app.test_client()
        helpers.login(client, "mod")
        assert client.post(f"/items/{item_id}/evidence").status_code == 303
    [row] = _captures(path, item_id)
    assert row["error_kind"] == kind and row["path"] is None and row["sha256"] is None
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert "capture-failed" in page and row["error"].split(" ")[0] in page


def test_a_private_address_is_refused(world, site):
    path, ids = world
    item_id = _item(path, ids, site.url("/post/1"))
    client = helpers.make_app(path, SETTINGS=Settings(host_delay=0)).test_client()  # no allow-list entry
    helpers.login(client, "mod")
    client.post(f"/items/{item_id}/evidence")
    [row] = _captures(path, item_id)
    assert row["error_kind"] == "refused" and "loopback" in row["error"]
    assert site.requests_to("/post/1") == []


def test_audit_verify_checks_every_capture(world, site, capsys):
    path, ids = world
    item_id = _item(path, ids, site.url("/post/1"))
    client = _app(path, site).test_client()
    helpers.login(client, "mod")
    client.post(f"/items/{item_id}/evidence")
    client.post(f"/items/{item_id}/evidence")
    first, second = _captures(path, item_id)
    args = types.SimpleNamespace(db=str(path))
    assert audit_command.cmd_verify(args) == 0
    assert "evidence OK: 2 capture(s)" in capsys.readouterr().out
    changed = evidence.folder(path) / first["path"]
    changed.write_bytes(changed.read_bytes() + b"x")
    (evidence.folder(path) / second["path"]).unlink()
    assert audit_command.cmd_verify(args) == 1
    err = capsys.readouterr().err
    assert f"evidence {first['id']}" in err and "was changed" in err
    assert f"evidence {second['id']}" in err and "missing" in err
    assert client.get(f"/evidence/{first['id']}").status_code == 409  # a changed file is not served
    assert client.get(f"/evidence/{second['id']}").status_code == 410


def test_captures_are_append_only(world, site):
    path, ids = world
    item_id = _item(path, ids, site.url("/post/1"))
    client = _app(path, site).test_client()
    helpers.login(client, "mod")
    client.post(f"/items/{item_id}/evidence")
    database = db.connect(path)
    try:
        for statement in ("UPDATE evidence SET sha256 = 'x'", "DELETE FROM evidence"):
            with pytest.raises(Exception, match="append-only"):
                database.conn.execute(statement)
    finally:
        database.conn.close()


def test_a_tampered_path_cannot_serve_another_file(tmp_path):
    assert evidence.file_of(tmp_path / "m.db", "../m.db") is None
    assert evidence.file_of(tmp_path / "m.db", "/etc/passwd") is None
    assert evidence.file_of(tmp_path / "m.db", "3/a.warc.gz") == (tmp_path / "m.db.evidence" / "3" / "a.warc.gz")


def test_analyst_downloads_but_cannot_capture(world, site):
    path, ids = world
    item_id = _item(path, ids, site.url("/post/1"))
    app = _app(path, site)
    moderator = app.test_client()
    helpers.login(moderator, "mod")
    moderator.post(f"/items/{item_id}/evidence")
    [row] = _captures(path, item_id)
    analyst = app.test_client()
    helpers.login(analyst, "ana")
    assert analyst.post(f"/items/{item_id}/evidence").status_code == 403
    assert analyst.get(f"/evidence/{row['id']}").status_code == 200
    page = analyst.get(f"/items/{item_id}").get_data(as_text=True)
    assert 'id="capture-evidence"' not in page and f"/evidence/{row['id']}" in page
    assert app.test_client().get(f"/evidence/{row['id']}").status_code == 302  # anonymous: to the login page


@pytest.mark.parametrize("value", [0, 100, -5, 2.5, True, "10MB"])
def test_evidence_max_bytes_must_be_a_sane_number(value):
    text = f"settings:\n  evidence_max_bytes: {value if not isinstance(value, str) else repr(value)}\nsources: []\n"
    with pytest.raises(ConfigError) as error:
        config.load_text(text)
    assert error.value.field == "evidence_max_bytes" and error.value.line == 2


def test_evidence_max_bytes_is_read():
    assert config.load_text("settings:\n  evidence_max_bytes: 4096\nsources: []\n").settings.evidence_max_bytes == 4096
    assert config.load_text("sources: []\n").settings.evidence_max_bytes == 10 * 1024 * 1024
