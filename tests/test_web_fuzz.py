"""Hostile parameters on every route never give a 500 (issue 15 item 11).

SQLite refuses Python ints beyond 64 bits (OverflowError) and date arithmetic overflows near years 1 and
9999; both reached the user as 500s. The fuzz test walks app.url_map, logs in as each role (with a real
CSRF token) and sends every route huge, negative, non-numeric, out-of-range and very long values in its
path parameters and in every query/form parameter the route reads. Which names a route reads is recorded
while the requests run (the request's MultiDicts log every key looked up), so a parameter added later is
fuzzed without editing this file; a cross-check against the names written in web/*.py makes sure the
baselines reach every one of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict

import db
import db.comments
import db.decisions
import db.followups
import db.tokens
import db.users
from tests import helpers

ROOT = Path(__file__).resolve().parents[1]
HUGE = "99999999999999999999999"
XSS = '<img src=x onerror="alert(1)">'
ROLES = {"moderator": "mod", "analyst": "ana", "admin": "adm"}

# Values that broke (or could break) a parser: beyond SQLite's INTEGER, beyond Python's int-from-text
# limit, Unicode digits that str.isdigit() accepts and int() does not, floats SQLite cannot compare,
# dates whose arithmetic overflows, periods far too long, huge keyset cursors and escalation targets; and
# markup, which must come back escaped wherever a message quotes the value it refuses.
VALUES = [
    HUGE, str(2**63), str(2**63 - 1), "9" * 5000, "-1", "0", "abc", "²", "١٢٣", "1e999", "nan",
    "9999-12-31", "0001-01-01", "9999-Q4", "0001-W01", f"1:{HUGE}", "nan:1", f"user:{HUGE}",
    "x" * 10_000, "\x00", "", XSS, f"2026-11-16{XSS}", f"1:{XSS}", f"user:{XSS}",
]
PATH_VALUES = [HUGE, str(2**63), "9" * 5000, "0", "١٢٣"]
JSON_VALUES = [int(HUGE), -int(HUGE), 2**63, 1e308, -1, 0, "abc", HUGE, None, True, [], {}, "x" * 10_000]

# What a sensible form carries, so a route reads past its first check (an escalation reads its target, a
# decision its version); routes with several modes get one baseline per mode.
BASE_FORM = {"action": "escalate", "note": "fuzz", "target": "role:admin", "version": "1", "next": "/queue",
             "release": "0", "name": "fuzzuser", "role": "analyst", "password": "long enough password 1",
             "password2": "long enough password 1", "locale": "vi", "text": "fuzz text", "url": "",
             "cluster_id": "1", "format": "csv"}
MODES = {"admin.update_user": [{"action": "role"}, {"action": "password"}, {"action": "deactivate"}],
         "queue.claim": [{"release": "1"}],
         "items.decide": [{"action": "dismiss"}, {"target": "user:1"}],
         "reports.index": [{"from": "2026-11-01", "to": "2026-11-10"}],
         "followups.add": [{"kind": "rebuttal_published", "link": "https://x"}, {"kind": "takedown_requested",
                           "platform": "p", "due_on": "2026-12-01", "acted_on": "2026-11-30"},
                          {"kind": "referred_to_agency", "agency": "other", "agency_other": "x"}],
         "followups.outcome": [{"outcome": "removed"}], "followups.comment": [{"body": "fuzz @mod2"}],
         "alerts.save": [{"kind": "webhook", "address": "https://hooks.example.vn/x", "events": "spike",
                          "places": "p:38", "enabled": "1"}, {"action": "delete"}]}
# A login with the created user's credentials would switch the session to that user.
OVERRIDES = {"auth.login_post": {"name": "nobody"}}


class RecordingArgs(ImmutableMultiDict):
    """Query/form storage that remembers every key a view looks up."""

    read: set[str] = set()

    def get(self, key, default=None, type=None):  # noqa: A002 - MultiDict's own signature
        RecordingArgs.read.add(key)
        return super().get(key, default, type)

    def __getitem__(self, key):
        RecordingArgs.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        RecordingArgs.read.add(key)
        return super().__contains__(key)

    def getlist(self, key, type=None):  # noqa: A002
        RecordingArgs.read.add(key)
        return super().getlist(key, type)


class RecordingRequest(Request):
    parameter_storage_class = RecordingArgs


@pytest.fixture()
def env(world):
    path, info = world
    database = db.connect(path)
    for role, name in ROLES.items():  # logging out may end every session of a user: /logout gets its own
        db.users.add_user(database, f"out-{name}", helpers.PASSWORD, role)
    # A follow-up (id 1) on a confirmed item and a comment mentioning mod2 (id 1), for their routes to read past
    # the lookup; the "low" item, so that the baselines' version 1 of "high" still holds. Decision 1 is an
    # escalation to the admins, so that /inbox/1/reply reads its reply.
    low = info["items"]["low"]
    db.decisions.decide(database, item_id=low, user_id=info["users"]["mod"], action="escalate",
                        new_status="escalated", note="fuzz", expected_version=1, target_role="admin")
    db.decisions.decide(database, item_id=low, user_id=info["users"]["mod"], action="confirm_harm",
                        new_status="confirmed", note="", expected_version=2)
    db.followups.add(database, item_id=low, user_id=info["users"]["mod"], kind="poster_contacted", values={})
    db.comments.add(database, item_id=low, user_id=info["users"]["mod"], body="@mod2 fuzz")
    database.conn.close()
    app = helpers.make_app(path, WTF_CSRF_ENABLED=True, SCORER=None)
    app.request_class = RecordingRequest
    return app, path, info


def _logged_in(app, name):
    client = app.test_client()
    token = helpers.csrf_token(client, "/login")
    response = client.post("/login", data={"name": name, "password": helpers.PASSWORD, "csrf_token": token})
    assert response.status_code in (302, 303)
    return client, helpers.csrf_token(client)


def _path(rule, info, value: str | None = None) -> list[str]:
    """The rule's URL with valid ids, then with `value` in each path parameter in turn."""
    valid = {"item_id": info["items"]["high"], "cluster_id": 1, "token_id": 1,
             "source_id": info["sources"]["thanhhoa"], "user_id": info["users"]["mod2"], "decision_id": 1,
             "followup_id": 1, "comment_id": 1, "capture_id": 1, "alert_id": 1}
    names = list(rule.arguments)

    def build(override: str | None) -> str:
        url = rule.rule
        for name in names:
            url = re.sub(rf"<[^>]*:?{name}>", override if override is not None else str(valid[name]), url)
        return url

    if value is None:
        return [build(None)]
    return [build(value)] if names else []


