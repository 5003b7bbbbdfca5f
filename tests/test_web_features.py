"""Web app, phase 2: role matrix, hostile content, search, claims, bulk/cluster decisions, escalation,
languages, API + OpenAPI, dashboard, audit browser/export/verify, rate limit, session expiry, report form."""

from __future__ import annotations

import json
import sys
import types
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import yaml

import db
import db.tokens
from tests import helpers

ROOT = Path(__file__).resolve().parents[1]

# Every route and the roles allowed on it. The matrix test fails if a route is added without an entry.
EXPECTED = {
    "index": "public", "health.health": "public", "auth.login": "public", "auth.login_post": "public",
    "auth.set_locale": "public",
    "auth.logout": {"moderator", "analyst", "admin"},
    "queue.index": {"moderator", "analyst", "admin"}, "queue.search": {"moderator", "analyst", "admin"},
    "items.show": {"moderator", "analyst", "admin"}, "dashboard.index": {"moderator", "analyst", "admin"},
    "report.form": {"moderator", "analyst", "admin"}, "report.submit": {"moderator", "analyst", "admin"},
    "items.decide": {"moderator", "admin"}, "items.undo": {"moderator", "admin"}, "queue.bulk": {"moderator", "admin"},
    "queue.cluster_decide": {"moderator", "admin"}, "queue.claim": {"moderator", "admin"},
    "queue.cluster_copies": {"moderator", "analyst", "admin"},
    "admin.audit": {"admin"}, "admin.audit_export": {"admin"}, "admin.audit_verify": {"admin"},
    "admin.tokens": {"admin"}, "admin.models": {"admin"}, "admin.create_token": {"admin"}, "admin.revoke_token": {"admin"},
    "admin.users": {"admin"}, "admin.create_user": {"admin"}, "admin.update_user": {"admin"},
    "api.queue": {"moderator", "analyst", "admin"}, "api.item": {"moderator", "analyst", "admin"},
    "api.decide": {"moderator", "admin"},
    # The escalation inbox: anyone can be escalated to (a role or a person), so anyone has one.
    "inbox.index": {"moderator", "analyst", "admin"}, "inbox.reply": {"moderator", "analyst", "admin"},
    # Follow-ups (case tracking): anyone reads the open list, moderators record them; anyone comments.
    "inbox.mention_read": {"moderator", "analyst", "admin"},
    "followups.index": {"moderator", "analyst", "admin"}, "followups.add": {"moderator", "admin"},
    "followups.outcome": {"moderator", "admin"}, "followups.comment": {"moderator", "analyst", "admin"},
    # Evidence: moderators capture a page now; anyone signed in downloads a capture.
    "evidence.capture": {"moderator", "admin"}, "evidence.download": {"moderator", "analyst", "admin"},
    # Blueprints of the reports and scheduler areas, registered by create_app.
    "reports.index": {"analyst", "admin"}, "reports.download": {"analyst", "admin"},
    "reports.stylesheet": {"analyst", "admin"},
    "sources_page.index": {"admin"}, "sources_page.pause": {"admin"}, "sources_page.resume": {"admin"},
    "apidocs.index": {"moderator", "analyst", "admin"},
    # Alerts (issue 11): anyone reads the log and keeps their own subscription; moderators re-send a failed one.
    "alerts.log": {"moderator", "analyst", "admin"}, "alerts.subscriptions": {"moderator", "analyst", "admin"},
    "alerts.save": {"moderator", "analyst", "admin"}, "alerts.retry": {"moderator", "admin"},
}
USER_OF_ROLE = {"moderator": "mod", "analyst": "ana", "admin": "adm"}


@pytest.fixture()
def env(world):
    path, info = world
    return helpers.make_app(path), path, info


def connect(path):
    return db.connect(path)


def client_for(app, name):
    client = app.test_client()
    assert helpers.login(client, name).status_code in (302, 303)
    return client


