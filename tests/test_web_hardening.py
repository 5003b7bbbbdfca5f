"""Issue 15 item 10 (web hardening): a watchlist category name is escaped, unknown users cost a password
hash, a cookie saved before /logout stops working, and failed logins lock out the one user (with a visible
wait), not everyone behind the same address."""

from __future__ import annotations

import re

import pytest

import db
import db.users
from tests import helpers

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture()
def setup(world):
    return world


def app_for(path, **config):
    return helpers.make_app(path, **config)


def test_watchlist_category_name_is_escaped_on_the_item_page(setup):
    path, info = setup
    database = db.connect(path)
    explanation = {"terms": {EVIL: [{"term": "chia sẻ", "contribution": 0.2}]},
                   "rules": [{"category": EVIL, "name": "luật", "rule": "x", "match": "chia sẻ"}]}
    item_id = helpers.make_item(database, info["sources"]["thanhhoa"], 40, title="Tin", text="chia sẻ gấp",
                                 explanation=explanation)
    database.conn.close()
    client = app_for(path).test_client()
    helpers.login(client, "mod")
    response = client.get(f"/items/{item_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_category_name_with_a_percent_sign_renders(setup):
    """`_()` in a template formats its argument: a category such as '100% sai' must not break the page."""
    path, info = setup
    database = db.connect(path)
    explanation = {"terms": {}, "rules": [{"category": "100%(x)s sai", "name": "luật", "match": "sai"}]}
    item_id = helpers.make_item(database, info["sources"]["thanhhoa"], 41, title="Tin", text="sai",
                                 explanation=explanation)
    database.conn.close()
    client = app_for(path).test_client()
    helpers.login(client, "mod")
    response = client.get(f"/items/{item_id}")
    assert response.status_code == 200
    assert "100%(x)s sai" in response.get_data(as_text=True)


def test_unknown_user_costs_a_password_hash(setup, monkeypatch):
    path, _ = setup
    calls = []
    real = db.users.check_password_hash

    def spy(stored, password):
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(db.users, "check_password_hash", spy)
    database = db.connect(path)
    try:
        assert db.users.authenticate(database, "no-such-user", "whatever password") is None
        assert len(calls) == 1 and calls[0].startswith(("scrypt:", "pbkdf2:"))
        # The dummy hash never matches, whatever password is tried.
        assert db.users.authenticate(database, "no-such-user", "") is None
        # A known user with the wrong password costs the same single check.
        calls.clear()
        assert db.users.authenticate(database, "mod", "wrong password") is None
        assert len(calls) == 1
    finally:
        database.conn.close()


def test_production_hashes_passwords_strongly_whatever_the_tests_use(tmp_db, monkeypatch):
    """conftest makes test hashes cheap (pbkdf2, 1,000 rounds); this checks what it replaced: db.users as
    shipped hashes with werkzeug's default, scrypt or pbkdf2 with a production work factor."""
    from werkzeug.security import generate_password_hash

    assert db.users.generate_password_hash("x").startswith("pbkdf2:sha256:1000$")  # the tests' cheap hash
    real = helpers.REAL_GENERATE_PASSWORD_HASH
    assert real is generate_password_hash  # db.users calls werkzeug's own, with no method of its own
    monkeypatch.setattr(db.users, "generate_password_hash", real)
    user_id = db.users.add_user(tmp_db, "real", helpers.PASSWORD, "moderator")
    stored = db.users.get_user(tmp_db, user_id)["password_hash"]
    method, *params = stored.split("$", 1)[0].split(":")
    if method == "scrypt":
        assert int(params[0]) >= 2 ** 14, stored  # N, the CPU/memory cost
    else:
        assert method == "pbkdf2" and int(params[1]) >= 600_000, stored  # iterations (OWASP 2023, sha256)
    assert db.users.authenticate(tmp_db, "real", helpers.PASSWORD)["id"] == user_id


def test_a_cookie_saved_before_logout_no_longer_works(setup):
    path, _ = setup
    app = app_for(path)
    client = app.test_client()
    assert helpers.login(client, "mod").status_code in (302, 303)
    saved = client.get_cookie("session").value
    assert client.get("/queue").status_code == 200
    assert client.post("/logout").status_code in (302, 303)

    replay = app.test_client()
    replay.set_cookie("session", saved)
    response = replay.get("/queue")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # Logging in again works, and that new session is valid.
    assert helpers.login(replay, "mod").status_code in (302, 303)
    assert replay.get("/queue").status_code == 200


def _failures(client, name: str, n: int) -> list[int]:
    return [helpers.login(client, name, "wrong password").status_code for _ in range(n)]


def test_failed_logins_lock_out_that_user_only_with_a_visible_wait(setup):
    path, _ = setup
    app = app_for(path, RATELIMIT_ENABLED=True, LOGIN_LOCKOUT="3 per 10 minutes",
                  RATELIMIT_LOGIN="20 per minute")
    client = app.test_client()
    assert _failures(client, "mod", 3) == [401, 401, 401]
    locked = helpers.login(client, "mod")  # the right password, but the account waits
    page = locked.get_data(as_text=True)
    assert locked.status_code == 429
    match = re.search(r"Thử lại sau (\d+) giây", page)
    assert match, page
    assert 0 < int(match.group(1)) <= 600
    assert int(locked.headers["Retry-After"]) > 0
    # Same client address, another user: not locked out.
    assert helpers.login(app.test_client(), "adm").status_code in (302, 303)
    assert helpers.login(client, "MOD ").status_code == 429  # the name as typed differently is the same user


def test_a_stranger_cannot_lock_a_user_out_of_the_address_they_log_in_from(setup):
    """Hostile pass: 10 wrong passwords per 15 minutes from one address kept 'adm' out everywhere, for as
    long as the attacker liked. An address the user logged in from before keeps its own count."""
    path, _ = setup
    app = app_for(path, RATELIMIT_ENABLED=True, LOGIN_LOCKOUT="3 per 10 minutes", RATELIMIT_LOGIN="50 per minute")
    office = app.test_client()
    office.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    assert helpers.login(office, "adm").status_code in (302, 303)
    office.post("/logout", data={})
    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    assert _failures(stranger, "adm", 4) == [401, 401, 401, 429]
    # Elsewhere (a new machine) the account waits; at the usual address its owner still logs in.
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    assert helpers.login(elsewhere, "adm").status_code == 429
    assert helpers.login(office, "adm").status_code in (302, 303)
    # Guessing from the usual address is still limited, on its own count.
    office.post("/logout", data={})
    assert _failures(office, "adm", 4) == [401, 401, 401, 429]


def test_successful_logins_do_not_use_up_the_address_limit(setup):
    """Colleagues behind one address (an office NAT) log in all day: only failures count per address."""
    path, _ = setup
    app = app_for(path, RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute")
    for name in ("mod", "mod2", "ana", "adm", "mod"):
        assert helpers.login(app.test_client(), name).status_code in (302, 303), name


def test_the_address_limit_still_stops_guessing_across_users(setup):
    path, _ = setup
    app = app_for(path, RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute", LOGIN_LOCKOUT="10 per minute")
    client = app.test_client()
    codes = [helpers.login(client, name, "wrong password").status_code for name in ("mod", "ana", "adm", "mod2")]
    assert codes == [401, 401, 401, 429]
    page = helpers.login(client, "mod2", "wrong password").get_data(as_text=True)
    assert re.search(r"Thử lại sau \d+ giây", page), page