def _baselines(rule, info) -> list[dict]:
    base = dict(BASE_FORM, item_id=str(info["items"]["high"]), user_id=str(info["users"]["mod2"]))
    base[f"version_{info['items']['high']}"] = "1"
    base.update(OVERRIDES.get(rule.endpoint, {}))
    return [base] + [dict(base, **mode) for mode in MODES.get(rule.endpoint, [])]


def _send(client, method, url, params, csrf, failures, label, headers=None):
    try:
        if method == "GET":
            response = client.get(url, query_string=params, headers=headers)
        else:
            response = client.post(url, data={**params, "csrf_token": params.get("csrf_token", csrf)})
    except Exception as exc:  # noqa: BLE001 - TESTING propagates the 500's exception; record it
        failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:120]}")
        return None
    if response.status_code >= 500:
        failures.append(f"{label}: {response.status_code}")
    elif response.mimetype == "text/html" and XSS in response.get_data(as_text=True):
        failures.append(f"{label}: the value came back unescaped")  # error messages quote what was sent
    return response


def _allowed(app, rule, clients) -> list[str]:
    """The roles (of `clients`) that get past the route's role check, i.e. whose requests parse parameters."""
    roles = getattr(app.view_functions[rule.endpoint], "roles", "public")
    return list(clients) if roles == "public" else [role for role in clients if role in roles]


def _fuzz_rule(app, rule, info, clients, failures) -> set[str]:
    """Each role: the path with every PATH_VALUE and the baselines; then each parameter the route reads gets
    every VALUE, the values shared out among the allowed roles (each pair sent once, every role fuzzing).
    Returns the names read."""
    seen: set[str] = set()
    methods = [m for m in ("GET", "POST") if m in rule.methods]
    allowed = _allowed(app, rule, clients)
    for role, (client, csrf) in clients.items():
        if rule.endpoint == "auth.logout":  # would end the session every other request uses
            client, csrf = _logged_in(app, f"out-{ROLES.get(role, 'adm')}")
        share = VALUES[allowed.index(role)::len(allowed)] if role in allowed else []
        for method in methods:
            baselines = _baselines(rule, info) if method == "POST" else [{}] + MODES.get(rule.endpoint, [])
            for value in PATH_VALUES:
                for url in _path(rule, info, value):
                    _send(client, method, url, baselines[0], csrf, failures, f"{role} {method} {url[:60]}")
            url = _path(rule, info)[0]
            for base in baselines:
                RecordingArgs.read = set()
                _send(client, method, url, base, csrf, failures, f"{role} {method} {url} baseline")
                todo, done = set(RecordingArgs.read) if share else set(), set()
                while todo:  # names read only once an earlier one is bad are fuzzed too
                    name = todo.pop()
                    done.add(name)
                    for value in share:
                        RecordingArgs.read = set()
                        _send(client, method, url, {**base, name: value}, csrf, failures,
                              f"{role} {method} {url} {name}={value[:30]!r}")
                        todo |= RecordingArgs.read - done
                    _fuzz_keys(client, method, url, base, name, csrf, failures, role)
                seen |= done
            if rule.endpoint == "auth.logout":
                break
    return seen


