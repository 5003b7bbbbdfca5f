"""Admin Users page: create, change role, (de)activate, reset password, the audit trail, and the guards
(no self-lock-out, never zero active admins, CSRF, admin-only)."""

from __future__ import annotations

import re
import sqlite3

import pytest

import db
import db.tokens
import db.users
from tests import helpers

NEW_PASSWORD = "mật khẩu mới 2026"


@pytest.fixture()
def env(world):
    path, info = world
    return helpers.make_app(path), path, info


def client_for(app, name, password=helpers.PASSWORD):
    client = app.test_client()
    assert helpers.login(client, name, password).status_code in (302, 303)
    return client


def user_row(path, name) -> dict | None:
    database = db.connect(path)
    try:
        return db.users.find_user(database, name)
    finally:
        database.conn.close()


def changes(path) -> list[dict]:
    database = db.connect(path)
    try:
        return list(reversed(db.users.recent_changes(database)))
    finally:
        database.conn.close()


def test_list_is_linked_from_admin_navigation_and_shows_every_user(env):
    app, _, _ = env
    adm = client_for(app, "adm")
    queue = adm.get("/queue").get_data(as_text=True)
    assert 'href="/admin/users"' in queue
    assert 'href="/admin/users"' not in client_for(app, "mod").get("/queue").get_data(as_text=True)
    page = adm.get("/admin/users").get_data(as_text=True)
    assert page.count('class="user-row"') == len(helpers.USERS)
    assert "<h1>Người dùng</h1>" in page
    rows = re.findall(r'<tr class="user-row" id="user-\d+"><td>([^<(]+?)(?: \([^)]*\))?</td><td>([^<]+)</td>', page)
    vietnamese_roles = {"moderator": "kiểm duyệt viên", "analyst": "phân tích viên", "admin": "quản trị viên"}
    assert sorted(rows) == sorted((name, vietnamese_roles[role]) for name, role in helpers.USERS.items())
    assert "password_hash" not in page and "pbkdf2" not in page and "scrypt" not in page


def test_create_user_then_they_can_log_in_and_it_is_recorded(env):
    app, path, _ = env
    adm = client_for(app, "adm")
    response = adm.post("/admin/users", data={"name": "Nguyễn Văn An", "role": "analyst", "password": NEW_PASSWORD,
                                              "password2": NEW_PASSWORD})
    assert response.status_code == 303
    row = user_row(path, "Nguyễn Văn An")
    assert row["role"] == "analyst" and row["active"] == 1 and row["password_hash"] != NEW_PASSWORD
    assert client_for(app, "Nguyễn Văn An", NEW_PASSWORD).get("/queue").status_code == 200
    trail = changes(path)
    assert [(c["actor_name"], c["target_name"], c["change"], c["new_value"]) for c in trail] == \
        [("adm", "Nguyễn Văn An", "created", "analyst")]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", trail[0]["changed_at"])
    assert "Nguyễn Văn An" in adm.get("/admin/users").get_data(as_text=True).split('id="user-changes"')[1]


