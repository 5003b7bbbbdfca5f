"""Browser tests: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against a real
server on 127.0.0.1 — log in, triage three items with the keyboard, switch language, and check that
hostile crawled content executes nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import db
import db.decisions
import db.sources
from tests import helpers

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture()
def server(world):
    path, info = world
    database = db.connect(path)
    src = info["sources"]["thanhhoa"]
    info["hostile"] = [
        helpers.make_item(database, src, 900, title="<script>window.__pwned=1;alert('t')</script>",
                           text='<img src=x onerror="window.__pwned=2;alert(2)"> <svg onload="window.__pwned=3">'
                                '</svg> <style>body{display:none}</style>', misinformation=0.2,
                           url="javascript:window.__pwned=4"),
    ]
    database.conn.close()
    app = helpers.make_app(path, as_deployed=True, SECRET_KEY="browser-test", RATELIMIT_ENABLED=False)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", path, info
    srv.shutdown()
    thread.join(5)


@pytest.fixture()
def page():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context()
        pg = context.new_page()
        dialogs: list[str] = []
        pg.answer = None  # type: ignore[attr-defined]

        def on_dialog(dialog) -> None:
            dialogs.append(dialog.message)
            if pg.answer is not None:
                dialog.accept(pg.answer)
            else:
                dialog.dismiss()

        pg.on("dialog", on_dialog)
        pg.dialogs = dialogs  # type: ignore[attr-defined]
        yield pg
        context.close()
        browser.close()


def login(page, base: str, name: str = "mod") -> None:
    page.goto(f"{base}/queue")
    assert "/login" in page.url
    page.fill("#name", name)
    page.fill("#password", helpers.PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#queue")


def row_ids(page) -> list[int]:
    return [int(x) for x in page.eval_on_selector_all("tr.queue-row", "rows => rows.map(r => r.dataset.itemId)")]


def test_keyboard_triage_and_language_switch(server, page):
    base, path, info = server
    login(page, base)
    assert page.inner_text("h1") == "Hàng đợi kiểm duyệt"
    before = row_ids(page)
    assert len(before) == 5
    # Help is visible on demand.
    page.keyboard.press("?")
    assert page.is_visible("#shortcut-help")
    page.keyboard.press("?")
    triaged = []
    for key in ("c", "d", "h"):
        first = row_ids(page)[0]
        assert page.get_attribute("tr.queue-row.selected", "data-item-id") == str(first)
        with page.expect_navigation():
            page.keyboard.press(key)
        page.wait_for_selector("#queue")
        assert first not in row_ids(page)
        triaged.append(first)
    assert row_ids(page) == [i for i in before if i not in triaged]
    # j moves the selection; the selected row is visibly marked.
    page.keyboard.press("j")
    assert page.get_attribute("tr.queue-row.selected", "data-item-id") == str(row_ids(page)[1])
    database = db.connect(path)
    rows = database.conn.execute("SELECT item_id, action, new_status FROM decisions ORDER BY id").fetchall()
    database.conn.close()
    assert rows == [(triaged[0], "confirm_misinformation", "confirmed"), (triaged[1], "dismiss", "dismissed"),
                    (triaged[2], "confirm_harm", "confirmed")]
    # Switch to English and back.
    with page.expect_navigation():
        page.click("#locale-en")
    assert page.inner_text("h1") == "Review queue"
    with page.expect_navigation():
        page.click("#locale-vi")
    assert page.inner_text("h1") == "Hàng đợi kiểm duyệt"
    assert page.dialogs == []


def test_escalate_from_keyboard_asks_for_a_note(server, page):
    """e asks whom (the admins preselected, never the sender's own role) and a note, in one dialog."""
    base, path, info = server
    login(page, base)
    first = row_ids(page)[0]
    page.keyboard.press("e")
    page.wait_for_selector("#escalate-dialog[open]")
    assert page.input_value("#escalate-target") == "role:admin"
    page.click("#escalate-send")  # no note yet: the dialog stays open and nothing is sent
    assert page.is_visible("#escalate-dialog")
    page.fill("#escalate-note", "cần lãnh đạo xem")
    with page.expect_navigation():
        page.click("#escalate-send")
    page.wait_for_selector("#queue")
    assert first not in row_ids(page)
    database = db.connect(path)
    row = database.conn.execute("SELECT action, note FROM decisions").fetchone()
    target = database.conn.execute("SELECT target_role, target_user_id FROM escalations").fetchone()
    database.conn.close()
    assert row == ("escalate", "cần lãnh đạo xem")
    assert target == ("admin", None)
    assert page.dialogs == []  # no browser prompt: the note is asked in the page


def test_escalate_to_a_person_reaches_their_inbox(server, page):
    base, path, info = server
    login(page, base)
    first = row_ids(page)[0]
    page.keyboard.press("e")
    page.wait_for_selector("#escalate-dialog[open]")
    page.select_option("#escalate-target", f"user:{info['users']['mod2']}")
    page.fill("#escalate-note", "anh xem giúp tin này")
    with page.expect_navigation():
        page.click("#escalate-send")
    page.wait_for_selector("#queue")
    assert not page.query_selector("#inbox-count")  # the sender's own badge does not count it
    page.context.clear_cookies()
    login(page, base, "mod2")
    assert page.inner_text("#inbox-count") == "1"
    with page.expect_navigation():
        page.click("#nav-inbox")
    assert page.inner_text("tr.inbox-row .note") == "anh xem giúp tin này"
    assert page.inner_text("tr.inbox-row .sender") == "mod"
    page.fill("tr.inbox-row input[name=reply]", "đã chuyển Sở TTTT")
    with page.expect_navigation():
        page.click("tr.inbox-row button[type=submit]")
    assert page.is_visible("#inbox-empty") and not page.query_selector("#inbox-count")
    database = db.connect(path)
    assert database.conn.execute("SELECT reply FROM escalation_replies JOIN escalations USING (decision_id)"
                                 " WHERE item_id = ?", (first,)).fetchone() == ("đã chuyển Sở TTTT",)
    database.conn.close()


def _log(path) -> list[tuple]:
    database = db.connect(path)
    try:
        return database.conn.execute("SELECT item_id, action, old_status, new_status FROM decisions ORDER BY id").fetchall()
    finally:
        database.conn.close()


def test_undo_with_the_u_key(server, page):
    from db.decisions import verify_chain

    base, path, info = server
    login(page, base)
    first = row_ids(page)[0]
    with page.expect_navigation():
        page.keyboard.press("d")
    page.wait_for_selector("#undo-form")
    assert first not in row_ids(page)
    assert "Hoàn tác" in page.inner_text("#undo-form")
    with page.expect_navigation():
        page.keyboard.press("u")
    page.wait_for_selector("#queue")
    assert first in row_ids(page)
    assert not page.query_selector("#undo-form")  # offered once
    assert _log(path) == [(first, "dismiss", "flagged", "dismissed"), (first, "undo", "dismissed", "flagged")]
    database = db.connect(path)
    assert verify_chain(database) == []
    database.conn.close()
    assert page.dialogs == []  # no note asked for


def test_selection_keys_confirm_with_the_count_then_decide_the_selection(server, page):
    base, path, info = server
    login(page, base)
    ids = row_ids(page)
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")  # the highlighted row is a third, unselected one
    page.keyboard.press("d")  # the confirmation is dismissed: nothing is decided
    assert len(page.dialogs) == 1 and "2" in page.dialogs[0] and "Không vi phạm" in page.dialogs[0]
    assert _log(path) == []
    page.answer = ""
    with page.expect_navigation():
        page.keyboard.press("d")
    page.wait_for_selector("#queue")
    assert len(page.dialogs) == 2
    assert sorted(row[0] for row in _log(path)) == sorted(ids[:2])
    assert {row[1] for row in _log(path)} == {"dismiss"}
    assert ids[2] in row_ids(page) and not set(ids[:2]) & set(row_ids(page))
    with page.expect_navigation():  # the whole selection is undone at once
        page.keyboard.press("u")
    page.wait_for_selector("#queue")
    assert set(ids[:3]) <= set(row_ids(page))
    assert [row[1] for row in _log(path)] == ["dismiss", "dismiss", "undo", "undo"]


def test_hostile_item_executes_nothing(server, page):
    base, _, info = server
    login(page, base)
    item = info["hostile"][0]
    page.goto(f"{base}/items/{item}")
    page.wait_for_selector("#item-text")
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert "<script>window.__pwned=1" in page.inner_text("h1.item-title")
    assert "onerror=" in page.inner_text("#item-text")
    assert page.query_selector("#item-text img") is None and page.query_selector("#item-text svg") is None
    assert page.query_selector("#source-link") is None  # javascript: URL is not a link
    assert page.is_visible("body")  # the <style> payload did not hide the page
    page.goto(f"{base}/queue?status=flagged")
    assert page.evaluate("window.__pwned") is None and page.dialogs == []


def test_followup_action_reaches_the_followups_page_and_fits_390_px(server, page):
    """Issue 12 items 4 and 6: after a confirmation a moderator records a takedown request with a due date in
    the past; it is listed on /followups marked overdue, counted in the nav; a comment @-mentions a colleague."""
    base, path, info = server
    item = info["items"]["high"]
    login(page, base)
    page.goto(f"{base}/items/{item}")
    with page.expect_navigation():
        page.click("#action-confirm_misinformation")
    page.goto(f"{base}/items/{item}")
    page.select_option("#followup-kind", "takedown_requested")
    page.fill("#followup-platform", "Facebook")
    page.fill("#followup-due-on", "2020-01-31")
    page.fill("#followup-note", "<b>gửi qua biểu mẫu</b>")
    with page.expect_navigation():
        page.click("#followup-submit")
    assert "Facebook" in page.inner_text("#followup-table") and page.is_visible("#followup-table .overdue-mark")
    assert page.inner_text("#overdue-count") == "1"
    page.fill("#comment-body", "@mod2 xem giúp <i>nhé</i>")
    with page.expect_navigation():
        page.click("#comment-submit")
    assert page.inner_text("#comment-thread .comment-body") == "@mod2 xem giúp <i>nhé</i>"
    with page.expect_navigation():
        page.click("#nav-followups")
    row = page.query_selector("#followups tr.followup.overdue")
    assert row is not None and "Facebook" in row.inner_text() and "<b>gửi qua biểu mẫu</b>" in row.inner_text()
    for url in (f"{base}/followups", f"{base}/items/{item}"):
        page.set_viewport_size({"width": 390, "height": 900})
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width} px wide at 390 px"
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/followups")
    page.select_option("#followups tr.followup select[name=outcome]", "removed")
    with page.expect_navigation():
        page.click("#followups tr.followup .outcome-form button")
    assert page.is_visible("#followups-empty") and not page.query_selector("#overdue-count")
    page.context.clear_cookies()
    login(page, base, "mod2")
    assert page.inner_text("#inbox-count") == "1"
    page.goto(f"{base}/inbox")
    assert "@mod2 xem giúp <i>nhé</i>" in page.inner_text("tr.mention-row")
    database = db.connect(path)
    assert db.decisions.verify(database).problems == []
    database.conn.close()


