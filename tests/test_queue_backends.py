"""The moderators' queue at the storage layer (db/queue.py), on SQLite and PostgreSQL: priority order and
keyset pages, the filters, one row per story with its velocity and open copies, claims, and decisions that
respect claims and versions. The web tests (test_queue_filter.py, test_story_rows.py) drive the same
functions through the pages on SQLite."""

from __future__ import annotations

import pytest

import db
from db.queue import ClaimError, QueueFilter, bulk_decide, claim, claim_of, queue, release, stories, story_copies
from tests import helpers


@pytest.fixture()
def world_db(any_world):
    path, info = any_world
    database = db.connect(path)
    yield database, info
    database.conn.close()


def _ids(page) -> list[int]:
    return [row["id"] for row in page.items]


def test_pages_walk_the_queue_in_priority_order_each_item_once(world_db):
    database, info = world_db
    items = info["items"]
    expected = [items["high"], items["mid"], items["english"], items["low"]]  # 10 × score, +2 a day later
    first = queue(database, limit=3)
    assert _ids(first) == expected[:3] and first.next_after is not None
    second = queue(database, limit=3, after=first.next_after)
    assert _ids(second) == expected[3:] and second.next_after is None
    row = first.items[0]
    assert row["top_score"] == pytest.approx(0.95) and row["source_name"] == "Báo Thanh Hóa"
    assert row["explanation"] == {} and isinstance(row["velocity"], float)


def test_filters_narrow_the_queue(world_db):
    database, info = world_db
    items, sources = info["items"], info["sources"]
    assert _ids(queue(database, QueueFilter(language="en"))) == [items["english"]]
    assert _ids(queue(database, QueueFilter(source_id=sources["thanhhoa"]))) == [items["high"], items["low"]]
    assert _ids(queue(database, QueueFilter(category="misinformation"))) == \
        [items["high"], items["mid"], items["english"], items["low"]]
    assert _ids(queue(database, QueueFilter(category="harm"))) == []
    assert _ids(queue(database, QueueFilter(date_from="2026-11-21T00:00:00Z"))) == [items["mid"]]
    assert _ids(queue(database, QueueFilter(date_to="2026-11-21T00:00:00Z"))) == \
        [items["high"], items["english"], items["low"]]
    assert _ids(queue(database, QueueFilter(status="new"))) == [items["new"]]
    assert _ids(queue(database, QueueFilter(about_jurisdiction=1))) == []


def test_stories_show_one_row_per_cluster_with_its_open_copies(world_db):
    database, info = world_db
    high, vnexpress = info["items"]["high"], info["sources"]["vnexpress"]
    cluster = database.conn.execute("SELECT cluster_id FROM items WHERE id = ?", (high,)).fetchone()[0]
    copy = helpers.make_item(database, vnexpress, 601, title="Bản sao", text="bản 2", cluster_id=cluster,
                             misinformation=0.8, fetched_at="2026-11-20T03:00:00Z")
    page = stories(database, limit=10)
    rows = {row["id"]: row for row in page.items}
    assert copy not in rows and high in rows  # the best copy stands for its story
    story = rows[high]
    assert story["cluster_size"] == 2 and story["cluster_sources"] == 2
    assert story["velocity"] == pytest.approx(1.0)  # 2 copies over 2 hours
    assert story["open_versions"] == {high: 1, copy: 1}
    narrow = stories(database, QueueFilter(source_id=vnexpress), limit=10)
    assert copy in _ids(narrow) and high not in _ids(narrow)  # under the filter its best copy is this one
    copies = story_copies(database, [cluster])[cluster]
    assert [row["id"] for row in copies] == [high, copy]


def test_claims_block_others_decisions_and_a_bulk_decision_reports_each_item(world_db):
    database, info = world_db
    items, users = info["items"], info["users"]
    claim(database, [items["high"]], users["mod2"])
    assert claim_of(database, items["high"])["user_name"] == "mod2"
    with pytest.raises(ClaimError):
        claim(database, [items["low"], items["high"]], users["mod"])  # all or nothing
    assert claim_of(database, items["low"]) is None
    claimed = queue(database, QueueFilter(claimed_by=users["mod2"]))
    assert _ids(claimed) == [items["high"]] and claimed.items[0]["claim_user"] == "mod2"
    result = bulk_decide(database, {items["high"]: 1, items["mid"]: 1, items["low"]: 7, 10_000: 1},
                         user_id=users["mod"], action="dismiss", new_status="dismissed", note="")
    assert result.done == [items["mid"]] and len(result.decisions) == 1
    assert [error.item_id for error in result.claimed] == [items["high"]]
    assert [error.item_id for error in result.stale] == [items["low"]]
    assert result.missing == [10_000]
    assert release(database, [items["high"]], users["mod2"]) == 1
    again = bulk_decide(database, {items["high"]: 1}, user_id=users["mod"], action="escalate",
                        new_status="escalated", note="", target_role="admin")
    assert again.done == [items["high"]]
    targets = db.queue.escalation_targets(database, items["high"])
    assert [row["target_role"] for row in targets.values()] == ["admin"]
    assert db.decisions.verify_chain(database) == []
