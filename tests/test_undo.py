"""Undo, and decisions that match their labels (issue 12 item 3); the one keyboard map (item 7).

A decision can be taken back for 30 seconds, by its decider (or an admin), without a note; the undo is
its own signed row in the log, which still verifies. After the window the server refuses, and says why.
The log's tests run on SQLite and PostgreSQL (`any_world`); the web ones on the SQLite world.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

import db
import db.decisions
import db.queue
from db.decisions import UndoRefused, undo, undo_note, verify_chain
from monitor.domain import DECISIONS, Action
from tests import helpers
from web.keymap import KEYMAP, keymap_json, shortcuts_for


@pytest.fixture()
def env(world):
    path, info = world
    return helpers.make_app(path), path, info


def _decide(database, item_id: int, user_id: int, action: str = "dismiss", status: str = "dismissed") -> int:
    version = db.queue.versions_of(database, [item_id])[item_id]
    return db.queue.apply_decision(database, item_id=item_id, user_id=user_id, action=action, new_status=status,
                                   note="", expected_version=version)


def _status(database, item_id: int) -> tuple[str, int]:
    return database.conn.execute("SELECT status, version FROM items WHERE id = ?", (item_id,)).fetchone()


# --- the log --------------------------------------------------------------------------------------

def test_undo_restores_the_status_as_its_own_signed_row(any_world):
    path, info = any_world
    database = db.connect(path)
    high, mod = info["items"]["high"], info["users"]["mod"]
    decision_id = _decide(database, high, mod)
    assert _status(database, high)[0] == "dismissed"
    undone = undo(database, decision_id=decision_id, user_id=mod)
    assert _status(database, high)[0] == "flagged"
    assert (undone.action, undone.old_status, undone.new_status) == ("undo", "dismissed", "flagged")
    assert undone.note == undo_note(decision_id)
    history = db.decisions.history(database, high)
    assert [row["action"] for row in history] == ["dismiss", "undo"]
    assert history[-1]["item_version"] == _status(database, high)[1]
    assert verify_chain(database) == []


def test_undo_is_refused_after_the_window_to_others_and_twice(any_world):
    path, info = any_world
    database = db.connect(path)
    high, mid, mod, mod2 = info["items"]["high"], info["items"]["mid"], info["users"]["mod"], info["users"]["mod2"]
    decision_id = _decide(database, high, mod)
    later = db.to_iso(db.from_iso(db.utcnow()) + timedelta(seconds=30))
    with pytest.raises(UndoRefused) as late:
        undo(database, decision_id=decision_id, user_id=mod, now=later)
    assert late.value.reason == "expired"
    with pytest.raises(UndoRefused) as other:
        undo(database, decision_id=decision_id, user_id=mod2)
    assert other.value.reason == "not_yours"
    assert _status(database, high)[0] == "dismissed"  # nothing was changed by the refusals
    undo(database, decision_id=decision_id, user_id=mod2, may_undo_others=True)  # an admin may
    with pytest.raises(UndoRefused) as again:
        undo(database, decision_id=decision_id, user_id=mod)
    assert again.value.reason == "superseded"
    undo_row = db.decisions.history(database, high)[-1]["id"]
    with pytest.raises(UndoRefused) as of_undo:
        undo(database, decision_id=undo_row, user_id=mod2, may_undo_others=True)
    assert of_undo.value.reason == "is_undo"
    second = _decide(database, mid, mod)
    _decide(database, mid, mod, "reopen", "flagged")
    with pytest.raises(UndoRefused) as superseded:
        undo(database, decision_id=second, user_id=mod)
    assert superseded.value.reason == "superseded"
    with pytest.raises(UndoRefused):
        undo(database, decision_id=10_000, user_id=mod)
    assert verify_chain(database) == []


def test_undo_of_an_escalation_and_of_a_confirmation(any_world):
    path, info = any_world
    database = db.connect(path)
    high, low, mod = info["items"]["high"], info["items"]["low"], info["users"]["mod"]
    version = db.queue.versions_of(database, [high])[high]
    escalation = db.queue.apply_decision(database, item_id=high, user_id=mod, action="escalate", new_status="escalated",
                                         note="xem giúp", expected_version=version, target_role="admin")
    undo(database, decision_id=escalation, user_id=mod)
    confirmation = _decide(database, low, mod, "confirm_harm", "confirmed")
    undo(database, decision_id=confirmation, user_id=mod)
    assert _status(database, high)[0] == "flagged" and _status(database, low)[0] == "flagged"
    assert verify_chain(database) == []


def test_verify_notices_an_undo_that_restores_the_wrong_status(any_world):
    path, info = any_world
    database = db.connect(path)
    high, mod = info["items"]["high"], info["users"]["mod"]
    decision_id = _decide(database, high, mod)
    # Someone holding the key could sign a row claiming to undo, but moving the item elsewhere: the pair
    # check catches what the hash cannot (the row is validly signed).
    version = _status(database, high)[1]
    with db.transaction(database) as conn:
        db.decisions._apply_to_item(conn, high, "confirmed", version)
        db.decisions._record(database, conn, {
            "item_id": high, "item_version": version + 1, "user_id": mod, "action": "undo",
            "old_status": "dismissed", "new_status": "confirmed", "note": undo_note(decision_id),
            "created_at": db.utcnow(), "target_role": None, "target_user_id": None})
    problems = verify_chain(database)
    assert any("does not take back decision" in p for p in problems), problems


def test_decide_refuses_an_unknown_action_and_undo(any_world):
    path, info = any_world
    database = db.connect(path)
    high, mod = info["items"]["high"], info["users"]["mod"]
    for action in ("bogus", "undo"):
        with pytest.raises(db.decisions.DecisionError):
            db.decisions.decide(database, item_id=high, user_id=mod, action=action, new_status="flagged", note="",
                                expected_version=1)
    assert Action.UNDO not in DECISIONS
    with pytest.raises(ValueError):
        Action.UNDO.new_status  # noqa: B018 - the property raises


def test_an_undone_dismissal_teaches_the_model_nothing(any_world):
    from monitor.schedule.retrain import collect_examples

    path, info = any_world
    database = db.connect(path)
    high, mod = info["items"]["high"], info["users"]["mod"]
    undo(database, decision_id=_decide(database, high, mod), user_id=mod)
    assert not [e for e in collect_examples(database) if "vắc-xin" in e["text"]]


# --- the web --------------------------------------------------------------------------------------

def _undo_form(page: str) -> tuple[list[str], str] | None:
    form = re.search(r'<form[^>]*id="undo-form".*?</form>', page, re.S)
    if not form:
        return None
    return re.findall(r'name="decision_id" value="(\d+)"', form.group(0)), form.group(0)


def test_a_decision_offers_undo_and_undo_needs_no_note(env):
    app, path, info = env
    client = app.test_client()
    helpers.login(client, "mod")
    high = info["items"]["high"]
    response = client.post(f"/items/{high}/decide", data={"action": "dismiss", "version": "1", "next": "/queue"},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    offer = _undo_form(page)
    assert offer, "no undo notice after a decision"
    ids, form = offer
    assert len(ids) == 1 and 'id="undo-button"' in form and "Hoàn tác" in form
    assert "Không vi phạm" in page  # the flash names the dismissal by what it means
    response = client.post("/decisions/undo", data={"decision_id": ids, "next": "/queue"}, follow_redirects=True)
    assert response.status_code == 200
    assert _undo_form(response.get_data(as_text=True)) is None  # offered once
    database = db.connect(path)
    assert _status(database, high)[0] == "flagged"
    assert [r["action"] for r in db.decisions.history(database, high)] == ["dismiss", "undo"]
    assert verify_chain(database) == []


def test_bulk_decision_is_undone_as_a_whole(env):
    app, path, info = env
    client = app.test_client()
    helpers.login(client, "mod")
    high, mid = info["items"]["high"], info["items"]["mid"]
    response = client.post("/queue/bulk", data={"item_id": [str(high), str(mid)], "action": "confirm_harm",
                                                f"version_{high}": "1", f"version_{mid}": "1", "next": "/queue"},
                           follow_redirects=True)
    ids, _form = _undo_form(response.get_data(as_text=True))
    assert len(ids) == 2
    client.post("/decisions/undo", data={"decision_id": ids, "next": "/queue"})
    database = db.connect(path)
    assert {_status(database, i)[0] for i in (high, mid)} == {"flagged"}


def test_undo_after_the_window_or_by_another_is_refused_with_a_reason(env, world):
    path, info = world
    high = info["items"]["high"]
    app = helpers.make_app(path, UNDO_SECONDS=0)
    client = app.test_client()
    helpers.login(client, "mod")
    client.post(f"/items/{high}/decide", data={"action": "dismiss", "version": "1", "next": "/queue"})
    database = db.connect(path)
    decision_id = db.decisions.history(database, high)[-1]["id"]
    assert _undo_form(client.get("/queue").get_data(as_text=True)) is None  # the notice is gone after the window
    response = client.post("/decisions/undo", data={"decision_id": str(decision_id)})
    assert response.status_code == 409
    assert "không thể hoàn tác" in response.get_data(as_text=True).lower()
    other = helpers.make_app(path).test_client()
    helpers.login(other, "mod2")
    response = other.post("/decisions/undo", data={"decision_id": str(decision_id)})
    assert response.status_code == 409
    assert _status(database, high)[0] == "dismissed"
    assert other.post("/decisions/undo", data={}).status_code == 400
    analyst = helpers.make_app(path).test_client()
    helpers.login(analyst, "ana")
    assert analyst.post("/decisions/undo", data={"decision_id": str(decision_id)}).status_code == 403


def test_undo_is_not_an_action_one_can_post(env):
    app, path, info = env
    client = app.test_client()
    helpers.login(client, "mod")
    high = info["items"]["high"]
    assert client.post(f"/items/{high}/decide", data={"action": "undo", "version": "1"}).status_code == 400
    token = db.tokens.create_token(db.connect(path), info["users"]["mod"], "t")
    response = app.test_client().post(f"/api/v1/items/{high}/decisions", json={"action": "undo", "version": 1},
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    response = app.test_client().post(f"/api/v1/items/{high}/decisions", json={"action": ["x"], "version": 1},
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    page = client.get(f"/items/{high}").get_data(as_text=True)
    assert 'id="action-undo"' not in page and 'id="action-dismiss"' in page


def test_dismiss_says_not_a_violation_in_both_languages(env):
    app, _path, info = env
    client = app.test_client()
    helpers.login(client, "mod")
    page = client.get(f"/items/{info['items']['high']}").get_data(as_text=True)
    assert re.search(r'id="action-dismiss">Không vi phạm<', page)
    client.post("/locale", data={"locale": "en"})
    page = client.get(f"/items/{info['items']['high']}").get_data(as_text=True)
    assert re.search(r'id="action-dismiss">Not a violation<', page)


# --- the keyboard map -----------------------------------------------------------------------------

def test_the_help_lists_exactly_the_keys_the_page_binds(env):
    app, _path, info = env
    client = app.test_client()
    helpers.login(client, "mod")
    for path, page_name in (("/queue", "queue"), (f"/items/{info['items']['high']}", "item")):
        html = client.get(path).get_data(as_text=True)
        bound = json.loads(re.search(r'data-keymap="([^"]*)"', html).group(1).replace("&#34;", '"'))
        assert bound == json.loads(keymap_json(page_name))
        aside = re.search(r'<aside[^>]*id="shortcut-help".*?</aside>', html, re.S).group(0)
        listed = {key.replace("Esc", "Escape") for key in re.findall(r"<kbd>([^<]+)</kbd>", aside)}
        assert listed == set(bound), page_name
        assert len(re.findall(r"<dd>", aside)) == len(shortcuts_for(page_name))


def test_the_keymap_names_each_key_once_per_page():
    for page in ("queue", "item"):
        keys = [key for s in shortcuts_for(page) for key in s.keys]
        assert len(keys) == len(set(keys)), page
    assert {s.command for s in KEYMAP} >= {"undo", "dismiss", "confirm_harm", "confirm_misinformation"}
    assert json.loads(keymap_json("item"))["u"] == "undo"
    assert json.loads(keymap_json("queue"))["d"] == "dismiss"