PAGES = ("/queue", "/queue?view=items", "/queue?local=1", "/inbox", "/followups", "/items/{item}", "/reports/", "/dashboard", "/alerts/",
         "/alerts/subscriptions", "/admin/sources/", "/search?q=tin", "/admin/audit",
         "/admin/users", "/admin/tokens", "/admin/models", "/report", "/docs/api")


def test_every_page_fits_390_px_and_logs_no_console_error(server, page):
    """Issue 12 item 7: usable on a 390 px phone (nothing wider than the screen: wide tables scroll inside
    their wrapper) and nothing the CSP blocks (matplotlib's inline styles once drew the report charts black)."""
    base, _, info = server
    errors: list[str] = []
    page.on("console", lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    login(page, base, "adm")
    urls = [base + path.format(item=info["items"]["high"]) for path in PAGES]
    for locale in ("vi", "en"):
        with page.expect_navigation():
            page.click(f"#locale-{locale}")
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for url in urls:
                response = page.goto(url)
                assert response is not None and response.status == 200, url
                page.wait_for_load_state("networkidle")
                scroll_width = page.evaluate("document.documentElement.scrollWidth")
                assert scroll_width <= width, f"{url} at {width} px ({locale}) is {scroll_width} px wide"
    assert errors == []
    # The report charts draw in colour: the figure's background is white, not the black of a blocked style.
    page.goto(f"{base}/reports/")
    fills = page.eval_on_selector_all("figure.chart svg path", "paths => paths.slice(0, 3).map(p => getComputedStyle(p).fill)")
    assert fills and "rgb(255, 255, 255)" in fills, fills


def test_skip_link_is_the_first_tab_stop_and_moves_to_main(server, page):
    base, _, _ = server
    login(page, base)
    page.goto(f"{base}/dashboard")  # the queue page moves focus to its first row itself
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus is visible
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_save_evidence_button_lists_the_capture(world, page, tmp_path):
    """Issue 12 item 9: "Lưu bằng chứng" on the item page captures the post and the capture is listed, with
    a download link; the page still fits 390 px with the evidence table (it scrolls in its wrapper)."""
    from monitor import config as monitor_config
    from tests.servers import TestServer

    path, info = world
    with TestServer() as site:
        site.route("/post/7", b"<html><body><article><p>" + "Bài đăng sẽ bị xoá. ".encode() * 30
                   + b"</p></article></body></html>", headers={"Content-Type": "text/html; charset=utf-8"})
        database = db.connect(path)
        item_id = helpers.make_item(database, info["sources"]["thanhhoa"], 907, title="Bài sắp bị xoá",
                                    text="Nội dung", url=site.url("/post/7"))
        database.conn.close()
        settings = monitor_config.Settings(private_allowlist=[f"127.0.0.1:{site.port}"], host_delay=0)
        app = helpers.make_app(path, as_deployed=True, SECRET_KEY="browser-test", RATELIMIT_ENABLED=False,
                               SETTINGS=settings)
        srv = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        try:
            base = f"http://127.0.0.1:{srv.server_port}"
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            login(page, base)
            page.goto(f"{base}/items/{item_id}")
            assert page.inner_text("#capture-evidence") == "Lưu bằng chứng"
            assert page.locator("#evidence-list").count() == 0
            with page.expect_navigation():
                page.click("#capture-evidence")
            page.wait_for_selector("#evidence-list tr.capture-ok")
            row = page.inner_text("#evidence-list tr.capture-ok")
            assert "200" in row and "mod" in row and "bằng tay" in row
            link = page.get_attribute("#evidence-list tr.capture-ok a", "href")
            assert link and link.startswith("/evidence/")
            page.set_viewport_size({"width": 390, "height": 900})
            page.reload()
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            assert errors == []
        finally:
            srv.shutdown()
            thread.join(5)


def _add_story(path, info) -> tuple[int, list[int]]:
    """Three more copies of the "high" item's story (on two other sources, with long titles); (cluster, copies)."""
    database = db.connect(path)
    high = info["items"]["high"]
    cluster = database.conn.execute("SELECT cluster_id FROM items WHERE id = ?", (high,)).fetchone()[0]
    zalo = db.sources.ensure_source(database, "Zalo OA Tin tức địa phương", "rss", "https://zalo.example/rss", "vi")
    copies = [helpers.make_item(database, source, 700 + n, cluster_id=cluster, misinformation=0.5 + n / 10,
                                title=f"Bản sao {n}: tin giả về vắc-xin được chia sẻ rộng rãi trên mạng xã hội",
                                text=f"bản {n}")
              for n, source in enumerate((info["sources"]["vnexpress"], zalo, zalo))]
    database.conn.close()
    return cluster, copies


def test_keyboard_moves_between_stories_and_decides_one(server, page):
    """Issue 12 item 1: j/k move between story rows (not between copies); l lists the copies; c decides
    every open copy of the story at once, and u undoes them all."""
    base, path, info = server
    cluster, copies = _add_story(path, info)
    login(page, base)
    ids = row_ids(page)
    assert ids[0] == info["items"]["high"] and not set(copies) & set(ids)
    story = f'tr.queue-row[data-cluster-id="{cluster}"]'
    assert not page.is_visible(f"{story} details.copies li")
    page.keyboard.press("l")
    page.wait_for_selector(f"{story} details.copies li")  # the list is fetched when the row opens
    assert page.is_visible(f"{story} details.copies li")
    assert len(page.query_selector_all(f"{story} details.copies li")) == 4
    page.keyboard.press("j")
    assert page.get_attribute("tr.queue-row.selected", "data-item-id") == str(ids[1])
    page.keyboard.press("k")
    assert page.get_attribute("tr.queue-row.selected", "data-item-id") == str(ids[0])
    with page.expect_navigation():
        page.keyboard.press("c")
    page.wait_for_selector("#queue")
    log = _log(path)
    assert sorted(row[0] for row in log) == sorted([info["items"]["high"], *copies])
    assert {row[1] for row in log} == {"confirm_misinformation"}
    assert info["items"]["high"] not in row_ids(page)
    assert row_ids(page)[0] == ids[1]
    with page.expect_navigation():
        page.keyboard.press("u")
    page.wait_for_selector("#queue")
    assert row_ids(page)[0] == info["items"]["high"]
    assert [row[1] for row in _log(path)].count("undo") == 4
    assert page.dialogs == []


def test_story_rows_fit_390_px_with_their_copies_listed(server, page):
    base, path, info = server
    cluster, _copies = _add_story(path, info)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    login(page, base)
    page.set_viewport_size({"width": 390, "height": 900})
    for locale in ("vi", "en"):
        with page.expect_navigation():
            page.click(f"#locale-{locale}")
        page.click(f'tr.queue-row[data-cluster-id="{cluster}"] details.copies summary')
        page.wait_for_selector(f'tr.queue-row[data-cluster-id="{cluster}"] details.copies li')  # fetched on open
        assert page.is_visible(f'tr.queue-row[data-cluster-id="{cluster}"] details.copies li')
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the story queue is {width} px wide ({locale})"
    assert errors == []


def test_report_page_draws_its_charts_under_the_csp_in_vietnamese(page, tmp_path):
    """Issue 13 §1 and §4: the /reports/ page in Vietnamese with its charts in colour under the page's CSP
    (no inline style: the SVGs carry presentation attributes), at 1366 and 390 px. The screenshots go to
    $MONITOR_SCREENSHOTS when set, for a person to look at."""
    import os

    import db.users
    from tests.test_report_build import build_world

    path = tmp_path / "report.db"
    database = db.connect(path)
    build_world(database)
    db.users.add_user(database, "ana", helpers.PASSWORD, "analyst")
    database.conn.close()
    app = helpers.make_app(path, as_deployed=True, SECRET_KEY="browser-test", RATELIMIT_ENABLED=False)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_port}"
    shots = Path(os.environ.get("MONITOR_SCREENSHOTS") or tmp_path)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        page.goto(f"{base}/login")
        page.fill("#name", "ana")
        page.fill("#password", helpers.PASSWORD)
        with page.expect_navigation():
            page.click("#login-submit")
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            response = page.goto(f"{base}/reports/?week=2026-W47")
            assert response is not None and response.status == 200
            page.wait_for_load_state("networkidle")
            assert page.evaluate("document.documentElement.lang") == "vi"
            assert "Báo cáo giám sát" in page.inner_text("h1")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            charts = page.eval_on_selector_all("figure.chart svg", "svgs => svgs.map(s => s.getBoundingClientRect().width)")
            assert len(charts) == 4 and all(0 < chart <= width for chart in charts), charts
            # Bars in the report's blue, red and grey; the text of the axes in Vietnamese (days as 16/11).
            fills = set(page.eval_on_selector_all("figure.chart svg path", "ps => ps.map(p => getComputedStyle(p).fill)"))
            assert {"rgb(43, 108, 176)", "rgb(197, 48, 48)", "rgb(255, 255, 255)"} <= fills, fills
            labels = page.eval_on_selector_all("figure.chart svg text", "ts => ts.map(t => t.textContent)")
            assert "16/11" in labels and "Kỳ trước" in labels
            page.locator("section.charts").screenshot(path=str(shots / f"report-charts-{width}.png"))
            page.screenshot(path=str(shots / f"report-page-{width}.png"), full_page=False)
        assert errors == []
    finally:
        srv.shutdown()


