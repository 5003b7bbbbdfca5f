"""Issue 12 item 1: the queue shows one row per story (cluster), expandable to its copies; a decision on the
story decides its open copies, and a copy can still be decided apart."""

from __future__ import annotations

import html
import re

import pytest

import db
import db.queue
import db.sources
import db.tokens
from tests import helpers


@pytest.fixture()
def story(world):
    """The "high" item plus three copies of its story: two more on VnExpress (one already dismissed), and
    one on a third source; the best copy (highest priority) is the high item itself."""
    path, info = world
    database = db.connect(path)
    high = info["items"]["high"]
    cluster = database.conn.execute("SELECT cluster_id FROM items WHERE id = ?", (high,)).fetchone()[0]
    third = db.sources.ensure_source(database, "Zalo OA", "rss", "https://zalo.example/rss", "vi")
    vnexpress = info["sources"]["vnexpress"]
    copies = [
        helpers.make_item(database, vnexpress, 501, title="Bản sao vắc-xin trên VnExpress", text="bản 2",
                          cluster_id=cluster, misinformation=0.8, fetched_at="2026-11-20T02:00:00Z"),
        helpers.make_item(database, third, 502, title="Bản sao vắc-xin trên Zalo", text="bản 3",
                          cluster_id=cluster, misinformation=0.7, fetched_at="2026-11-20T03:00:00Z"),
        helpers.make_item(database, vnexpress, 503, title="Bản sao đã xử lý", text="bản 4", cluster_id=cluster,
                          status="dismissed", misinformation=0.6, fetched_at="2026-11-20T05:00:00Z"),
    ]
    database.conn.close()
    app = helpers.make_app(path, SCORER=None)
    client = app.test_client()
    assert helpers.login(client, "mod").status_code in (302, 303)
    client.post("/locale", data={"locale": "en"})
    return app, client, path, info, cluster, copies


def _row(page: str, item_id: int) -> str:
    match = re.search(rf'<tr class="queue-row[^"]*" data-item-id="{item_id}".*?</tr>', page, re.S)
    assert match, f"no row for item {item_id}"
    return match.group(0)


def _listed(row: str) -> dict[str, str]:
    """The story's open copies as the keys post them: version_<id> for each, from its versions_<cluster> field."""
    text = re.search(r'name="versions_\d+" value="([^"]*)"', row).group(1)
    return {f"version_{pair.split(':')[0]}": pair.split(":")[1] for pair in text.split(",")}


def _statuses(path, ids) -> dict[int, str]:
    database = db.connect(path)
    rows = dict(database.conn.execute(
        f"SELECT id, status FROM items WHERE id IN ({','.join('?' * len(ids))})", list(ids)).fetchall())
    database.conn.close()
    return rows


def test_one_row_per_story_with_copies_sources_best_title_and_velocity(story):
    _app, client, _path, info, cluster, copies = story
    page = client.get("/queue").get_data(as_text=True)
    shown = [int(x) for x in re.findall(r'<tr class="queue-row[^"]*" data-item-id="(\d+)"', page)]
    assert shown.count(info["items"]["high"]) == 1
    assert not set(copies) & set(shown), "a copy of a story got a row of its own"
    row = _row(page, info["items"]["high"])
    assert 'class="item-link">Tin giả về vắc-xin lan truyền</a>' in row  # the best copy's title
    assert '<td class="copy-count" title="Copies">4</td>' in row  # four copies in all, the decided one too
    assert '<td class="sources">3 sources</td>' in row  # Báo Thanh Hóa, VnExpress, Zalo OA
    assert '<td class="velocity">1/h</td>' in row  # four copies between 01:00 and 05:00: one an hour
    assert "20 Nov 2026" in row or "Nov 20, 2026" in row  # first seen, in the English format
    assert f'data-cluster-id="{cluster}"' in row and f'data-decide="/clusters/{cluster}/decide"' in row
    # A story of one copy stays a plain item row.
    assert f'data-decide="/items/{info["items"]["mid"]}/decide"' in _row(page, info["items"]["mid"])


def test_the_row_expands_to_list_its_copies(story):
    _app, client, _path, info, _cluster, copies = story
    row = _row(client.get("/queue").get_data(as_text=True), info["items"]["high"])
    details = re.search(r'<details class="copies">.*?</details>', row, re.S).group(0)
    assert "4 copies, 3 to decide" in details
    # The list itself is fetched when the row is opened (app.js), from the URL the row carries.
    url = html.unescape(re.search(r'data-copies-url="([^"]+)"', details).group(1))
    listing = client.get(url)
    assert listing.status_code == 200
    details += listing.get_data(as_text=True)
    listed = [int(x) for x in re.findall(r'data-copy-id="(\d+)"', details)]
    assert sorted(listed) == sorted([info["items"]["high"], *copies])
    assert listed[-1] == copies[2], "the decided copy comes after the open ones"
    assert "Bản sao vắc-xin trên Zalo" in details and "Zalo OA" in details
    # The open copies can be selected one by one; the dismissed one cannot.
    boxes = {int(x) for x in re.findall(r'name="item_id" value="(\d+)" class="select copy-select"', details)}
    assert boxes == {info["items"]["high"], copies[0], copies[1]}


