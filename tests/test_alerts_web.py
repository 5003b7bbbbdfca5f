"""The alerts pages (issue 11 item 4): each user's own subscription (CSRF, validation, roles) and the alerts
log (what was sent, to whom, failures; paginated; bad parameters are 400; moderators re-send a failed one)."""

from __future__ import annotations

import db
from db import alerts as store
from monitor.config import AlertSettings, Settings, SmtpSettings
from tests import helpers

SETTINGS = Settings(alerts=AlertSettings(telegram_token="1:abc"),
                    smtp=SmtpSettings(host="127.0.0.1", sender="bcd@thanhhoa.example.vn", port=2525))


def client_for(app, name):
    client = app.test_client()
    assert helpers.login(client, name).status_code in (302, 303)
    return client


def test_a_user_saves_changes_and_removes_their_own_subscription(world):
    path, info = world
    app = helpers.make_app(path, SETTINGS=SETTINGS)
    client = client_for(app, "ana")
    page = client.get("/alerts/subscriptions")
    assert page.status_code == 200 and "Đăng ký nhận cảnh báo của tôi" in page.get_data(as_text=True)
    answer = client.post("/alerts/subscriptions", data={
        "kind": "email", "address": "Ana@ThanhHoa.example.vn", "events": ["jurisdiction", "claim_match", "bogus"],
        "places": "p:38, phường Đông Tiến; Thanh Hóa", "enabled": "1"})
    assert answer.status_code == 303
    database = db.connect(path)
    saved = store.subscription(database, info["users"]["ana"])
    assert saved == {"user_id": info["users"]["ana"], "kind": "email", "address": "ana@thanhhoa.example.vn",
                     "events": ["claim_match", "jurisdiction"], "places": ["p:38", "c:15853"], "enabled": True,
                     "updated_at": saved["updated_at"]}
    assert store.subscription(database, info["users"]["mod"]) is None  # one's own only
    shown = client.get("/alerts/subscriptions").get_data(as_text=True)
    # The places are shown by name, not as codes, and the names read back as the same units.
    assert 'value="ana@thanhhoa.example.vn"' in shown and 'value="Thanh Hóa, Phường Đông Tiến"' in shown
    assert "p:38" not in shown and "c:15853" not in shown
    assert client.post("/alerts/subscriptions", data={"kind": "email", "address": "ana@thanhhoa.example.vn",
                       "events": ["claim_match"], "places": "Thanh Hóa, Phường Đông Tiến", "enabled": "1"}).status_code == 303
    assert store.subscription(database, info["users"]["ana"])["places"] == ["p:38", "c:15853"]
    assert client.post("/alerts/subscriptions", data={"action": "delete"}).status_code == 303
    assert store.subscription(database, info["users"]["ana"]) is None
    database.conn.close()


def test_bad_subscriptions_are_refused_with_a_reason(world):
    path, _info = world
    client = client_for(helpers.make_app(path, SETTINGS=SETTINGS), "mod")
    cases = [
        ({"kind": "pigeon", "address": "x", "events": ["spike"]}, "Hãy chọn cách nhận cảnh báo"),
        ({"kind": "email", "address": "a@b.vn"}, "ít nhất một loại"),
        ({"kind": "email", "address": "not an address", "events": ["spike"]}, "không phải là địa chỉ"),
        ({"kind": "telegram", "address": "12ab", "events": ["spike"]}, "Mã cuộc trò chuyện"),
        ({"kind": "webhook", "address": "http://127.0.0.1:8080/x", "events": ["spike"]}, "mạng nội bộ"),
        ({"kind": "webhook", "address": "ftp://hooks.example.vn/x", "events": ["spike"]}, "http://"),
        ({"kind": "email", "address": "a@b.vn", "events": ["spike"], "places": "Thanh Hóa, Atlantis"}, "Atlantis"),
        ({"kind": "email", "address": "a@b.vn", "events": ["spike"], "places": "p:38, p:999"}, "p:999"),
        ({"kind": "email", "address": "a@b.vn", "events": ["spike"], "places": "c:0"}, "c:0"),
    ]
    for form, reason in cases:
        answer = client.post("/alerts/subscriptions", data=form)
        assert answer.status_code == 400 and reason in answer.get_data(as_text=True), form
    assert client.post("/alerts/subscriptions", data={
        "kind": "webhook", "address": "https://hooks.example.vn/canh-bao", "events": ["spike"]}).status_code == 303