def _url(rule, info) -> str:
    values = {"item_id": info["items"]["high"], "cluster_id": 1, "token_id": 1}
    return rule.rule.replace("<int:item_id>", str(values["item_id"])).replace(
        "<int:cluster_id>", str(values["cluster_id"])).replace("<int:token_id>", "1").replace(
        "<int:source_id>", str(info["sources"]["thanhhoa"])).replace("<int:user_id>", str(info["users"]["mod2"])).replace(
        "<int:decision_id>", "1").replace("<int:followup_id>", "1").replace("<int:comment_id>", "1").replace(
        "<int:capture_id>", "1").replace("<int:alert_id>", "1")


def test_every_route_declares_its_roles(shared_app):  # reads only
    app, _, _ = shared_app
    declared = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "roles", None)
        assert roles is not None, f"{rule.rule} ({rule.endpoint}) declares no role"
        declared[rule.endpoint] = roles if roles == "public" else set(roles)
    assert declared == EXPECTED


@pytest.fixture()
def env_any(any_world):
    """`env` on this run's backend: every page and action of the matrix also runs on PostgreSQL."""
    url, info = any_world
    return helpers.make_app(url), url, info


def test_route_role_matrix(env_any):
    app, path, info = env_any
    database = connect(path)
    tokens = {role: db.tokens.create_token(database, info["users"][name], "t") for role, name in USER_OF_ROLE.items()}
    database.conn.close()
    sessions = {role: client_for(app, name) for role, name in USER_OF_ROLE.items()}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        expected = EXPECTED[rule.endpoint]
        method = "POST" if "POST" in rule.methods else "GET"
        url = _url(rule, info)
        for role, name in USER_OF_ROLE.items():
            if rule.endpoint.startswith("api."):
                client = app.test_client()
                headers = {"Authorization": f"Bearer {tokens[role]}"}
                response = client.open(url, method=method, headers=headers, json={})
            else:
                client = client_for(app, name) if rule.endpoint == "auth.logout" else sessions[role]
                response = client.open(url, method=method, data={})
                if rule.endpoint == "auth.logout":  # logging out ends every session of that user
                    sessions[role] = client_for(app, name)
            allowed = expected == "public" or role in expected
            if allowed:
                assert response.status_code != 403, f"{role} refused on {method} {url}"
                assert response.status_code < 500, f"{method} {url} as {role}: {response.status_code}"
            else:
                assert response.status_code == 403, f"{role} allowed on {method} {url}: {response.status_code}"
        # Anonymous: public routes answer, others send to login (or 401 for the API).
        anonymous = app.test_client().open(url, method=method, data={})
        if expected == "public":
            assert anonymous.status_code < 500 and anonymous.status_code != 403
        elif rule.endpoint.startswith("api."):
            assert anonymous.status_code == 401
        else:
            assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"], url


HOSTILE = [
    ("<script>alert('x')</script>", "<script>alert"),
    ('<img src=x onerror="alert(1)">', "<img src=x onerror"),
    ('<svg onload="alert(1)"><circle r="5"/></svg>', "<svg onload"),
    ("<style>body{display:none}</style><div style=\"background:url(javascript:alert(1))\">x</div>", "<style>"),
    ('"><iframe src="javascript:alert(1)"></iframe>', "<iframe"),
]


def test_hostile_content_is_shown_as_text(env):
    app, path, info = env
    database = connect(path)
    src = info["sources"]["thanhhoa"]
    ids = [helpers.make_item(database, src, 100 + i, title=payload, text=f"{payload} thân bài {i}", misinformation=0.99,
                              url="javascript:alert(document.cookie)")
           for i, (payload, _) in enumerate(HOSTILE)]
    database.conn.close()
    client = client_for(app, "mod")
    queue_page = client.get("/queue").get_data(as_text=True)
    for item_id, (_payload, raw) in zip(ids, HOSTILE, strict=False):
        page = client.get(f"/items/{item_id}").get_data(as_text=True)
        for text in (page, queue_page):
            assert raw not in text, f"raw markup {raw!r} reached the page"
        assert "&lt;" in page
        assert 'href="javascript:' not in page and "href='javascript:" not in page
        assert "javascript:alert(document.cookie)" in page  # shown as text, not as a link
    response = client.get(f"/items/{ids[0]}")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_search_is_diacritic_insensitive_and_malformed_queries_are_friendly(shared_app):  # reads only
    app, _, info = shared_app
    client = client_for(app, "ana")
    page = client.get("/search?q=tin gia vac xin").get_data(as_text=True)
    assert "Tin giả về vắc-xin lan truyền" in page
    page = client.get("/search?q=đồn đoán").get_data(as_text=True)
    assert "Đồn đoán giá xăng" in page
    for bad in ['"', "AND(", "*", "NEAR(", ")", "-"]:
        response = client.get("/search", query_string={"q": bad})
        assert response.status_code == 400, bad
        assert "tin giả" in response.get_data(as_text=True)


