"""The escalation inbox (issue 12 item 2): whom an escalation goes to by default, the addressee's count
and inbox, what closes an escalation, and the escalated queue showing target and note."""

from __future__ import annotations

import re

import pytest

import db
import db.escalations
import db.queue
import db.tokens
from db.decisions import undo
from tests import helpers


@pytest.fixture()
def env(world):
    path, info = world
    return helpers.make_app(path), path, info


def _client(app, name):
    client = app.test_client()
    helpers.login(client, name)
    return client


def _escalate(client, item_id: int, target: str | None, note: str = "xem giúp", version: int = 1):
    data = {"action": "escalate", "version": str(version), "note": note, "next": "/queue"}
    if target is not None:
        data["target"] = target
    return client.post(f"/items/{item_id}/decide", data=data)


def _badge(client) -> int:
    match = re.search(r'id="inbox-count"[^>]*>(\d+)<', client.get("/queue").get_data(as_text=True))
    return int(match.group(1)) if match else 0


def test_the_default_target_is_the_admins_never_the_senders_role(env):
    app, path, info = env
    mod, adm = _client(app, "mod"), _client(app, "adm")
    high, mid = info["items"]["high"], info["items"]["mid"]
    assert _escalate(mod, high, None).status_code == 303
    database = db.connect(path)
    assert database.conn.execute("SELECT target_role, target_user_id FROM escalations").fetchall() == [("admin", None)]
    # The moderator's form preselects the admins; the admin's names nobody, and the server asks.
    page = mod.get("/queue").get_data(as_text=True)
    assert re.search(r'id="bulk-target"><option value="role:admin">', page)
    page = adm.get("/queue").get_data(as_text=True)
    assert re.search(r'id="bulk-target"><option value="">', page)
    assert f'value="user:{info["users"]["adm"]}"' not in page  # nobody escalates to themselves
    response = _escalate(adm, mid, None)
    assert response.status_code == 400
    assert "Hãy chọn" in response.get_data(as_text=True)
    assert _escalate(adm, mid, f"user:{info['users']['mod2']}").status_code == 303


def test_the_api_escalates_to_the_admins_by_default_and_an_admin_must_say_whom(env):
    app, path, info = env
    database = db.connect(path)
    tokens = {name: db.tokens.create_token(database, info["users"][name], "t") for name in ("mod", "adm")}
    high, mid = info["items"]["high"], info["items"]["mid"]

    def post(name, item_id, **body):
        return app.test_client().post(f"/api/v1/items/{item_id}/decisions", headers={
            "Authorization": f"Bearer {tokens[name]}"}, json={"action": "escalate", "version": 1, "note": "x", **body})

    assert post("mod", high).status_code == 201
    assert post("adm", mid).status_code == 400
    assert post("adm", mid, target_user="mod2").status_code == 201
    assert database.conn.execute("SELECT target_role, target_user_name FROM escalations ORDER BY decision_id"
                                 ).fetchall() == [("admin", None), (None, "mod2")]


def test_the_addressee_sees_a_count_and_the_note_and_sender_in_the_inbox(env):
    app, path, info = env
    mod, mod2, ana, adm = (_client(app, name) for name in ("mod", "mod2", "ana", "adm"))
    high, mid = info["items"]["high"], info["items"]["mid"]
    _escalate(mod, high, f"user:{info['users']['mod2']}", note="tin này cần kiểm tra lại")
    _escalate(mod, mid, "role:admin", note="gửi lãnh đạo")
    assert (_badge(mod), _badge(mod2), _badge(ana), _badge(adm)) == (0, 1, 0, 1)
    inbox = mod2.get("/inbox").get_data(as_text=True)
    assert "tin này cần kiểm tra lại" in inbox and re.search(r'class="sender">mod<', inbox)
    assert "gửi lãnh đạo" not in inbox
    assert "gửi lãnh đạo" in adm.get("/inbox").get_data(as_text=True)
    assert 'id="inbox-empty"' in ana.get("/inbox").get_data(as_text=True)


def test_a_decision_or_a_reply_closes_an_escalation(env):
    app, path, info = env
    mod, mod2, adm, ana = (_client(app, name) for name in ("mod", "mod2", "adm", "ana"))
    high, mid, low = info["items"]["high"], info["items"]["mid"], info["items"]["low"]
    _escalate(mod, high, f"user:{info['users']['mod2']}")
    _escalate(mod, mid, f"user:{info['users']['mod2']}")
    _escalate(mod, low, f"user:{info['users']['mod2']}")
    assert _badge(mod2) == 3
    # A decision on the item closes it.
    assert mod2.post(f"/items/{high}/decide", data={"action": "dismiss", "version": "2"}).status_code == 303
    assert _badge(mod2) == 2
    database = db.connect(path)
    decision = database.conn.execute("SELECT id FROM decisions WHERE item_id = ?", (mid,)).fetchone()[0]
    # Only the addressee (or an admin) replies, with words; a reply closes it once.
    assert ana.post(f"/inbox/{decision}/reply", data={"reply": "không phải việc tôi"}).status_code == 403
    assert mod2.post(f"/inbox/{decision}/reply", data={"reply": "  "}).status_code == 400
    assert mod2.post(f"/inbox/{decision}/reply", data={"reply": "đã chuyển Sở TTTT"}).status_code == 303
    assert _badge(mod2) == 1
    assert not db.escalations.reply(database, decision, info["users"]["adm"], "again")
    assert mod2.post("/inbox/99999/reply", data={"reply": "x"}).status_code == 404
    page = mod.get(f"/items/{mid}").get_data(as_text=True)
    assert "đã chuyển Sở TTTT" in page and "mod2" in page  # the sender reads the reply on the item
    assert adm.post(f"/inbox/{decision}/reply", data={"reply": "x"}).status_code == 303  # already closed: said so
    assert db.decisions.verify_chain(database) == []


def test_an_undone_escalation_leaves_the_inbox(env):
    app, path, info = env
    mod, mod2 = _client(app, "mod"), _client(app, "mod2")
    _escalate(mod, info["items"]["high"], f"user:{info['users']['mod2']}")
    assert _badge(mod2) == 1
    database = db.connect(path)
    decision = database.conn.execute("SELECT MAX(id) FROM decisions").fetchone()[0]
    undo(database, decision_id=decision, user_id=info["users"]["mod"])
    assert _badge(mod2) == 0


def test_the_escalated_queue_shows_target_and_note(env):
    app, path, info = env
    mod = _client(app, "mod")
    _escalate(mod, info["items"]["high"], f"user:{info['users']['mod2']}", note="nhờ chị Lan xem")
    _escalate(mod, info["items"]["mid"], "role:admin", note="cần lãnh đạo")
    page = mod.get("/queue?status=escalated").get_data(as_text=True)
    assert re.search(r"Chuyển cấp bởi mod cho mod2:\s*<q class=\"escalation-note\">nhờ chị Lan xem</q>", page), page
    assert re.search(r"cho quản trị viên:\s*<q class=\"escalation-note\">cần lãnh đạo</q>", page)
    assert 'class="escalation"' not in mod.get("/queue").get_data(as_text=True)