def _early_warning_world(path, info) -> dict:
    """Issue 11's rows as ingest, the spike job and the alert sender leave them: a story about phường Hạc
    Thành on three sources repeating a claim an English-language fact-checker rated "false", a place spike on
    Thanh Hóa and a story spike, a failed alert whose error Apprise wrote as a log line, and a subscription."""
    from datetime import UTC, datetime, timedelta

    import db.alerts
    import db.known_claims
    import db.places
    import db.spikes
    from db.items import insert_item

    database = db.connect(path)
    now = datetime.now(UTC)
    claim_id, _new = db.known_claims.add(database, db.known_claims.NewClaim(
        text="Nước máy ở Thanh Hóa bị nhiễm độc", verdict="false", origin="claimreview",
        url="https://factcheck.example/nuoc-may", publisher="Fact Check VN"))
    sources = [db.sources.ensure_source(database, f"Nhóm Facebook {n}", "rss", f"https://fb.example/{n}", "vi")
               for n in range(3)]
    ids = []
    with db.transaction(database) as conn:
        cluster = conn.execute("INSERT INTO clusters (first_seen_at, last_seen_at) VALUES (?, ?)",
                               (db.to_iso(now), db.to_iso(now))).lastrowid
        for n, source in enumerate(sources):
            at = db.to_iso(now - timedelta(minutes=50 - 20 * n))
            item_id = insert_item(conn, {
                "source_id": source, "guid": f"hac{n}", "url": f"https://fb.example/p/{n}", "canonical_url":
                f"https://fb.example/p/{n}", "title": "Nước máy phường Hạc Thành bị nhiễm độc?",
                "text": f"Nước máy ở phường Hạc Thành, Thanh Hóa bị nhiễm độc ({n})", "published_at": at,
                "fetched_at": at, "language": "vi", "content_hash": f"hac{n}", "cluster_id": cluster,
                "score_misinformation": 0.9, "score_harm": 0.1, "explanation": {}, "model_version": "test-1",
                "status": "flagged", "flag_reasons": ["misinformation", "claim_match"],
                "top_reason": "Nước máy ở Thanh Hóa bị nhiễm độc", "about_jurisdiction": 1})
            db.clusters.note_source(conn, cluster, source, at)
            db.clusters.refresh_after_item(conn, cluster, item_id, at)
            db.places.record_places(conn, item_id, [("p:38", "province", "p:38"), ("c:14797", "commune", "p:38")])
            db.known_claims.record_matches(conn, item_id, [type("M", (), {"claim_id": claim_id, "similarity": 0.93})], at)
            ids.append(item_id)
        stamp = db.to_iso(now - timedelta(minutes=5))
        for rule, kind, subject, observed, expected in (("dia-ban", "place_rate", "p:38", 12.0, 1.5),
                                                         ("lan-nhanh", "story_sources", str(cluster), 3.0, None)):
            db.spikes.insert_spike(conn, {"rule": rule, "kind": kind, "subject": subject, "window_start": stamp,
                                          "fired_at": stamp, "observed": observed, "expected": expected},
                                   [(item_id, cluster) for item_id in ids])
        alert = db.alerts.add_alert(conn, story=cluster, item_id=ids[0], events=["claim_match", "spike"], reasons={},
                                    channel="truc-ban", user_id=None, digest=False, next_attempt_at=stamp, now=stamp)
    db.alerts.claim(database, [alert], stamp)
    db.alerts.mark_failed(database, [alert], "A Connection error occurred sending JSON notification to ….", None,
                          stamp)
    db.alerts.save_subscription(database, info["users"]["mod"], "webhook", "https://hooks.example.vn/x",
                                ["spike"], ["p:38", "c:14797"], True)
    database.conn.close()
    return {"items": ids, "cluster": cluster}