def test_queue_priority_filters_and_keyset_pages(env):
    app, path, info = env
    database = connect(path)
    src = info["sources"]["vnexpress"]
    made = [helpers.make_item(database, src, 200 + i, title=f"Tin số {i}", text=f"nội dung {i}",
                               misinformation=0.5 + i / 1000, fetched_at="2026-11-10T00:00:00Z") for i in range(30)]
    database.conn.close()
    app.config["QUEUE_PAGE_SIZE"] = 7
    client = client_for(app, "mod")
    seen, url = [], "/queue"
    for _ in range(20):
        page = client.get(url).get_data(as_text=True)
        import re

        seen += [int(x) for x in re.findall(r'data-item-id="(\d+)"', page)]
        nxt = re.search(r'href="([^"]+)" rel="next"', page)
        if not nxt:
            break
        url = nxt.group(1).replace("&amp;", "&")
    assert len(seen) == len(set(seen)) == 30 + 4  # every flagged item exactly once
    assert set(made) <= set(seen)
    # filters
    body = client.get(f"/queue?source={info['sources']['thanhhoa']}").get_data(as_text=True)
    assert "Tin giả về vắc-xin" in body and "Đồn đoán giá xăng" not in body
    body = client.get("/queue?language=en").get_data(as_text=True)
    assert "Fake cure claims" in body and "Tin giả về vắc-xin" not in body
    body = client.get("/queue?from=2026-11-21&to=2026-11-21").get_data(as_text=True)
    assert "Đồn đoán giá xăng" in body and "Tin giả về vắc-xin" not in body
    body = client.get("/queue?status=new").get_data(as_text=True)
    assert "Thời tiết Nghệ An" in body
    # A cursor that no "next" link made is a 400 naming the parameter (issue 15 item 11), not a silent first page.
    response = client.get("/queue?after=garbage")
    assert response.status_code == 400 and "after" in response.get_data(as_text=True)


def test_priority_combines_score_recency_and_spread(env):
    app, path, info = env
    database = connect(path)
    src = info["sources"]["vnexpress"]
    old = helpers.make_item(database, src, 300, title="Cũ", text="cũ", misinformation=0.6, fetched_at="2026-11-01T00:00:00Z")
    recent = helpers.make_item(database, src, 301, title="Mới", text="mới", misinformation=0.6, fetched_at="2026-11-05T00:00:00Z")
    spread = helpers.make_item(database, src, 302, title="Lan", text="lan", misinformation=0.6, fetched_at="2026-11-01T00:00:00Z")
    cluster = database.conn.execute("SELECT cluster_id FROM items WHERE id = ?", (spread,)).fetchone()[0]
    for n in range(12):
        helpers.make_item(database, src, 310 + n, title="Lan", text=f"lan {n}", status="new",
                           fetched_at="2026-11-01T00:00:00Z", cluster_id=cluster)
    pr = dict(database.conn.execute("SELECT id, priority FROM items WHERE id IN (?, ?, ?)", (old, recent, spread)).fetchall())
    database.conn.close()
    assert pr[recent] > pr[old]
    assert pr[spread] > pr[old]


