"""The design's server side (issue 12 item 7): dates and numbers in the UI language through Babel, static
URLs that change with their content, and charts and stylesheets that render under the page's CSP."""

from __future__ import annotations

import re

from tests import helpers


def _page(client, path: str) -> str:
    return client.get(path).get_data(as_text=True)


def test_times_and_scores_follow_the_ui_language(world):  # switching language stores the user's choice
    path, info = world
    app = helpers.make_app(path)
    client = app.test_client()
    helpers.login(client, "ana")
    item = f"/items/{info['items']['high']}"
    vietnamese = _page(client, item)
    assert "20/11/2026 08:00" in vietnamese  # 01:00Z in Asia/Ho_Chi_Minh, day/month/year, 24-hour clock
    assert 'class="score-value">0,95<' in vietnamese
    assert not re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} \+07", vietnamese)  # no ISO left
    client.post("/locale", data={"locale": "en", "csrf_token": helpers.csrf_token(client, item)})
    english = _page(client, item)
    assert "Nov 20, 2026, 8:00 AM" in english
    assert 'class="score-value">0.95<' in english
    queue = _page(client, "/queue")
    assert '<td class="score">0.95</td>' in queue and "Nov 20, 2026" in queue


def test_static_urls_carry_a_content_version_and_may_be_cached(shared_app):  # reads only
    app, _, _ = shared_app
    client = app.test_client()
    page = _page(client, "/login")
    css = re.search(r'href="(/static/app\.css\?v=([0-9a-f]{12}))"', page)
    js = re.search(r'src="(/static/app\.js\?v=[0-9a-f]{12})"', page)
    assert css and js, page
    from web.render import content_version

    with open(app.static_folder + "/app.css", "rb") as handle:
        assert css.group(2) == content_version(handle.read())
    versioned = client.get(css.group(1))
    assert versioned.status_code == 200 and "immutable" in versioned.headers["Cache-Control"]
    assert "max-age=31536000" in versioned.headers["Cache-Control"]
    stale = client.get("/static/app.css?v=000000000000")  # an old page's URL: served, but not kept for a year
    assert stale.status_code == 200 and "immutable" not in stale.headers.get("Cache-Control", "")


def test_report_page_has_no_inline_style_for_the_csp_to_block(shared_app):  # reads only
    app, _, _ = shared_app
    client = app.test_client()
    helpers.login(client, "ana")
    response = client.get("/reports/?week=2026-W47")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]  # the CSP is not loosened
    assert "<svg" in page  # the charts are still inline
    assert "<style" not in page and " style=" not in page
    sheet = re.search(r'href="(/reports/report\.css\?v=[0-9a-f]{12})"', page)
    assert sheet, "the report's stylesheet is linked, not inlined"
    css = client.get(sheet.group(1))
    assert css.status_code == 200 and css.mimetype == "text/css" and ".report" in css.get_data(as_text=True)


def test_chart_svg_uses_presentation_attributes_only():
    from types import SimpleNamespace

    from monitor.reports import charts
    from monitor.reports.model import Table

    daily = Table("daily", "Daily", ["day", "crawled", "flagged"], [["2026-11-20", 5, 2], ["2026-11-21", 3, 1]])
    report = SimpleNamespace(table=lambda name: daily, lang="en")  # a chart reads its one table and its language
    svg = charts.svg(report, charts.CHARTS[0])  # type: ignore[arg-type]
    assert "style=" not in svg and "<style" not in svg
    assert 'fill="#2b6cb0"' in svg and 'text-anchor="middle"' in svg
    assert 'stroke-linejoin="round"' in svg.split(">", 1)[0]  # the sheet's default, moved to the root element


def test_numbers_follow_the_ui_language(shared_app):  # reads only
    app, _, _ = shared_app
    from web.render import localtime, number, score

    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert (number(1234567), score(0.87), score(None)) == ("1,234,567", "0.87", "—")
        assert localtime("2026-12-01T21:25:00Z") == "Dec 2, 2026, 4:25 AM"  # the service zone, UTC+7
    with app.test_request_context(headers={"Accept-Language": "vi"}):
        assert (number(1234567), score(0.87)) == ("1.234.567", "0,87")
        assert localtime("2026-12-01T21:25:00Z") == "02/12/2026 04:25"
        assert localtime("not a time") == "not a time" and localtime(None) == "—"