def test_early_warning_pages_name_places_and_fit_a_phone(server, page):
    """Issue 11's pages as a committee member reads them, in Vietnamese: places by name (never 'p:38'), the
    fact-checker's English verdict translated, spike counts that say what they count, a claim match's reason
    quoted as the debunked claim, the local badge in the queue, the spread chart readable on a phone and
    opened at its newest hours, an alert's error as the sender stored it."""
    base, path, info = server
    made = _early_warning_world(path, info)
    login(page, base)
    story = page.locator(f"tr.queue-row[data-item-id='{made['items'][0]}'], tr.queue-row[data-cluster-id='{made['cluster']}']").first
    assert story.locator(".about-local").inner_text() == "Về địa bàn"
    assert story.locator(".top-reason").inner_text() == "Đã bị bác bỏ: Nước máy ở Thanh Hóa bị nhiễm độc"
    assert story.locator(".top-reason q").inner_text() == "Nước máy ở Thanh Hóa bị nhiễm độc"  # quoted
    page.goto(f"{base}/items/{made['items'][0]}")
    assert "Kết luận: Sai" in page.inner_text("#claim-matches")
    spikes = page.inner_text("#spread-spikes")
    assert "Thanh Hóa — 12 tin trong một giờ" in spikes and "3 nguồn mới" in spikes and "p:38" not in spikes
    page.goto(f"{base}/dashboard")
    assert "Thanh Hóa" in page.inner_text("#spikes tr.spike-place_rate .spike-about")
    assert "p:38" not in page.inner_text("#spikes")
    page.goto(f"{base}/alerts/")
    assert page.inner_text("#alerts .alert-error").startswith("A Connection error occurred")
    page.goto(f"{base}/alerts/subscriptions")
    assert page.input_value("#subscription-form input[name=places]") == "Thanh Hóa, Phường Hạc Thành"
    assert "máy chủ chưa cấu hình" in page.inner_text("#subscription-form")  # e-mail and Telegram are not set up
    page.set_viewport_size({"width": 390, "height": 900})
    for url in ("/queue", "/queue?local=1", f"/items/{made['items'][0]}", "/dashboard", "/alerts/",
                "/alerts/subscriptions"):
        page.goto(base + url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
    page.goto(f"{base}/items/{made['items'][0]}")
    chart = page.evaluate("""() => { const f = document.querySelector('#spread-figure'),
        s = f.querySelector('svg').getBoundingClientRect(), b = f.getBoundingClientRect();
        return {svg: s.width, right: s.right, figure: b.right}; }""")
    assert chart["svg"] >= 600  # labels stay readable: the chart scrolls sideways in its figure
    assert abs(chart["right"] - chart["figure"]) <= 2, chart  # opened at its right end, the newest hours
