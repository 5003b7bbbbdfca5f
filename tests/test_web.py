"""Web app, phase 1: login, queue, item page, decisions with optimistic locking, CSRF, roles, /health."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import db
from tests import helpers


@pytest.fixture()
def setup(world):
    path, info = world
    return helpers.make_app(path), path, info


def decision_rows(path):
    database = db.connect(path)
    try:
        return list(database.query("SELECT * FROM decisions ORDER BY id"))
    finally:
        database.conn.close()


def item_row(path, item_id):
    database = db.connect(path)
    try:
        return next(database.query("SELECT * FROM items WHERE id = ?", [item_id]))
    finally:
        database.conn.close()


def test_anonymous_is_redirected_to_login(shared_app):  # reads only
    app, _, info = shared_app
    client = app.test_client()
    for path in ("/queue", f"/items/{info['items']['high']}"):
        response = client.get(path)
        assert response.status_code in (302, 303)
        assert "/login" in response.headers["Location"]
    assert client.get("/").headers["Location"].endswith("/queue")


def test_wrong_password_is_refused(shared_app):  # reads only
    app, _, _ = shared_app
    client = app.test_client()
    response = helpers.login(client, "mod", "wrong password")
    assert response.status_code == 401
    assert client.get("/queue").status_code in (302, 303)


def test_login_then_queue_lists_flagged_items_by_score(shared_app):  # reads only
    app, _, info = shared_app
    client = app.test_client()
    assert helpers.login(client, "mod").status_code in (302, 303)
    page = client.get("/queue").get_data(as_text=True)
    titles = ["Tin giả về vắc-xin", "Đồn đoán giá xăng", "Fake cure claims", "Cảnh báo lừa đảo"]
    positions = [page.index(t) for t in titles]
    assert positions == sorted(positions), "queue not ordered by score"
    assert "Thời tiết Nghệ An" not in page  # status new: not in the queue


def test_login_next_does_not_open_redirect(shared_app):  # reads only
    app, _, _ = shared_app
    client = app.test_client()
    response = client.post("/login", data={"name": "mod", "password": helpers.PASSWORD,
                                           "next": "//evil.example/x"})
    assert response.headers["Location"].endswith("/queue")


def test_item_page_shows_metadata_in_local_time(shared_app):  # reads only
    app, _, info = shared_app
    client = app.test_client()
    helpers.login(client, "ana")
    page = client.get(f"/items/{info['items']['high']}").get_data(as_text=True)
    assert "Nội dung sai sự thật về vắc-xin." in page
    assert "Báo Thanh Hóa" in page
    assert "20/11/2026 08:00" in page  # 01:00Z shown in Asia/Ho_Chi_Minh, day/month/year for a Vietnamese reader
    assert "<li><mark>tin giả</mark></li><li><mark>chia sẻ</mark></li>" in page  # old-format terms, no share
    assert "lời đồn" in page and "<b>uống nước muối</b>" not in page  # watchlist hit, escaped
    assert 'href="https://example.vn/bai/1"' in page
    assert client.get("/items/999999").status_code == 404


def test_decide_records_user_time_and_statuses(setup):
    app, path, info = setup
    client = app.test_client()
    helpers.login(client, "mod")
    item_id = info["items"]["high"]
    response = client.post(f"/items/{item_id}/decide",
                           data={"action": "confirm_misinformation", "note": "đã kiểm chứng", "version": "1"})
    assert response.status_code in (302, 303)
    rows = decision_rows(path)
    assert len(rows) == 1
    row = rows[0]
    assert (row["item_id"], row["user_id"], row["old_status"], row["new_status"], row["note"]) == \
        (item_id, info["users"]["mod"], "flagged", "confirmed", "đã kiểm chứng")
    assert row["created_at"].endswith("Z")
    assert item_row(path, item_id)["status"] == "confirmed"
    assert "Tin giả về vắc-xin" not in client.get("/queue").get_data(as_text=True)
    history = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert "đã kiểm chứng" in history and "mod" in history


def test_stale_version_gets_409_and_overwrites_nothing(setup):
    app, path, info = setup
    first, second = app.test_client(), app.test_client()
    helpers.login(first, "mod")
    helpers.login(second, "mod2")
    item_id = info["items"]["mid"]
    assert first.post(f"/items/{item_id}/decide", data={"action": "dismiss", "note": "", "version": "1"}).status_code in (302, 303)
    response = second.post(f"/items/{item_id}/decide",
                           data={"action": "confirm_misinformation", "note": "", "version": "1"})
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    # "already decided by mod at <local time>" — names the winner and when, in Asia/Ho_Chi_Minh.
    assert re.search(r"\bmod\b\D+\d{2}/\d{2}/\d{4} \d{2}:\d{2}", body), body
    assert len(decision_rows(path)) == 1
    assert item_row(path, item_id)["status"] == "dismissed"


def test_note_required_for_escalate(setup):
    app, path, info = setup
    client = app.test_client()
    helpers.login(client, "mod")
    response = client.post(f"/items/{info['items']['low']}/decide", data={"action": "escalate", "version": "1"})
    assert response.status_code == 400
    assert decision_rows(path) == []


def test_unknown_action_rejected(setup):
    app, path, info = setup
    client = app.test_client()
    helpers.login(client, "mod")
    response = client.post(f"/items/{info['items']['low']}/decide", data={"action": "delete", "version": "1"})
    assert response.status_code == 400
    assert decision_rows(path) == []


def test_analyst_cannot_decide(shared_app):  # reads only: the decision is refused
    app, path, info = shared_app
    client = app.test_client()
    helpers.login(client, "ana")
    assert client.get("/queue").status_code == 200
    response = client.post(f"/items/{info['items']['high']}/decide", data={"action": "dismiss", "version": "1"})
    assert response.status_code == 403
    assert decision_rows(path) == []


def test_csrf_rejected_without_token(world):
    path, info = world
    app = helpers.make_app(path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    # Even the login form needs the token.
    assert helpers.login(client, "mod").status_code == 400
    token = helpers.csrf_token(client, "/login")
    response = client.post("/login", data={"name": "mod", "password": helpers.PASSWORD, "csrf_token": token})
    assert response.status_code in (302, 303)
    item_id = info["items"]["high"]
    refused = client.post(f"/items/{item_id}/decide", data={"action": "dismiss", "version": "1"})
    assert refused.status_code == 400
    assert decision_rows(path) == []
    token = helpers.csrf_token(client, f"/items/{item_id}")
    accepted = client.post(f"/items/{item_id}/decide", data={"action": "dismiss", "version": "1", "csrf_token": token})
    assert accepted.status_code in (302, 303)
    assert len(decision_rows(path)) == 1


def test_health_reports_counts_and_heartbeat(setup):
    app, path, _ = setup
    client = app.test_client()
    assert client.get("/health").get_json() == {"status": "ok", "reasons": []}  # anonymous: the status only
    helpers.login(client, "adm")
    body = client.get("/health").get_json()
    assert body["ok"] is True and body["database"] is True
    assert body["scheduler_heartbeat_age"] is None
    assert body["items"] == {"flagged": 4, "new": 1}
    database = db.connect(path)
    database.conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES ('scheduler_heartbeat', ?, ?)",
                          ("2020-01-01T00:00:00Z", db.utcnow()))
    database.conn.close()
    age = client.get("/health").get_json()["scheduler_heartbeat_age"]
    assert age > 86400 * 365


def test_health_reports_unreachable_database(tmp_path):
    path = tmp_path / "gone.db"
    app = helpers.make_app(path, as_deployed=True, SECRET_KEY="x")
    path.unlink()
    (tmp_path / "gone.db").mkdir()  # a directory where the file was: cannot be opened
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "reasons": ["database unreachable"]}


def test_logout_needs_post(setup):
    app, _, _ = setup
    client = app.test_client()
    helpers.login(client, "mod")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code in (302, 303)
    assert client.get("/queue").status_code in (302, 303)


def test_a_decision_with_the_audit_key_missing_is_refused_with_a_message_not_a_500(setup):
    """Once decisions are signed, a lost key pauses deciding (a new key would hide tampering): staff get a
    503 saying nothing was saved, the item keeps its status, and the API answers in JSON."""
    import db.keys

    app, path, info = setup
    client = app.test_client()
    helpers.login(client, "mod")
    first = client.post(f"/items/{info['items']['high']}/decide", data={"action": "dismiss", "note": "", "version": "1"})
    assert first.status_code in (302, 303)
    Path(f"{path}.audit-key").unlink()
    db.keys._cache.clear()  # as a freshly started service
    response = client.post(f"/items/{info['items']['mid']}/decide",
                           data={"action": "confirm_misinformation", "note": "x", "version": "1"})
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "Chưa lưu gì" in page and "monitor audit verify" in page  # Vietnamese, the default language
    assert item_row(path, info["items"]["mid"])["status"] == "flagged"
    assert len(decision_rows(path)) == 1