def test_deciding_the_story_decides_its_open_copies(story):
    _app, client, path, info, cluster, copies = story
    row = _row(client.get("/queue").get_data(as_text=True), info["items"]["high"])
    versions = _listed(row)
    assert set(versions) == {f"version_{i}" for i in (info["items"]["high"], copies[0], copies[1])}
    response = client.post(f"/clusters/{cluster}/decide", data={"action": "confirm_misinformation", **versions})
    assert response.status_code == 303
    assert _statuses(path, [info["items"]["high"], *copies]) == {
        info["items"]["high"]: "confirmed", copies[0]: "confirmed", copies[1]: "confirmed",
        copies[2]: "dismissed"}  # the copy decided before keeps its decision
    assert f'data-item-id="{info["items"]["high"]}"' not in client.get("/queue").get_data(as_text=True)


def test_a_selected_story_decides_its_copies_from_the_bulk_form(story):
    _app, client, path, info, cluster, copies = story
    row = _row(client.get("/queue").get_data(as_text=True), info["items"]["high"])
    versions = re.search(r'name="(versions_\d+)" value="([^"]*)"', row).groups()
    assert versions[0] == f"versions_{cluster}"
    form = {"cluster": str(cluster), "action": "dismiss", versions[0]: versions[1],
            f"version_{info['items']['mid']}": "1"}  # another row's field, not selected: left alone
    assert client.post("/queue/bulk", data=form).status_code == 303
    statuses = _statuses(path, [info["items"]["high"], copies[0], copies[1], info["items"]["mid"]])
    assert statuses == {info["items"]["high"]: "dismissed", copies[0]: "dismissed", copies[1]: "dismissed",
                        info["items"]["mid"]: "flagged"}


def test_a_copy_is_decided_apart_and_the_story_stays(story):
    _app, client, path, info, cluster, copies = story
    row = _row(client.get("/queue").get_data(as_text=True), info["items"]["high"])
    listed = re.search(r'name="(versions_\d+)" value="([^"]*)"', row).groups()
    form = {"item_id": str(copies[1]), listed[0]: listed[1], "action": "dismiss"}  # the copy's box in the list
    assert client.post("/queue/bulk", data=form).status_code == 303
    assert _statuses(path, [copies[1], info["items"]["high"]]) == {copies[1]: "dismissed",
                                                                   info["items"]["high"]: "flagged"}
    row = _row(client.get("/queue").get_data(as_text=True), info["items"]["high"])
    assert "4 copies, 2 to decide" in row
    # From the item page too: one copy, not the story.
    assert client.post(f"/items/{copies[0]}/decide", data={"action": "confirm_harm", "version": "1"}).status_code == 303
    assert _statuses(path, [copies[0], info["items"]["high"]]) == {copies[0]: "confirmed",
                                                                   info["items"]["high"]: "flagged"}


def test_a_copy_that_joined_after_the_page_is_not_decided_blind(story):
    _app, client, path, info, cluster, copies = story
    row = _row(client.get("/queue").get_data(as_text=True), info["items"]["high"])
    listed = re.search(r'name="(versions_\d+)" value="([^"]*)"', row).groups()
    database = db.connect(path)
    late = helpers.make_item(database, info["sources"]["thanhhoa"], 504, title="Bản sao đến muộn", text="bản 5",
                             cluster_id=cluster)
    database.conn.close()
    form = {"cluster": str(cluster), "action": "dismiss", listed[0]: listed[1]}
    assert client.post("/queue/bulk", data=form).status_code == 303
    assert _statuses(path, [late, copies[0]]) == {late: "flagged", copies[0]: "dismissed"}


def test_claiming_a_story_claims_its_open_copies(story):
    _app, client, path, info, cluster, copies = story
    data = {"item_id": str(info["items"]["high"]), "cluster_id": str(cluster)}
    assert client.post("/claims", data=data).status_code == 303
    database = db.connect(path)
    claimed = {r[0] for r in database.conn.execute("SELECT item_id FROM claims")}
    database.conn.close()
    assert claimed == {info["items"]["high"], copies[0], copies[1]}


