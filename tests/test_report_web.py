"""The reports page: analysts and admins only, week picker, charts, downloads, admin-level table."""

from __future__ import annotations

import io
import json
import re

import pytest

import db
import db.users
from tests import helpers
from tests.test_report_build import build_world

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def report_world(tmp_path_factory):
    """The report tests' hand-built week (test_report_build) and a user of each role, built once."""
    path = tmp_path_factory.mktemp("report-world") / "web.db"
    database = db.connect(path)
    build_world(database)
    for name, role in (("ana", "analyst"), ("adm", "admin"), ("mod", "moderator")):
        db.users.add_user(database, name, PASSWORD, role)
    database.conn.close()
    return path


@pytest.fixture()
def client_for(report_world, tmp_path):
    path = helpers.copy_database(report_world, tmp_path)
    app = helpers.make_app(path)

    def make(name: str | None):
        client = app.test_client()
        if name:
            response = client.post("/login", data={"name": name, "password": PASSWORD})
            assert response.status_code in (302, 303)
        return client
    return make


def test_anonymous_and_moderators_are_kept_out(client_for):
    assert client_for(None).get("/reports/?week=2026-W47").status_code in (302, 401)
    assert client_for("mod").get("/reports/?week=2026-W47").status_code == 403
    assert client_for("mod").get("/reports/download?week=2026-W47&format=csv").status_code == 403


def test_analyst_sees_report_with_charts_but_not_moderator_throughput(client_for):
    page = client_for("ana").get("/reports/?week=2026-W47")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # In the user's language, Vietnamese by default (issue 13 §1).
    assert "Báo cáo giám sát: tuần 47 năm 2026 (16/11/2026 – 22/11/2026)" in html and "<svg" in html
    assert 'data-table="crawled_by_source"' in html and "Báo Thanh Hóa" in html
    assert 'value="2026-W47" selected' in html  # the week picker shows the chosen week
    assert "Khối lượng xử lý của kiểm duyệt viên" not in html and "Moderator throughput" not in html
    # Crawled titles are escaped, never markup.
    assert '=HYPERLINK(&#34;x&#34;)' in html or "=HYPERLINK(&quot;x&quot;)" in html
    # The print layout comes with the report's stylesheet, linked (the page's CSP blocks an inline <style>).
    sheet = re.search(r'<link rel="stylesheet" href="(/reports/report\.css\?v=\w+)"', html)
    assert sheet and "@media print" in client_for("ana").get(sheet.group(1)).get_data(as_text=True)


def test_admin_sees_moderator_throughput(client_for):
    client = client_for("adm")
    html = client.get("/reports/?week=2026-W47").get_data(as_text=True)
    assert "Khối lượng xử lý của kiểm duyệt viên" in html and "mức quản trị" in html
    client.post("/locale", data={"locale": "en"})
    html = client.get("/reports/?week=2026-W47").get_data(as_text=True)
    assert "Monitoring report: week 47 of 2026" in html
    assert "Moderator throughput" in html and "admin-level" in html


def test_downloads_in_every_format(client_for):
    client = client_for("ana")
    data = json.loads(client.get("/reports/download?week=2026-W47&format=json").data)
    assert data["tables"]["summary"]["rows"][0]["value"] == 6
    assert "moderator_throughput" not in data["tables"]  # analysts do not get the admin-level table
    csv_response = client.get("/reports/download?week=2026-W47&format=csv&redact=1")
    assert "attachment" in csv_response.headers["Content-Disposition"]
    assert "0912 345 678" not in csv_response.get_data(as_text=True)
    import openpyxl
    workbook = openpyxl.load_workbook(io.BytesIO(client.get("/reports/download?week=2026-W47&format=xlsx").data))
    assert "Tóm tắt" in workbook.sheetnames  # the user's language: Vietnamese by default
    assert data["meta"]["lang"] == "vi" and data["tables"]["summary"]["labels"][0] == "Chỉ số"
    assert client.get("/reports/download?week=2026-W47&format=pdf").data.startswith(b"%PDF")
    client.post("/locale", data={"locale": "en"})
    workbook = openpyxl.load_workbook(io.BytesIO(client.get("/reports/download?week=2026-W47&format=xlsx").data))
    assert "Summary" in workbook.sheetnames
    assert "Monitoring report: week 47 of 2026" in client.get("/reports/download?week=2026-W47&format=html").get_data(
        as_text=True)
    assert client.get("/reports/download?week=2026-W47&format=exe").status_code == 404


def test_bad_period_is_a_clear_400(client_for):
    response = client_for("ana").get("/reports/?week=2026-W99")
    assert response.status_code == 400 and "2026 không có tuần ISO 99" in response.get_data(as_text=True)
    assert client_for("ana").get("/reports/?quarter=2026-Q4").status_code == 200


LONG = "A" * 5000