def test_claims_visible_to_others_and_expire(env):
    app, path, info = env
    item = info["items"]["high"]
    mod, mod2 = client_for(app, "mod"), client_for(app, "mod2")
    assert mod.post("/claims", data={"item_id": str(item)}).status_code == 303
    assert "mod" in mod2.get("/queue").get_data(as_text=True).split(f'data-item-id="{item}"')[1].split("</tr>")[0]
    response = mod2.post("/claims", data={"item_id": str(item)}, follow_redirects=True)
    assert "mod" in response.get_data(as_text=True)
    mine = mod.get("/queue?mine=1").get_data(as_text=True)
    assert "Tin giả về vắc-xin" in mine and "Đồn đoán giá xăng" not in mine
    database = connect(path)
    holder = database.conn.execute("SELECT user_id FROM claims WHERE item_id = ?", (item,)).fetchone()[0]
    assert holder == info["users"]["mod"]
    database.conn.execute("UPDATE claims SET expires_at = '2000-01-01T00:00:00Z'")
    database.conn.close()
    assert mod2.post("/claims", data={"item_id": str(item)}).status_code == 303
    database = connect(path)
    assert database.conn.execute("SELECT user_id FROM claims WHERE item_id = ?", (item,)).fetchone()[0] == info["users"]["mod2"]
    database.conn.close()


def test_a_live_claim_blocks_other_moderators_decisions_until_it_ends(env):
    app, path, info = env
    high, mid = info["items"]["high"], info["items"]["mid"]
    mod, mod2 = client_for(app, "mod"), client_for(app, "mod2")
    assert mod.post("/claims", data={"item_id": [str(high), str(mid)]}).status_code == 303
    refused = mod2.post(f"/items/{high}/decide", data={"action": "dismiss", "version": "1"})
    assert refused.status_code == 409 and f"Mục {high} đang do mod xử lý đến" in refused.get_data(as_text=True)
    bulk = mod2.post("/queue/bulk", data={"item_id": [str(high), str(mid)], "action": "dismiss",
                                         f"version_{high}": "1", f"version_{mid}": "1"})
    assert bulk.status_code == 409
    database = connect(path)
    token = db.tokens.create_token(database, info["users"]["mod2"], "script")
    assert database.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0
    database.conn.close()
    api = app.test_client().post(f"/api/v1/items/{mid}/decisions", headers={"Authorization": f"Bearer {token}"},
                                 json={"action": "dismiss", "version": 1})
    assert api.status_code == 409 and api.get_json()["claimed_by"] == "mod"
    # the holder decides (and the claim goes with the decision); an expired claim blocks nobody
    assert mod.post(f"/items/{high}/decide", data={"action": "confirm_harm", "version": "1"}).status_code == 303
    database = connect(path)
    database.conn.execute("UPDATE claims SET expires_at = '2000-01-01T00:00:00Z'")
    database.conn.close()
    assert mod2.post(f"/items/{mid}/decide", data={"action": "dismiss", "version": "1"}).status_code == 303
    database = connect(path)
    decided = dict(database.conn.execute("SELECT item_id, user_id FROM decisions").fetchall())
    database.conn.close()
    assert decided == {high: info["users"]["mod"], mid: info["users"]["mod2"]}


def test_bulk_selection_decides_each_at_its_version(env):
    app, path, info = env
    client = client_for(app, "mod")
    high, mid, low = info["items"]["high"], info["items"]["mid"], info["items"]["low"]
    # mid is decided by someone else first: the bulk action must skip it, not overwrite it.
    other = client_for(app, "mod2")
    other.post(f"/items/{mid}/decide", data={"action": "confirm_harm", "version": "1"})
    response = client.post("/queue/bulk", data={"item_id": [str(high), str(mid), str(low)], "action": "dismiss",
                                                f"version_{high}": "1", f"version_{mid}": "1",
                                                f"version_{low}": "1", "note": "hàng loạt"}, follow_redirects=True)
    assert "mod2" in response.get_data(as_text=True)
    database = connect(path)
    statuses = dict(database.conn.execute("SELECT id, status FROM items WHERE id IN (?, ?, ?)", (high, mid, low)).fetchall())
    count = database.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    database.conn.close()
    assert statuses == {high: "dismissed", mid: "confirmed", low: "dismissed"}
    assert count == 3


