"""Issue 12 item 7 (part): distinct nav names, the API docs page rendered from openapi.yaml, openapi.yaml
served as YAML, and the Models page showing its card as sanitised HTML and its metrics as tables."""

from __future__ import annotations

import json

import db
from db.models import replace_models
from tests import helpers
from web import apidocs
from web.markdown import to_html
from web.models_page import card_html, metrics_table

HOSTILE_CARD = """# Card <script>alert(1)</script>

- a [bad](javascript:alert(2)) link and a [good](https://example.org/x?a=1&b=2) one
- `<b>code</b>` and **bold** and *em*

| dataset | rows |
|---|---:|
| vi <img src=x onerror=alert(3)> | 12 |

```
{"very": "long line"}
```
"""


def _client(path, name: str | None = "mod", locale: str = "vi"):
    client = helpers.make_app(path).test_client()
    if name:
        helpers.login(client, name)
        client.post("/locale", data={"locale": locale})
    return client


def test_nav_names_report_a_link_apart_from_the_weekly_reports(world):
    path, _ = world
    page = _client(path, "ana").get("/search").get_data(as_text=True)
    assert ">Gửi phản ánh</a>" in page and ">Báo cáo tuần</a>" in page and ">Tài liệu API</a>" in page
    english = _client(path, "ana", "en").get("/search").get_data(as_text=True)
    assert ">Report a link</a>" in english and ">Weekly reports</a>" in english and ">API docs</a>" in english


def test_openapi_yaml_is_served_as_yaml(shared_app):
    app, _path, _info = shared_app
    response = app.test_client().get("/static/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/yaml; charset=utf-8"
    assert response.get_data(as_text=True).startswith("openapi:")


def test_api_docs_page_needs_a_login_and_lists_paths_parameters_responses_and_schemas(world):
    path, _ = world
    anonymous = _client(path, None).get("/docs/api")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    for name in ("mod", "ana", "adm"):
        response = _client(path, name).get("/docs/api")
        assert response.status_code == 200
    page = response.get_data(as_text=True)
    for text in ("<code>GET /queue</code>", "<code>POST /items/{item_id}/decisions</code>", "getQueue",
                 '<a href="#schema-Item">Item</a>', 'id="schema-Decision"', "<code>limit</code>",
                 "<code>409</code>", "<code>confirm_harm</code>", "/api/v1", "<code>item_id</code>",
                 "optimistic locking on <code>version</code>"):
        assert text in page, text
    assert 'id="openapi-yaml"' in page


def test_api_docs_escape_every_text_from_the_file(world, tmp_path, monkeypatch):
    path, _ = world
    spec = tmp_path / "openapi.yaml"
    spec.write_text(json.dumps({
        "openapi": "3.1.0", "info": {"title": "<script>alert(1)</script>", "version": "1",
                                     "description": "<img src=x onerror=alert(2)>"},
        "paths": {"/x<b>": {"get": {"summary": "<i>s</i>", "parameters": [
            {"name": "<svg onload=alert(3)>", "in": "query", "schema": {"type": "string", "enum": ["<u>"]}}],
            "responses": {"200": {"description": "<em>ok</em>"}}}}},
        "components": {"schemas": {"S": {"type": "object", "properties": {"<p>": {"type": "string"}}}}}}),
        encoding="utf-8")
    monkeypatch.setattr(apidocs, "SPEC", spec)
    page = _client(path).get("/docs/api").get_data(as_text=True)
    for raw in ("<script>alert", "<img src=x", "<svg onload", "<i>s</i>", "<em>ok</em>", "<u>", "/x<b>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_markdown_subset_renders_and_escapes():
    html = to_html(HOSTILE_CARD, heading_offset=2)
    assert html.startswith("<h3>Card &lt;script&gt;")
    assert "<ul>\n<li>" in html and "<code>&lt;b&gt;code&lt;/b&gt;</code>" in html
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html
    assert '<a href="https://example.org/x?a=1&amp;b=2">good</a>' in html
    assert "javascript:" not in html.split("[bad]")[0] and '<a href="javascript' not in html
    assert "<table>\n<thead>\n<tr>\n<th>dataset</th>" in html and ">12</td>" in html
    assert "<pre><code>{&quot;very&quot;: &quot;long line&quot;}\n</code></pre>" in html
    assert "<img" not in html
    assert to_html("| not a table\nplain") == "<p>| not a table\nplain</p>\n"  # a lone pipe is no table


def test_card_html_goes_through_the_allow_list():
    html = str(card_html(HOSTILE_CARD))  # HTML in a card passes to nh3, which drops what is not allowed
    for bad in ("<script", "alert(1)", "<img", "onerror", 'href="javascript'):
        assert bad not in html, bad
    assert "<h3>Card </h3>" in html and "<table>" in html and 'rel="noopener noreferrer nofollow"' in html
    assert "<code>&lt;b&gt;code&lt;/b&gt;</code>" in html  # code spans stay escaped
    assert str(card_html("<h2>Thẻ</h2>\n\na < b *c*")) == "<h2>Thẻ</h2>\n<p>a &lt; b <em>c</em></p>\n"
    quoted = str(card_html('[q](https://x.org/"onclick="y)'))
    assert " onclick" not in quoted and 'onclick="' not in quoted  # the quotes stay inside the href


def test_metrics_table_per_dataset_with_nested_values_and_the_locale_decimal_sign():
    raw = json.dumps({"vi_a": {"n": 625, "roc_auc": 0.8979, "confusion": [[491, 46], [29, 59]],
                               "at": {"precision": 0.75}},
                      "vi_b": {"n": 10, "macro_f1": 0.5, "flag": None}})
    table = metrics_table(raw, ",")
    assert table["columns"] == ["n", "roc_auc", "confusion", "at · precision", "macro_f1", "flag"]
    assert table["rows"][0] == ["vi_a", "625", "0,898", "491 46 / 29 59", "0,750", "", ""]
    assert table["rows"][1] == ["vi_b", "10", "", "", "", "0,500", ""]
    assert metrics_table(json.dumps({"accuracy": 0.9}))["rows"] == [["accuracy", "0.900"]]
    assert metrics_table("not json")["rows"] == [["", "not json"]]
    assert metrics_table(None) == {"columns": [], "rows": []}


def test_models_page_shows_the_card_as_html_and_the_metrics_as_a_table(world):
    path, _ = world
    database = db.connect(path)
    replace_models(database, [("v-test", "/m.skops", db.utcnow(), json.dumps({"vi_a": {"roc_auc": 0.9}}),
                               HOSTILE_CARD, 1)])
    database.conn.close()
    page = _client(path, "adm").get("/admin/models").get_data(as_text=True)
    assert '<table class="metrics">' in page and "<th>roc_auc</th>" in page and "<td>0,900</td>" in page
    assert "<h3>Card </h3>" in page and "# Card" not in page
    assert "<script>alert" not in page and "onerror" not in page