@pytest.mark.parametrize(("query", "field", "vietnamese"), [
    (f"from={LONG}&to=2026-01-01", "from", "phải là một ngày dạng 2026-11-16"),
    (f"from=2026-01-01&to={LONG}", "to", "phải là một ngày dạng 2026-11-16"),
    (f"week={LONG}", "week", "phải là một tuần ISO dạng 2026-W47"),
    (f"quarter={LONG}", "quarter", "phải là một quý dạng 2026-Q4"),
    ("week=1900-W01", "week", "phải thuộc các năm từ 1970 đến 2100"),
    ("from=2026-01-01", "from", "phải được nhập cùng nhau"),
    ("from=2026-02-01&to=2026-01-01", "to", "ở trước ngày"),
    ("week=2026-W47&quarter=2026-Q4", "week", "Chỉ chọn một"),
])
def test_period_errors_name_the_web_field_quote_the_value_shortened_and_speak_vietnamese(
        client_for, query, field, vietnamese):
    """issue 15 follow-up 12: the messages were the CLI's ("--from 'AAAA…(5,000 chars)' is not a date"),
    in English inside the Vietnamese UI, on the page and as the text/plain download answer."""
    client = client_for("ana")
    for path in ("/reports/", "/reports/download?format=csv&"):
        response = client.get(path + ("?" if path == "/reports/" else "") + query)
        text = response.get_data(as_text=True)
        assert response.status_code == 400
        assert f"“{field}”" in text and vietnamese in text
        shown = re.sub(r'value="[^"]*"', "", text.split("<main>")[-1])  # a random CSRF token may hold "--"
        assert not re.search(r"--[a-z]", shown)  # no CLI flag names ("--from", "--week")
        assert "A" * 41 not in text  # the value is quoted through web.params.shown(): 40 characters at most
        if path.startswith("/reports/download"):
            assert response.mimetype == "text/plain" and len(text) < 300


def test_period_errors_drop_bidi_controls_and_follow_the_users_language(client_for):
    client = client_for("ana")
    response = client.get("/reports/?week=2026-W4\u202e7")
    assert response.status_code == 400 and "\u202e" not in response.get_data(as_text=True)
    download = client.get("/reports/download?format=json&quarter=\u202e2026-Q4")
    assert download.status_code == 400 and "\u202e" not in download.get_data(as_text=True)
    client.post("/locale", data={"locale": "en"})
    text = client.get("/reports/?week=2026-W99").get_data(as_text=True)
    assert "Parameter “week”: 2026 has no ISO week 99 (got “2026-W99”)." in text


def test_the_audit_verify_page_shows_account_names_without_bidi_controls(world):
    """issue 15 follow-up 12: a renamed account's name with U+202E (right-to-left override) was shown raw on
    /admin/audit/verify, so the problem's text read backwards from that point."""
    path, info = world
    app = helpers.app_after_one_decision(path, info)
    database = db.connect(path)
    database.conn.execute("UPDATE users SET name = 'mod\u202egnp.exe' WHERE name = 'mod'")
    database.conn.close()
    adm = app.test_client()
    helpers.login(adm, "adm")
    page = adm.get("/admin/audit/verify").get_data(as_text=True)
    assert "renamed" in page or "is now called" in page
    assert "\u202e" not in page and "mod?gnp.exe" in page


def test_dollar_signs_in_source_names_render_the_report_page(client_for):
    """issue 15 item 16: "$...$" in a source name was parsed as maths by the charts and gave a 500."""
    from test_report_formats import DOLLAR_NAMES, chart_texts, rename_sources_with_dollars

    client = client_for("ana")
    database = db.connect(client.application.config["DATABASE"])
    rename_sources_with_dollars(database)
    database.conn.close()
    page = client.get("/reports/?week=2026-W47")
    assert page.status_code == 200
    assert set(DOLLAR_NAMES) <= chart_texts(page.get_data(as_text=True))
    assert client.get("/reports/download?week=2026-W47&format=pdf").data.startswith(b"%PDF")


def test_the_web_period_is_at_most_366_days_with_a_message_in_the_users_language(client_for):
    """issue 15 item 12: /reports/?from=1900-01-01&to=2100-12-31 held a server thread at 80 % CPU for minutes."""
    client = client_for("ana")
    for query in ("from=2025-01-01&to=2026-01-02", "from=1971-01-01&to=2100-12-31"):
        response = client.get(f"/reports/?{query}")
        text = response.get_data(as_text=True)
        assert response.status_code == 400 and "366" in text and "monitor report" in text
        assert "báo cáo trên giao diện web" in text  # Vietnamese by default
        download = client.get(f"/reports/download?format=json&{query}")
        assert download.status_code == 400 and "366" in download.get_data(as_text=True)
    assert client.get("/reports/?from=1900-01-01&to=2100-12-31").status_code == 400
    assert client.get("/reports/download?format=json&from=2024-01-01&to=2024-12-31").status_code == 200  # 366 days
    client.post("/locale", data={"locale": "en"})
    text = client.get("/reports/?from=2025-01-01&to=2026-01-02").get_data(as_text=True)
    assert "367 days long" in text and "at most 366 days" in text