def test_whole_cluster_decision(env):
    app, path, info = env
    database = connect(path)
    src = info["sources"]["vnexpress"]
    first = helpers.make_item(database, src, 400, title="Cụm A", text="bản 1")
    cluster = database.conn.execute("SELECT cluster_id FROM items WHERE id = ?", (first,)).fetchone()[0]
    copies = [helpers.make_item(database, src, 401 + n, title="Cụm A", text=f"bản {n + 2}", cluster_id=cluster)
              for n in range(3)]
    database.conn.close()
    client = client_for(app, "mod")
    page = client.get(f"/items/{first}").get_data(as_text=True)
    assert "cluster-form" in page and page.count("Cụm A") >= 4
    data = {"action": "confirm_misinformation", "note": "cả cụm"}
    data.update({f"version_{i}": "1" for i in [first, *copies]})
    assert client.post(f"/clusters/{cluster}/decide", data=data).status_code == 303
    database = connect(path)
    rows = database.conn.execute("SELECT status FROM items WHERE cluster_id = ?", (cluster,)).fetchall()
    database.conn.close()
    assert [r[0] for r in rows] == ["confirmed"] * 4


def test_claim_a_whole_cluster(env):
    app, path, info = env
    database = connect(path)
    src = info["sources"]["vnexpress"]
    first = helpers.make_item(database, src, 450, title="Cụm B", text="bản 1")
    cluster = database.conn.execute("SELECT cluster_id FROM items WHERE id = ?", (first,)).fetchone()[0]
    copies = [helpers.make_item(database, src, 451 + n, title="Cụm B", text=f"bản {n + 2}", cluster_id=cluster)
              for n in range(2)]
    database.conn.close()
    client = client_for(app, "mod")
    assert 'id="claim-cluster"' in client.get(f"/items/{first}").get_data(as_text=True)
    assert client.post("/claims", data={"cluster_id": str(cluster)}).status_code == 303
    database = connect(path)
    claimed = {r[0] for r in database.conn.execute("SELECT item_id FROM claims WHERE user_id = ?",
                                                    (info["users"]["mod"],))}
    database.conn.close()
    assert claimed == {first, *copies}
    # Someone else cannot take the cluster while the claim lives.
    other = client_for(app, "mod2")
    page = other.post("/claims", data={"cluster_id": str(cluster)}, follow_redirects=True).get_data(as_text=True)
    assert "mod" in page and 'class="flash error"' in page


def test_escalate_to_person_needs_note_and_records_target(env):
    app, path, info = env
    client = client_for(app, "mod")
    item = info["items"]["low"]
    target = f"user:{info['users']['adm']}"
    assert client.post(f"/items/{item}/decide", data={"action": "escalate", "version": "1", "target": target}).status_code == 400
    assert client.post(f"/items/{item}/decide", data={"action": "escalate", "version": "1", "target": "user:99999",
                                                      "note": "x"}).status_code == 400
    assert client.post(f"/items/{item}/decide", data={"action": "escalate", "version": "1", "target": target,
                                                      "note": "cần lãnh đạo xem"}).status_code == 303
    database = connect(path)
    row = database.conn.execute("SELECT target_user_id, target_role FROM escalations").fetchone()
    database.conn.close()
    assert row == (info["users"]["adm"], None)
    assert "adm" in client.get(f"/items/{item}").get_data(as_text=True).split("history")[-1]
    # reopen needs a note as well
    assert client.post(f"/items/{item}/decide", data={"action": "reopen", "version": "2"}).status_code == 400
    assert client.post(f"/items/{item}/decide", data={"action": "reopen", "version": "2", "note": "xem lại"}).status_code == 303


def test_language_is_vietnamese_by_default_and_switchable_per_user(env):
    app, path, info = env
    client = client_for(app, "mod")
    page = client.get("/queue").get_data(as_text=True)
    assert "Hàng đợi kiểm duyệt" in page and 'lang="vi"' in page
    assert client.post("/locale", data={"locale": "en"}).status_code == 303
    page = client.get("/queue").get_data(as_text=True)
    assert "Review queue" in page and 'lang="en"' in page
    database = connect(path)
    assert database.conn.execute("SELECT locale FROM users WHERE name = 'mod'").fetchone()[0] == "en"
    database.conn.close()
    # The preference follows the user to a new session; others keep Vietnamese.
    assert "Review queue" in client_for(app, "mod").get("/queue").get_data(as_text=True)
    assert "Hàng đợi kiểm duyệt" in client_for(app, "ana").get("/queue").get_data(as_text=True)
    client.post("/locale", data={"locale": "xx"})
    assert "Review queue" in client.get("/queue").get_data(as_text=True)