def test_the_per_item_view_and_the_api_still_list_every_item(story):
    app, client, _path, info, _cluster, copies = story
    page = client.get("/queue?view=items").get_data(as_text=True)
    shown = {int(x) for x in re.findall(r'data-item-id="(\d+)"', page)}
    assert {info["items"]["high"], copies[0], copies[1]} <= shown
    assert 'name="view" value="items"' in page  # the filter form keeps the view
    assert 'href="/queue"' in page or 'id="view-toggle"' in page
    database = db.connect(_path)
    token = db.tokens.create_token(database, info["users"]["mod"], "story test")
    database.conn.close()
    body = app.test_client().get("/api/v1/queue", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert {info["items"]["high"], copies[0], copies[1]} <= {item["id"] for item in body["items"]}


def test_filters_choose_the_best_matching_copy_and_pages_hold_each_story_once(story):
    _app, client, _path, info, _cluster, copies = story
    # Only the Zalo copy matches this source: the story is shown by it.
    database = db.connect(_path)
    zalo = database.conn.execute("SELECT source_id FROM items WHERE id = ?", (copies[1],)).fetchone()[0]
    database.conn.close()
    shown = re.findall(r'data-item-id="(\d+)"', client.get(f"/queue?source={zalo}").get_data(as_text=True))
    assert [int(x) for x in shown] == [copies[1]]
    # Pages of one story each: every story once, in the per-item queue's order of their best copies.
    app = helpers.make_app(_path, SCORER=None, QUEUE_PAGE_SIZE=1)
    paged = app.test_client()
    helpers.login(paged, "mod")
    items = info["items"]
    # The priority walk, and a date range (a narrow filter: sorted first, then checked a chunk at a time).
    for first in ("/queue", "/queue?from=2026-11-01&to=2026-11-30"):
        url, seen = first, []
        while url:
            page = paged.get(url).get_data(as_text=True)
            seen += [int(x) for x in re.findall(r'<tr class="queue-row[^"]*" data-item-id="(\d+)"', page)]
            following = re.search(r'href="([^"]+)" rel="next"', page)
            url = following.group(1).replace("&amp;", "&") if following else None
        assert seen == [items["high"], items["mid"], items["english"], items["low"]], first


def test_a_malformed_versions_field_is_a_400(story):
    _app, client, _path, info, cluster, _copies = story
    for value in ("x:1", "1:y", "1:99999999999999999999999", ":"):
        response = client.post("/queue/bulk", data={"cluster": str(cluster), "action": "dismiss",
                                                    f"versions_{cluster}": value})
        assert response.status_code == 400, value


def test_the_story_query_uses_its_index(story):
    _app, _client, path, _info, _cluster, _copies = story
    database = db.connect(path)
    plan = " ".join(str(row) for row in database.conn.execute(
        "EXPLAIN QUERY PLAN SELECT 1 FROM items AS better WHERE better.cluster_id = 1 AND better.status = 'flagged'"
        " AND better.priority >= 3"))
    database.conn.close()
    assert "items_cluster_queue" in plan


def test_the_copy_list_is_fetched_when_the_row_opens(story):
    """The page carries where to fetch the list (the copies' links lead back to this queue page, and on a page
    of decided items the copies in the status shown are the selectable ones); the list is read-only, so an
    analyst may read it too; an unknown story is a 404."""
    _app, client, _path, info, cluster, copies = story
    row = _row(client.get("/queue?language=vi").get_data(as_text=True), info["items"]["high"])
    url = html.unescape(re.search(r'data-copies-url="([^"]+)"', row).group(1))
    assert url.startswith(f"/clusters/{cluster}/copies?")
    listing = client.get(url).get_data(as_text=True)
    assert f'href="/items/{copies[0]}?next=%2Fqueue%3Flanguage%3Dvi"' in listing
    dismissed = client.get(f"/clusters/{cluster}/copies?status=dismissed").get_data(as_text=True)
    boxes = {int(x) for x in re.findall(r'name="item_id" value="(\d+)" class="select copy-select"', dismissed)}
    assert boxes == {copies[2]}
    assert 'next=%2Fqueue"' in dismissed  # no queue page given: back to the queue
    assert client.get("/clusters/999999/copies").status_code == 404
    analyst = _app.test_client()
    helpers.login(analyst, "ana")
    assert analyst.get(url).status_code == 200
    hostile = client.get(f"/clusters/{cluster}/copies?next=https://evil.example/").get_data(as_text=True)
    assert "evil.example" not in hostile


def test_a_story_longer_than_its_list_points_to_the_item_page(story, monkeypatch):
    _app, client, _path, info, _cluster, _copies = story
    monkeypatch.setattr(db.queue, "COPIES_SHOWN", 3)
    row = _row(client.get("/queue").get_data(as_text=True), info["items"]["high"])
    assert "All 4 copies are listed on the item page." in row
    monkeypatch.setattr(db.queue, "COPIES_SHOWN", 4)
    assert "copies are listed on the item page" not in _row(client.get("/queue").get_data(as_text=True),
                                                            info["items"]["high"])