def test_without_smtp_or_a_bot_those_addresses_are_refused(world):
    path, _info = world
    client = client_for(helpers.make_app(path, SETTINGS=Settings()), "mod")
    for kind, address in (("email", "a@thanhhoa.example.vn"), ("telegram", "-100123")):
        answer = client.post("/alerts/subscriptions", data={"kind": kind, "address": address, "events": ["spike"]})
        assert answer.status_code == 400


def test_the_subscription_form_needs_a_csrf_token(world):
    path, _info = world
    app = helpers.make_app(path, SETTINGS=SETTINGS, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = helpers.csrf_token(client, "/login")
    client.post("/login", data={"name": "mod", "password": helpers.PASSWORD, "csrf_token": token})
    form = {"kind": "email", "address": "mod@thanhhoa.example.vn", "events": ["spike"]}
    assert client.post("/alerts/subscriptions", data=form).status_code == 400
    token = helpers.csrf_token(client, "/alerts/subscriptions")
    assert client.post("/alerts/subscriptions", data={**form, "csrf_token": token}).status_code == 303


def _alerts(path, info, count: int) -> list[int]:
    database = db.connect(path)
    ids = []
    with db.transaction(database) as conn:
        for n in range(count):
            ids.append(store.add_alert(conn, story=1, item_id=info["items"]["high"], events=["claim_match"],
                                       reasons={}, channel="nhom-telegram" if n % 2 else None,
                                       user_id=None if n % 2 else info["users"]["ana"], digest=False,
                                       next_attempt_at=db.utcnow(), now=db.utcnow()))
    store.claim(database, [ids[0]], db.utcnow())
    store.mark_failed(database, [ids[0]], "tgram://…: 401 Unauthorized <b>", None, db.utcnow())
    database.conn.close()
    return ids


def test_the_alerts_log_lists_recipients_status_and_failures(world):
    path, info = world
    ids = _alerts(path, info, 55)
    app = helpers.make_app(path)
    analyst = client_for(app, "ana")
    first = analyst.get("/alerts/").get_data(as_text=True)
    assert "Nhật ký cảnh báo" in first and "Trang 1/2" in first and first.count('class="alert-row') == 50
    assert "nhom-telegram" in first and ">ana<" in first
    assert 'href="/alerts/?page=2"' in first
    last = analyst.get("/alerts/?page=2").get_data(as_text=True)
    assert last.count('class="alert-row') == 5 and f'data-alert-id="{ids[0]}"' in last
    assert "401 Unauthorized &lt;b&gt;" in last  # escaped
    assert "Gửi lại" not in last  # an analyst does not re-send
    failed = analyst.get("/alerts/?status=failed").get_data(as_text=True)
    assert failed.count('class="alert-row') == 1
    for bad in ("page=0", "page=abc", "page=99999999999999999999", "status=lost"):
        assert analyst.get(f"/alerts/?{bad}").status_code == 400, bad
    moderator = client_for(app, "mod")
    other = moderator.get("/alerts/?page=2").get_data(as_text=True)
    assert "Gửi lại" in other
    # ana's own alert's error may quote her address and her server's answer: not for another moderator
    assert "401 Unauthorized" not in other and "địa chỉ của người dùng khác" in other
    assert moderator.post(f"/alerts/{ids[0]}/retry").status_code == 303
    database = db.connect(path)
    assert store.get(database, ids[0])["status"] == "pending"
    database.conn.close()
    assert moderator.post("/alerts/999999/retry").status_code == 404
    assert 'id="nav-alerts"' in first