def test_catalogs_are_complete_and_compiled():
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    base = ROOT / "vocab" / "translations"
    po = read_po((base / "vi" / "LC_MESSAGES" / "messages.po").open("rb"))
    def plain(value):  # a plural entry's id and strings are a tuple in the .po, a list in the .mo
        return tuple(value) if isinstance(value, (list, tuple)) else value

    untranslated = [m.id for m in po if m.id and (not all(plain(m.string) or [""]) or m.fuzzy)]
    assert untranslated == []
    mo = read_mo((base / "vi" / "LC_MESSAGES" / "messages.mo").open("rb"))
    assert {plain(m.id): plain(m.string) for m in po if m.id} == {plain(m.id): plain(m.string) for m in mo if m.id}, \
        "run vocab/translations/build.py"


def test_api_with_tokens_and_openapi_document(env):
    from openapi_spec_validator import validate

    app, path, info = env
    spec = yaml.safe_load((ROOT / "web" / "static" / "openapi.yaml").read_text(encoding="utf-8"))
    validate(spec)
    documented = {p for p in spec["paths"]}
    routed = {r.rule.replace("/api/v1", "").replace("<int:item_id>", "{item_id}")
              for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert documented == routed
    database = connect(path)
    mod_token = db.tokens.create_token(database, info["users"]["mod"], "script")
    ana_token = db.tokens.create_token(database, info["users"]["ana"], "script")
    database.conn.close()
    client = app.test_client()
    assert client.get("/api/v1/queue").status_code == 401
    assert client.get("/api/v1/queue", headers={"Authorization": "Bearer nope"}).status_code == 401
    # A logged-in browser session is not API authentication (the API skips CSRF).
    browser = client_for(app, "mod")
    assert browser.post(f"/api/v1/items/{info['items']['high']}/decisions",
                        json={"action": "dismiss", "version": 1}).status_code == 401
    auth = {"Authorization": f"Bearer {mod_token}"}
    body = client.get("/api/v1/queue?limit=2", headers=auth).get_json()
    assert len(body["items"]) == 2 and body["next"]
    rest = client.get("/api/v1/queue", query_string={"after": body["next"]}, headers=auth).get_json()
    assert {i["id"] for i in rest["items"]}.isdisjoint({i["id"] for i in body["items"]})
    item = body["items"][0]
    assert client.post(f"/api/v1/items/{item['id']}/decisions", headers={"Authorization": f"Bearer {ana_token}"},
                       json={"action": "dismiss", "version": item["version"]}).status_code == 403
    ok = client.post(f"/api/v1/items/{item['id']}/decisions", headers=auth,
                     json={"action": "confirm_misinformation", "version": item["version"], "note": "api"})
    assert ok.status_code == 201 and ok.get_json()["status"] == "confirmed"
    stale = client.post(f"/api/v1/items/{item['id']}/decisions", headers=auth,
                        json={"action": "dismiss", "version": item["version"]})
    assert stale.status_code == 409 and stale.get_json()["decided_by"] == "mod"
    assert client.post(f"/api/v1/items/{item['id']}/decisions", headers=auth, data="x").status_code == 400
    detail = client.get(f"/api/v1/items/{item['id']}", headers=auth).get_json()
    assert detail["decisions"][0]["note"] == "api"
    database = connect(path)
    database.conn.execute("UPDATE api_tokens SET revoked = 1")
    database.conn.close()
    assert client.get("/api/v1/queue", headers=auth).status_code == 401


def test_dashboard_counts_per_day_category_and_source(env):
    app, path, info = env
    database = connect(path)
    today = db.utcnow()
    helpers.make_item(database, info["sources"]["vnexpress"], 500, title="Hôm nay", text="x", fetched_at=today)
    database.conn.close()
    client = client_for(app, "mod")
    client.post(f"/items/{info['items']['high']}/decide", data={"action": "confirm_misinformation", "version": "1"})
    client.post(f"/items/{info['items']['mid']}/decide", data={"action": "dismiss", "version": "1"})
    page = client.get("/dashboard?days=7").get_data(as_text=True)
    assert "<svg" in page and page.count("<script") == 1  # only the static app.js
    from datetime import datetime

    since = (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    database = connect(path)
    expected = database.conn.execute("SELECT COUNT(*) FROM items WHERE flag_reasons != '[]' AND fetched_at >= ?",
                                     (since,)).fetchone()[0]
    database.conn.close()
    assert expected >= 1
    assert f'id="total-flagged">{expected}<' in page
    assert 'id="total-confirmed">1<' in page and 'id="total-dismissed">1<' in page
    assert "VnExpress" in page and "Báo Thanh Hóa" in page


def test_admin_audit_browse_export_and_verify(env, tmp_path):
    app, path, info = env
    mod = client_for(app, "mod")
    mod.post(f"/items/{info['items']['high']}/decide", data={"action": "dismiss", "version": "1", "note": "a"})
    mod.post(f"/items/{info['items']['mid']}/decide", data={"action": "confirm_harm", "version": "1", "note": "b"})
    adm = client_for(app, "adm")
    page = adm.get("/admin/audit?action=dismiss").get_data(as_text=True)
    assert page.count('class="audit-row"') == 1
    csv_text = adm.get("/admin/audit/export?format=csv").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("id,created_at,user_name,action")
    assert len(csv_text.strip().splitlines()) == 3
    lines = adm.get("/admin/audit/export?format=jsonl&user=mod").get_data(as_text=True).splitlines()
    assert [json.loads(line)["note"] for line in lines] == ["a", "b"]
    assert "Nguyên vẹn" in adm.get("/admin/audit/verify").get_data(as_text=True)
    # CLI verify detects an edited row (triggers bypassed the way an attacker with file access would).
    from monitor.commands import audit

    args = types.SimpleNamespace(db=str(path))
    assert audit.cmd_verify(args) == 0
    database = connect(path)
    database.conn.execute("DROP TRIGGER decisions_no_update")
    database.conn.execute("UPDATE decisions SET note = 'sửa' WHERE id = 1")
    database.conn.close()
    assert audit.cmd_verify(args) == 1
    assert "tampered" in adm.get("/admin/audit/verify").get_data(as_text=True) or \
        "can thiệp" in adm.get("/admin/audit/verify").get_data(as_text=True)
    out = tmp_path / "log.csv"
    export_args = types.SimpleNamespace(db=str(path), format="csv", out=str(out), user="mod", action=None,
                                        since="2000-01-01", until=None)
    assert audit.cmd_export(export_args) == 0
    assert "sửa" in out.read_text(encoding="utf-8")


def test_login_is_rate_limited(world):
    path, _ = world
    app = helpers.make_app(path, RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute")
    client = app.test_client()
    codes = [helpers.login(client, "mod", "bad password").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert helpers.login(client, "mod").status_code == 429  # even the right password waits


def test_sessions_expire_and_cookie_flags(env):
    app, _, _ = env
    client = app.test_client()
    response = helpers.login(client, "mod")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = app.test_client()
    response = secure.post("/login", data={"name": "mod", "password": helpers.PASSWORD},
                           base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]
    assert client.get("/queue").status_code == 200
    app.config["SESSION_IDLE_TIMEOUT"] = timedelta(seconds=-1)
    assert client.get("/queue").status_code == 302


def test_report_form_feeds_the_pipeline(env, monkeypatch):
    app, path, info = env
    # Flags whatever mentions "nước muối"; stands in for the shipped model.
    app.config["SCORER"] = helpers.FakeScorer("nước muối", hit=(0.9, 0.0), miss=(0.1, 0.0), model_version="fake")
    client = client_for(app, "ana")
    assert client.post("/report", data={}).status_code == 400
    assert client.post("/report", data={"url": "javascript:alert(1)"}).status_code == 400
    response = client.post("/report", data={"text": "Tin đồn: uống nước muối chữa được bệnh <script>x</script>"})
    assert response.status_code == 303
    item_id = int(response.headers["Location"].rsplit("/", 1)[1])
    database = connect(path)
    row = database.conn.execute("SELECT status, author, text FROM items WHERE id = ?", (item_id,)).fetchone()
    database.conn.close()
    assert row[0] == "flagged" and row[1] == "ana" and "nước muối" in row[2]
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert "<script>x</script>" not in page
    assert "Tin đồn" in client.get("/queue").get_data(as_text=True)
    # Reporting the same text again finds the stored item instead of duplicating it.
    again = client.post("/report", data={"text": "Tin đồn: uống nước muối chữa được bệnh <script>x</script>"})
    assert again.headers["Location"].endswith(f"/items/{item_id}")
    # A link to an internal address is refused by the fetcher; the report is kept with the reason shown.
    monkeypatch.delenv("MONITOR_ALLOW_PRIVATE_NETWORKS", raising=False)
    app.extensions.pop("monitor_intake", None)
    response = client.post("/report", data={"url": "http://127.0.0.1:9/tin", "text": "bài đáng ngờ"},
                           follow_redirects=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'class="flash error"' in body  # "the page could not be read (…); stored with what you gave"
    database = connect(path)
    stored = database.conn.execute("SELECT text FROM items WHERE url = 'http://127.0.0.1:9/tin'").fetchone()
    database.conn.close()
    assert stored == ("bài đáng ngờ",)


def test_model_card_formatting_is_sanitised(env):
    app, path, _ = env
    database = connect(path)
    card = ('<h2>Thẻ mô hình</h2><p onclick="steal()">Độ chính xác <strong>0.91</strong></p>'
            '<script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a>'
            '<a href="https://example.vn/card">chi tiết</a><style>body{display:none}</style>')
    database.conn.execute("INSERT INTO models (version, path, created_at, card) VALUES ('m1', 'm1.skops', ?, ?)",
                          (db.utcnow(), card))
    database.conn.close()
    page = client_for(app, "adm").get("/admin/models").get_data(as_text=True)
    assert "<strong>0.91</strong>" in page and "<h2>Thẻ mô hình</h2>" in page  # formatting kept
    for bad in ("<script>alert(1)", "onerror", "onclick", "javascript:", "<img", "<style>"):
        assert bad not in page, bad
    assert 'href="https://example.vn/card"' in page


def test_monitor_audit_verify_command_detects_a_deleted_row(env):
    import subprocess

    app, path, info = env
    client = client_for(app, "mod")
    for key in ("high", "mid", "low"):
        client.post(f"/items/{info['items'][key]}/decide", data={"action": "dismiss", "version": "1"})
    command = [sys.executable, "-m", "monitor.cli", "--db", str(path), "audit", "verify"]
    ok = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert ok.returncode == 0 and "3 decision(s)" in ok.stdout
    database = connect(path)
    database.conn.execute("DROP TRIGGER decisions_no_delete")
    database.conn.execute("DELETE FROM decisions WHERE id = 2")
    database.conn.close()
    broken = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert broken.returncode == 1
    assert "BROKEN" in broken.stdout and "decision 3" in broken.stderr


def test_hostile_source_names_are_escaped_everywhere(env):
    app, path, _ = env
    database = connect(path)
    from db.sources import ensure_source

    evil = ensure_source(database, '<img src=x onerror=alert(1)>"><script>alert(2)</script>', "rss",
                         "https://evil.example/rss")
    helpers.make_item(database, evil, 700, title="Bình thường", text="x", fetched_at=db.utcnow())
    database.conn.close()
    client = client_for(app, "mod")
    for url in ("/queue", "/dashboard", "/search?q=binh+thuong", "/items/6"):
        page = client.get(url).get_data(as_text=True)
        assert "<img src=x" not in page and "<script>alert(2)" not in page, url
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, url