def _fuzz_keys(client, method, url, base, name, csrf, failures, role) -> None:
    """Form data whose shape, not value, is hostile: more ids than any page sends, ids inside field names."""
    if method != "POST":
        return
    if name == "item_id":
        _send(client, method, url, {**base, name: [str(n) for n in range(1, 40_000)]}, csrf, failures,
              f"{role} POST {url} 39,999 item_id")
    if name.startswith("version_"):
        for value in PATH_VALUES + ["²"]:
            _send(client, method, url, {**base, f"version_{value}": "1", "item_id": value}, csrf, failures,
                  f"{role} POST {url} version_{value[:30]}")


def _api(app, info, path, failures) -> None:
    database = db.connect(path)
    tokens = {role: db.tokens.create_token(database, info["users"][name], "fuzz") for role, name in ROLES.items()}
    database.conn.close()
    client = app.test_client()
    item = info["items"]["high"]
    base = {"action": "escalate", "version": 1, "note": "fuzz", "target_role": "admin", "target_user": "mod"}
    for role, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"}
        for key in base:
            for value in JSON_VALUES:
                try:
                    response = client.post(f"/api/v1/items/{item}/decisions", headers=headers,
                                           json={**base, key: value})
                except Exception as exc:  # noqa: BLE001
                    failures.append(f"api {role} {key}={str(value)[:30]}: {type(exc).__name__}: {exc}")
                    continue
                if response.status_code >= 500:
                    failures.append(f"api {role} {key}={str(value)[:30]}: {response.status_code}")
        for name in ("after", "limit", "source", "status", "category", "language"):
            for value in VALUES:
                _send(client, "GET", "/api/v1/queue", {name: value}, None, failures,
                      f"api {role} /queue {name}={value[:30]!r}", headers=headers)
        for value in PATH_VALUES:
            _send(client, "GET", f"/api/v1/items/{value}", {}, None, failures, f"api {role} /items/{value[:30]}",
                  headers=headers)


def _names_written_in_web() -> set[str]:
    """Every literal parameter name the web package reads from a query string or form."""
    pattern = re.compile(r"""(?:args|form)(?:\.get|\.getlist|\.get_all)?[\[(]\s*["']([A-Za-z_][\w]*)["']""")
    names: set[str] = set()
    for source in (ROOT / "web").glob("*.py"):
        names |= set(pattern.findall(source.read_text(encoding="utf-8")))
    return names


def _small_figure(report, spec):
    """Charts are drawn from the report's tables, never from a request parameter (their text is tested in
    test_report_formats); a blank figure keeps the thousands of report requests here fast."""
    from matplotlib.figure import Figure

    from monitor.reports.charts import chart_data

    chart_data(report, spec)
    return Figure(figsize=(1, 1), dpi=10)


def test_no_route_answers_500_to_hostile_parameters(env, monkeypatch):
    app, path, info = env
    monkeypatch.setattr("monitor.reports.charts._figure", _small_figure)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    failures: list[str] = []
    clients = {role: _logged_in(app, name) for role, name in ROLES.items()}
    read: set[str] = set()
    rules = [rule for rule in app.url_map.iter_rules()
             if rule.endpoint != "static" and not rule.endpoint.startswith("api.")]
    assert len(rules) > 20
    anonymous = app.test_client()
    public = {"anonymous": (anonymous, helpers.csrf_token(anonymous, "/login"))}
    for rule in rules:
        # A public route reads its parameters the same way for everyone: fuzzed once, without a session.
        is_public = getattr(app.view_functions[rule.endpoint], "roles", None) == "public"
        read |= _fuzz_rule(app, rule, info, public if is_public else clients, failures)
    for role, (client, _token) in clients.items():  # every session survived as the role it was
        assert client.get("/admin/users").status_code == (200 if role == "admin" else 403), role
    _api(app, info, path, failures)
    assert not failures, f"{len(failures)} requests failed, e.g.:\n" + "\n".join(failures[:40])
    missing = _names_written_in_web() - read
    assert not missing, f"parameters read in web/ that no route was seen reading (extend BASE_FORM/MODES): {missing}"


