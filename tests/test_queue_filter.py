"""The queue filter is defined once (issue 16 item 2): web/queue_filter.py parses it for the web UI and the
API alike, db/queue.py's QueueFilter holds the SQL of each field, and openapi.yaml documents every one."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

import db
import db.places
import db.queue
import db.tokens
from db.queue import QueueFilter
from tests import helpers
from web.queue_filter import FILTERS

ROOT = Path(__file__).resolve().parents[1]
CODE_ONLY = {"cluster_id"}  # set by the cluster pages, never by a query string


@pytest.fixture()
def env(world):
    path, info = world
    database = db.connect(path)
    token = db.tokens.create_token(database, info["users"]["mod"], "filter test")
    database.conn.close()
    app = helpers.make_app(path, SCORER=None)
    web = app.test_client()
    assert helpers.login(web, "mod").status_code in (302, 303)
    web.post("/locale", data={"locale": "en"})
    return app, info, web, {"Authorization": f"Bearer {token}"}


def test_every_field_has_one_parameter_and_its_sql():
    by_field = {param.field: param.name for param in FILTERS}
    assert len(by_field) == len(FILTERS), "two parameters fill one field"
    assert set(by_field) == {f.name for f in fields(QueueFilter)} - CODE_ONLY
    assert all(f.metadata.get("sql") for f in fields(QueueFilter)), "a field without its SQL condition"


def test_the_api_documents_every_filter():
    spec = yaml.safe_load((ROOT / "web" / "static" / "openapi.yaml").read_text(encoding="utf-8"))
    documented = {p["name"] for p in spec["paths"]["/queue"]["get"]["parameters"]}
    assert documented == {param.name for param in FILTERS} | {"limit", "after"}


def _ids(web, api, headers, query: str) -> tuple[list[int], list[int]]:
    page = web.get(f"/queue?{query}")
    body = api.get(f"/api/v1/queue?limit=200&{query}", headers=headers)
    assert page.status_code == body.status_code == 200, query
    return ([int(x) for x in re.findall(r'data-item-id="(\d+)"', page.get_data(as_text=True))],
            [item["id"] for item in body.get_json()["items"]])


def test_web_and_api_select_the_same_items(env):
    app, info, web, headers = env
    items, api = info["items"], app.test_client()
    assert web.post("/claims", data={"item_id": str(items["mid"])}).status_code == 303
    database = db.connect(app.config["DATABASE"])
    with db.transaction(database) as conn:  # "Về địa bàn": two items mention Thanh Hóa, the jurisdiction
        for name in ("high", "low"):
            db.places.record_places(conn, items[name], [("p:38", "province", "p:38")])
        db.places.remark_jurisdiction(conn, ["p:38"])
    database.conn.close()
    expected = {
        "": {items["high"], items["mid"], items["low"], items["english"]},
        "status=": {items["high"], items["mid"], items["low"], items["english"]},  # empty: not given
        "status=new": {items["new"]},
        "language=en": {items["english"]},
        "language=%20en%20": {items["english"]},  # spaces dropped on both surfaces now
        f"source={info['sources']['vnexpress']}": {items["mid"], items["english"]},
        "from=2026-11-21&to=2026-11-21": {items["mid"]},
        "mine=1": {items["mid"]},
        "local=1": {items["high"], items["low"]},
        "local=0": {items["high"], items["mid"], items["low"], items["english"]},  # only 1 turns it on
        "category=bogus": {items["high"], items["mid"], items["low"], items["english"]},  # ignored, as before
    }
    for query, ids in expected.items():
        on_web, on_api = _ids(web, api, headers, query)
        assert set(on_web) == set(on_api) == ids, query
        assert on_web == on_api, f"{query}: not in the same order"


def test_an_unknown_status_is_a_400_naming_it_on_both(env):
    """The web UI used to show the flagged items instead; the API's documented 400 is the stricter rule."""
    app, _info, web, headers = env
    page = web.get('/queue?status=<b>gone')
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "Parameter “status” must be one of new, flagged" in text and "<b>gone" not in text
    body = app.test_client().get("/api/v1/queue?status=gone", headers=headers)
    assert body.status_code == 400 and body.get_json()["error"] == "bad_request"
    assert "status" in body.get_json()["message"] and "gone" in body.get_json()["message"]
    for query in ("source=abc", "from=2026-13-01", "to=9999-12-31"):
        assert web.get(f"/queue?{query}").status_code == 400, query
        assert app.test_client().get(f"/api/v1/queue?{query}", headers=headers).status_code == 400, query


def test_a_code_made_filter_ignores_an_unknown_category(tmp_db):
    where, params, narrow = QueueFilter(category="%").conditions("2026-01-01T00:00:00Z")
    assert (where, params, narrow) == (["items.status = ?"], ["flagged"], False)
    where, params, narrow = QueueFilter(category="harm", claimed_by=3).conditions("now")
    assert params == ["flagged", "harm", 3, "now"] and narrow
    assert db.queue.queue(tmp_db, QueueFilter(language="vi", category="harm")).items == []


def test_the_jurisdiction_flag_takes_0_or_1_and_refuses_the_rest_on_both(env):
    """`local=true` from an API client used to give every item, as if it had been filtered."""
    app, _info, web, headers = env
    for value in ("2", "true", "<script>alert(1)</script>", "9" * 30):
        page = web.get(f"/queue?local={value}")
        assert page.status_code == 400, value
        assert "Parameter “local” must be one of 0, 1" in page.get_data(as_text=True)
        assert "<script>alert" not in page.get_data(as_text=True)
        answer = app.test_client().get(f"/api/v1/queue?local={value}", headers=headers)
        assert answer.status_code == 400 and answer.get_json()["error"] == "bad_request", value
    for value in ("", "0", "1"):
        assert web.get(f"/queue?local={value}").status_code == 200, value
        assert app.test_client().get(f"/api/v1/queue?local={value}", headers=headers).status_code == 200, value