@pytest.mark.parametrize(("form", "message"), [
    ({"name": "mod", "role": "moderator", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}, "đã tồn tại"),
    ({"name": "moi", "role": "root", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}, "Vai trò không hợp lệ"),
    ({"name": "moi", "role": "moderator", "password": "ngan", "password2": "ngan"}, "ít nhất 8 ký tự"),
    ({"name": "moi", "role": "moderator", "password": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}, "không khớp"),
    ({"name": "  ", "role": "moderator", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}, "Hãy nhập tên"),
])
def test_create_refuses_bad_input_with_a_clear_message_and_writes_nothing(env, form, message):
    app, path, _ = env
    database = db.connect(path)
    before = database.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
    database.conn.close()
    response = client_for(app, "adm").post("/admin/users", data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert NEW_PASSWORD not in page  # passwords are never echoed back
    database = db.connect(path)
    assert database.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == before
    database.conn.close()
    assert changes(path) == []
    if form["name"] == "mod":
        assert user_row(path, "mod")["role"] == "moderator"  # not overwritten


def test_change_role_takes_effect_at_the_next_request(env):
    app, path, info = env
    mod = client_for(app, "mod")
    assert mod.get("/admin/audit").status_code == 403
    adm = client_for(app, "adm")
    assert adm.post(f"/admin/users/{info['users']['mod']}", data={"action": "role", "role": "admin"}).status_code == 303
    assert user_row(path, "mod")["role"] == "admin"
    assert mod.get("/admin/audit").status_code == 200
    assert adm.post(f"/admin/users/{info['users']['mod']}", data={"action": "role", "role": "analyst"}).status_code == 303
    assert mod.get("/admin/audit").status_code == 403
    assert [(c["change"], c["old_value"], c["new_value"]) for c in changes(path)] == \
        [("role", "moderator", "admin"), ("role", "admin", "analyst")]
    response = adm.post(f"/admin/users/{info['users']['mod']}", data={"action": "role", "role": "root"})
    assert response.status_code == 400 and "Vai trò không hợp lệ" in response.get_data(as_text=True)
    assert user_row(path, "mod")["role"] == "analyst"


def test_deactivated_user_loses_session_token_and_login_then_reactivation(env):
    app, path, info = env
    database = db.connect(path)
    token = db.tokens.create_token(database, info["users"]["mod"], "t")
    database.conn.close()
    mod = client_for(app, "mod")
    assert mod.get("/queue").status_code == 200
    assert app.test_client().get("/api/v1/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    adm = client_for(app, "adm")
    assert adm.post(f"/admin/users/{info['users']['mod']}", data={"action": "deactivate"}).status_code == 303
    assert user_row(path, "mod")["active"] == 0
    stale = mod.get("/queue")
    assert stale.status_code == 302 and "/login" in stale.headers["Location"]
    assert app.test_client().get("/api/v1/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert helpers.login(app.test_client(), "mod").status_code == 401
    assert "không (đã vô hiệu hóa)" in adm.get("/admin/users").get_data(as_text=True)
    assert adm.post(f"/admin/users/{info['users']['mod']}", data={"action": "reactivate"}).status_code == 303
    assert client_for(app, "mod").get("/queue").status_code == 200
    assert [c["change"] for c in changes(path)] == ["deactivated", "reactivated"]


def test_reset_password_replaces_the_old_one_and_is_not_recorded_in_clear(env):
    app, path, info = env
    adm = client_for(app, "adm")
    target = f"/admin/users/{info['users']['ana']}"
    short = adm.post(target, data={"action": "password", "password": "ngan", "password2": "ngan"})
    assert short.status_code == 400 and "ít nhất 8 ký tự" in short.get_data(as_text=True)
    differ = adm.post(target, data={"action": "password", "password": NEW_PASSWORD, "password2": "khác hẳn 123"})
    assert differ.status_code == 400 and "không khớp" in differ.get_data(as_text=True)
    assert helpers.login(app.test_client(), "ana").status_code in (302, 303)  # unchanged so far
    ana_before = client_for(app, "ana")
    assert ana_before.get("/queue").status_code == 200
    assert adm.post(target, data={"action": "password", "password": NEW_PASSWORD,
                                  "password2": NEW_PASSWORD}).status_code == 303
    assert helpers.login(app.test_client(), "ana").status_code == 401
    # the session opened with the old password has ended
    stale = ana_before.get("/queue")
    assert stale.status_code == 302 and "/login" in stale.headers["Location"]
    assert client_for(app, "ana", NEW_PASSWORD).get("/queue").status_code == 200
    trail = changes(path)
    assert [(c["change"], c["old_value"], c["new_value"]) for c in trail] == [("password_reset", "", "")]
    database = db.connect(path)
    dump = "\n".join(database.conn.iterdump())
    database.conn.close()
    assert NEW_PASSWORD not in dump


def test_admin_resetting_their_own_password_stays_logged_in_and_other_sessions_end(env):
    app, path, info = env
    adm, other = client_for(app, "adm"), client_for(app, "adm")
    me = f"/admin/users/{info['users']['adm']}"
    assert adm.post(me, data={"action": "password", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 303
    assert adm.get("/admin/users").status_code == 200
    assert other.get("/admin/users").status_code == 302


def test_admin_cannot_lock_themselves_out_or_remove_the_last_admin(env):
    app, path, info = env
    adm = client_for(app, "adm")
    me = f"/admin/users/{info['users']['adm']}"
    response = adm.post(me, data={"action": "deactivate"})
    assert response.status_code == 400 and "không thể tự vô hiệu hóa" in response.get_data(as_text=True)
    response = adm.post(me, data={"action": "role", "role": "moderator"})
    assert response.status_code == 400 and "không thể tự đổi vai trò" in response.get_data(as_text=True)
    row = user_row(path, "adm")
    assert row["role"] == "admin" and row["active"] == 1
    # The last active admin is protected whoever asks (here the CLI, with no acting user).
    database = db.connect(path)
    with pytest.raises(db.users.UserChangeRefused) as refused:
        db.users.set_active(database, None, info["users"]["adm"], False)
    assert refused.value.code == "last_admin"
    with pytest.raises(db.users.UserChangeRefused):
        db.users.set_role(database, None, info["users"]["adm"], "analyst")
    database.conn.close()
    assert changes(path) == []
    # With a second admin, one admin may demote the other — but then that one is the last.
    assert adm.post(f"/admin/users/{info['users']['mod2']}", data={"action": "role", "role": "admin"}).status_code == 303
    mod2 = client_for(app, "mod2")
    assert mod2.post(me, data={"action": "role", "role": "moderator"}).status_code == 303
    assert user_row(path, "adm")["role"] == "moderator"
    database = db.connect(path)
    with pytest.raises(db.users.UserChangeRefused) as refused:
        db.users.set_active(database, None, info["users"]["mod2"], False)
    assert refused.value.code == "last_admin"
    database.conn.close()
    assert user_row(path, "mod2")["active"] == 1


def test_user_changes_are_append_only(env):
    app, path, info = env
    client_for(app, "adm").post(f"/admin/users/{info['users']['ana']}", data={"action": "deactivate"})
    database = db.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        database.conn.execute("UPDATE user_changes SET actor_name = 'x'")
    with pytest.raises(sqlite3.IntegrityError):
        database.conn.execute("DELETE FROM user_changes")
    database.conn.close()
    assert len(changes(path)) == 1


def test_unknown_user_and_unknown_change(env):
    app, _, info = env
    adm = client_for(app, "adm")
    assert adm.post("/admin/users/99999", data={"action": "deactivate"}).status_code == 404
    assert adm.post(f"/admin/users/{info['users']['ana']}", data={"action": "drop"}).status_code == 400


def test_every_change_needs_a_csrf_token(world):
    path, info = world
    app = helpers.make_app(path, WTF_CSRF_ENABLED=True)
    adm = app.test_client()
    token = helpers.csrf_token(adm, "/login")
    assert adm.post("/login", data={"name": "adm", "password": helpers.PASSWORD, "csrf_token": token}).status_code \
        in (302, 303)
    form = {"name": "moi", "role": "moderator", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    assert adm.post("/admin/users", data=form).status_code == 400
    ana = f"/admin/users/{info['users']['ana']}"
    assert adm.post(ana, data={"action": "deactivate"}).status_code == 400
    assert user_row(path, "moi") is None and user_row(path, "ana")["active"] == 1
    token = helpers.csrf_token(adm, "/admin/users")
    assert adm.post("/admin/users", data={**form, "csrf_token": token}).status_code == 303
    assert adm.post(ana, data={"action": "deactivate", "csrf_token": token}).status_code == 303
    assert user_row(path, "moi") is not None and user_row(path, "ana")["active"] == 0


def test_only_admins_reach_the_users_page(env):
    app, path, info = env
    target = f"/admin/users/{info['users']['mod2']}"
    for name in ("mod", "ana"):
        client = client_for(app, name)
        assert client.get("/admin/users").status_code == 403
        assert client.post("/admin/users", data={"name": "x", "role": "admin", "password": NEW_PASSWORD,
                                                 "password2": NEW_PASSWORD}).status_code == 403
        assert client.post(target, data={"action": "role", "role": "admin"}).status_code == 403
    for method, url in (("GET", "/admin/users"), ("POST", "/admin/users"), ("POST", target)):
        response = app.test_client().open(url, method=method, data={"action": "deactivate"})
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert user_row(path, "x") is None
    row = user_row(path, "mod2")
    assert row["role"] == "moderator" and row["active"] == 1