# The 26 requests of the hostile probe (issue 15 item 11), each with the status and a word of the message.
def _reported(info) -> list[tuple[str, str, dict | None, int, str]]:
    item = info["items"]["high"]
    return [
        ("GET", f"/items/{HUGE}", None, 404, ""),
        ("GET", f"/queue?source={HUGE}", None, 400, "source"),
        ("GET", f"/admin/audit?item={HUGE}", None, 400, "item"),
        ("GET", f"/admin/audit?before={HUGE}", None, 400, "before"),
        ("POST", "/claims", {"item_id": HUGE}, 400, "item_id"),
        ("POST", "/claims", {"cluster_id": HUGE}, 400, "cluster_id"),
        ("POST", "/claims", {"item_id": "²"}, 400, "item_id"),
        ("POST", "/queue/bulk", {"item_id": HUGE, f"version_{HUGE}": "1", "action": "dismiss"}, 400, "item_id"),
        ("POST", "/queue/bulk", {"item_id": str(item), f"version_{item}": HUGE, "action": "dismiss"}, 400,
         f"version_{item}"),
        ("POST", f"/clusters/{HUGE}/decide", {"action": "dismiss"}, 404, ""),
        ("POST", "/clusters/1/decide", {f"version_{item}": HUGE, "action": "dismiss"}, 400, f"version_{item}"),
        ("POST", f"/items/{item}/decide", {"version": HUGE, "action": "dismiss"}, 400, "version"),
        ("POST", f"/items/{item}/decide", {"version": "1", "action": "escalate", "note": "x",
                                           "target": f"user:{HUGE}"}, 400, ""),
        ("POST", "/admin/tokens", {"user_id": HUGE}, 400, "user_id"),
        ("GET", "/queue?to=9999-12-31", None, 400, "to"),
        ("GET", "/queue?from=0001-01-01", None, 400, "from"),
        ("GET", "/admin/audit?to=9999-12-31", None, 400, "to"),
        ("GET", "/admin/audit?from=0001-01-01", None, 400, "from"),
        ("GET", "/reports/?quarter=9999-Q4", None, 400, "9999-Q4"),
        ("GET", "/reports/?week=0001-W01", None, 400, "0001-W01"),
        ("GET", "/reports/?from=0001-01-01&to=0001-01-02", None, 400, "0001-01-01"),
        ("GET", "/reports/download?format=json&quarter=9999-Q4", None, 400, "9999-Q4"),
        ("GET", f"/queue?after=1:{HUGE}", None, 400, "after"),
        ("GET", "/queue?after=nan:1", None, 400, "after"),
    ]


def test_the_reported_requests_get_400_or_404_with_a_message(env):
    app, _, info = env
    app.config["WTF_CSRF_ENABLED"] = False
    client, _ = _logged_in(app, "adm")
    client.post("/locale", data={"locale": "en"})
    for method, url, data, status, word in _reported(info):
        response = client.open(url, method=method, data=data)
        page = response.get_data(as_text=True)
        assert response.status_code == status, f"{method} {url} {data}: {response.status_code}"
        message = re.search(r'class="[^"]*error[^"]*"[^>]*>([^<]+)<', page) \
            or re.match(r"(.+)", page if response.mimetype == "text/plain" else "")
        assert message, f"{method} {url}: no message on the page"
        assert word in page, f"{method} {url}: the message does not name {word!r}"


def test_the_api_answers_huge_values_with_json_400_or_404(env):
    app, path, info = env
    database = db.connect(path)
    token = db.tokens.create_token(database, info["users"]["mod"], "fuzz")
    database.conn.close()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    item = info["items"]["high"]
    for url, name in ((f"/api/v1/queue?after=1:{HUGE}", "after"), (f"/api/v1/queue?source={HUGE}", "source"),
                      ("/api/v1/queue?after=1e999:1", "after")):
        response = client.get(url, headers=headers)
        assert response.status_code == 400 and name in response.get_json()["message"], url
    assert client.get(f"/api/v1/items/{HUGE}", headers=headers).status_code == 404
    for body in ({"action": "dismiss", "version": int(HUGE)}, {"action": "dismiss", "version": -1}):
        response = client.post(f"/api/v1/items/{item}/decisions", headers=headers, json=body)
        assert response.status_code == 400 and "version" in response.get_json()["message"], body
