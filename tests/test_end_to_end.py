"""The whole loop through real components.

The project's own feeds (the demo's Vietnamese, French and English samples and the tests' 25-item
Vietnamese feed), or where the shared corpus is, recorded real feeds (VnExpress, the Guardian) with the
demo's Vietnamese sample, are served from 127.0.0.1 → `monitor crawl` stores each item once → items are scored by the shipped model →
flagged items reach the queue of a logged-in moderator → the moderator confirms one with a note →
the decision row holds user, time, old and new status → the weekly CSV export contains it.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from importlib import resources
from zoneinfo import ZoneInfo

import feedparser
import pytest

import db
from monitor.cli import main
from monitor.text.urls import canonical_url
from tests import corpus, helpers
from tests.servers import TestServer

DEMO = resources.files("monitor") / "demo_data"
VIETNAMESE = corpus.REALWORLD / "feeds" / "vietnamese"
# source name → (path served, feed file); the demo's fake-news posts are what gets flagged in both sets
PROJECT_FEEDS = {
    "Tin tổng hợp": ("/tin-tong-hop.rss", corpus.FIXTURES / "feeds" / "tin-tong-hop.rss"),
    "Actualités": ("/actualites.rss", DEMO / "actualites.rss"),
    "World news": ("/world-news.atom", DEMO / "world-news.atom"),
    "Tin địa phương": ("/tin-dia-phuong.rss", DEMO / "tin-dia-phuong.rss"),
}
RECORDED_FEEDS = {
    "VnExpress tin mới": ("/vnexpress/tin-moi-nhat.rss",
                          VIETNAMESE / "vnexpress_tin-moi-nhat_20170419-1949_from-vanpho93-javascript0704b6.xml"),
    "VnExpress thời sự": ("/vnexpress/thoi-su.rss",
                          VIETNAMESE / "vnexpress_thoi-su_20170325-2042_from-vanpho93-javascript1603b5.xml"),
    "Guardian": ("/guardian.rss", corpus.REALWORLD / "feeds" / "other" / "rss-parser" / "guardian.rss"),
    "Tin địa phương": ("/tin-dia-phuong.rss", DEMO / "tin-dia-phuong.rss"),
}
PASSWORD = "moderator-password"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(params=[pytest.param(PROJECT_FEEDS, id="project-feeds"),
                        corpus.param(RECORDED_FEEDS, needs="realworld", id="recorded-feeds")])
def feeds(request) -> dict:
    return request.param


@pytest.fixture
def site(feeds):
    with TestServer() as server:
        for path, file in feeds.values():
            server.route(path, file.read_bytes(), content_type="application/rss+xml")
        yield server.url("").rstrip("/")


@pytest.fixture
def setup(tmp_path, site, feeds, monkeypatch, capsys):
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_NETWORKS", "1")
    db_path = tmp_path / "monitor.db"
    feeds_yaml = tmp_path / "feeds.yaml"
    lines = ["settings:", "  host_delay: 0", "sources:"]
    for name, path in [*((name, path) for name, (path, _) in feeds.items()), ("Broken", "/missing.rss")]:
        lines += [f"  - name: {name}", "    kind: rss", f"    url: {site}{path}", "    interval: 15m"]
    feeds_yaml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = ["--db", str(db_path), "--feeds", str(feeds_yaml)]
    monkeypatch.setenv("MONITOR_ADMIN_PASSWORD", "admin-password")
    assert run_cli(capsys, *base, "init", "--admin", "admin")[0] == 0
    monkeypatch.setenv("MONITOR_PASSWORD", PASSWORD)
    assert run_cli(capsys, *base, "users", "add", "mod", "--role", "moderator")[0] == 0
    return base, db_path


def expected_links(feeds: dict) -> set[str]:
    links = set()
    for _, file in feeds.values():
        for entry in feedparser.parse(file.read_bytes()).entries:
            links.add(canonical_url(entry.link.strip()))
    return links


def login(client, name: str, password: str):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


def csrf_from(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_crawl_score_review_decide_export(setup, feeds, capsys, tmp_path):
    base, db_path = setup

    # 1. One crawl pass: the good sources store items, the broken one records an error, exit code 0.
    code, out, _ = run_cli(capsys, *base, "crawl", "--json")
    assert code == 0
    results = {r["source"]: r for r in map(json.loads, out.splitlines())}
    assert results["Broken"]["status"] == "error" and "404" in results["Broken"]["error"]
    for name in feeds:
        assert results[name]["status"] == "ok" and results[name]["new"] > 0, results[name]

    database = db.connect(db_path)
    stored = database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    assert stored == sum(r["new"] for r in results.values())
    stored_links = {row[0] for row in database.conn.execute("SELECT canonical_url FROM items")}
    assert stored_links == expected_links(feeds)  # every entry, each exactly once

    # 2. A second crawl of the unchanged sources adds nothing.
    code, out, _ = run_cli(capsys, *base, "crawl", "--json")
    assert code == 0
    assert all(json.loads(line)["new"] == 0 for line in out.splitlines())
    assert database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == stored

    # 3. Every item was scored by the shipped model; some were flagged.
    unscored = database.conn.execute(
        "SELECT COUNT(*) FROM items WHERE score_misinformation IS NULL OR score_harm IS NULL"
        " OR model_version IS NULL").fetchone()[0]
    assert unscored == 0
    flagged = list(database.query("SELECT id, title, version FROM items WHERE status = 'flagged'"
                                  " ORDER BY score_misinformation DESC"))
    assert flagged, "the sample feed's fake-news posts should be flagged"

    # 4. The moderator sees the flagged items in the queue and confirms one with a note (CSRF tokens and all).
    app = helpers.make_app(db_path, as_deployed=True, TESTING=True, SECRET_KEY="test")
    client = app.test_client()
    assert client.get("/queue").status_code in (302, 401)  # login required
    assert login(client, "mod", PASSWORD).status_code in (302, 303)
    queue_page = client.get("/queue").get_data(as_text=True)
    target = flagged[0]
    assert f"/items/{target['id']}" in queue_page
    item_page = client.get(f"/items/{target['id']}").get_data(as_text=True)
    before = datetime.now(UTC).replace(microsecond=0)
    response = client.post(f"/items/{target['id']}/decide", data={
        "action": "confirm_misinformation", "note": "Sai sự thật: đã đối chiếu với Bộ Y tế",
        "version": str(target["version"]), "csrf_token": csrf_from(item_page)})
    assert response.status_code in (302, 303)

    decision = list(database.query("SELECT decisions.*, users.name AS user_name FROM decisions"
                                   " JOIN users ON users.id = decisions.user_id"))
    assert len(decision) == 1
    row = decision[0]
    assert row["user_name"] == "mod" and row["item_id"] == target["id"]
    assert (row["old_status"], row["new_status"]) == ("flagged", "confirmed")
    assert row["note"] == "Sai sự thật: đã đối chiếu với Bộ Y tế"
    assert db.from_iso(row["created_at"]) >= before
    assert row["created_at"].endswith("Z")

    # A stale page (the old version) cannot decide the same item again.
    stale = client.post(f"/items/{target['id']}/decide", data={
        "action": "dismiss", "note": "", "version": str(target["version"]), "csrf_token": csrf_from(item_page)})
    assert stale.status_code == 409
    assert database.conn.execute("SELECT status FROM items WHERE id = ?", (target["id"],)).fetchone()[0] == "confirmed"

    # 5. The weekly CSV export contains the decision.
    week = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).isocalendar()
    out_path = tmp_path / "week.csv"
    code, _, err = run_cli(capsys, *base, "report", "--week", f"{week.year}-W{week.week:02d}", "--format", "csv",
                           "--out", str(out_path))
    assert code == 0, err
    rows = list(csv.DictReader(out_path.open(encoding="utf-8")))
    text = out_path.read_text(encoding="utf-8")
    assert "Sai sự thật: đã đối chiếu với Bộ Y tế" in text
    assert any(str(target["id"]) in row.values() and "mod" in row.values() for row in rows)
