"""Reasons a moderator can read (issue 18): scores beside thresholds, terms with their share, rule hits by
name (patterns for admins only), reasons marked in the text, the top reason in the queue row."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

import db
from db.sources import ensure_source, get_source
from monitor.domain import RawItem
from monitor.pipeline import ingest
from tests import helpers
from web.reasons import highlight

PATTERN = r"uống\s.{0,60}chữa\s+khỏi\s+(covid|ung thư)"
EXPLANATION = {
    "terms": {"misinformation": [{"term": "chia sẻ gấp", "contribution": 0.41}, {"term": "bác sĩ", "contribution": 0.12}],
              "harm": [{"term": "ngu", "contribution": 0.3}]},
    "rules": [{"category": "misinformation", "name": "Tin đồn uống là chữa khỏi bệnh", "rule": PATTERN,
               "match": "Uống nước gừng mỗi sáng chữa khỏi Covid"}],
    "kind": "post", "thresholds": {"misinformation": 0.62, "harm": 0.7},
}


@pytest.fixture()
def setup(world):
    path, info = world
    database = db.connect(path)
    info["items"]["reasons"] = helpers.make_item(
        database, info["sources"]["thanhhoa"], 20, misinformation=0.91, harm=0.08, explanation=EXPLANATION,
        title="Chia sẻ gấp: bí quyết của bác sĩ",
        text="Mọi người CHIA SE GAP nhé. Uống nước gừng mỗi sáng chữa khỏi Covid. Nguồn tin ngu xuẩn, Ngu thật.")
    with db.transaction(database) as conn:
        conn.execute("UPDATE items SET top_reason = 'Tin đồn uống là chữa khỏi bệnh' WHERE id = ?",
                     (info["items"]["reasons"],))
    database.conn.close()
    app = helpers.make_app(path)
    return app, path, info


def page_for(app, user: str, item_id: int, locale: str | None = None) -> str:
    client = app.test_client()
    helpers.login(client, user)
    if locale:
        client.post("/locale", data={"locale": locale})
    return client.get(f"/items/{item_id}").get_data(as_text=True)


def section(page: str, start: str, end: str) -> str:
    return page[page.index(start):page.index(end, page.index(start))]


def test_item_page_marks_terms_and_rule_spans_ignoring_case_and_tone_marks(setup):
    app, _, info = setup
    page = page_for(app, "mod", info["items"]["reasons"])
    title = section(page, '<h1 class="item-title">', "</h1>")
    text = section(page, 'id="item-text">', "</div>")
    assert "<mark>Chia sẻ gấp</mark>: bí quyết của <mark>bác sĩ</mark>" in title
    assert "Mọi người <mark>CHIA SE GAP</mark> nhé." in text  # typed without tone marks, in capitals
    assert "<mark>Uống nước gừng mỗi sáng chữa khỏi Covid</mark>." in text  # the rule's matched span
    assert "Nguồn tin <mark>ngu</mark> xuẩn, <mark>Ngu</mark> thật." in text  # whole words only: not "Nguồn"


def test_item_page_shows_score_beside_threshold_and_what_each_term_adds(setup):
    app, _, info = setup
    page = page_for(app, "ana", info["items"]["reasons"])
    misinformation = section(page, 'id="category-misinformation"', "</section>")
    assert re.search(r'class="score-value">0,91<.*class="threshold-value">0,62<', misinformation, re.S)
    assert "bị gắn cờ" in misinformation  # flagged in this category
    # a contribution is log-odds added to the score, in the UI's number format (not a share: no "%")
    assert "<li><mark>chia sẻ gấp</mark> <span" in misinformation and ">+0,41</span>" in misinformation
    harm = section(page, 'id="category-harm"', "</section>")
    assert re.search(r'class="score-value">0,08<.*class="threshold-value">0,70<', harm, re.S)
    assert "bị gắn cờ" not in harm
    assert 'id="item-kind">bài đăng<' in page
    english = page_for(app, "ana", info["items"]["reasons"], locale="en")
    assert 'class="score-value">0.91<' in english and 'class="threshold-value">0.62<' in english


@pytest.mark.parametrize(("user", "sees_pattern"), [("mod", False), ("ana", False), ("adm", True)])
def test_rule_hits_by_name_and_the_pattern_only_for_admins(setup, user, sees_pattern):
    app, _, info = setup
    page = page_for(app, user, info["items"]["reasons"])
    rules = section(page, 'id="rules"', "</ul>")
    assert '<strong class="rule-name">Tin đồn uống là chữa khỏi bệnh</strong>' in rules
    assert ("chữa\\s+khỏi" in page) is sees_pattern
    assert ("rule-pattern" in page) is sees_pattern


def test_old_format_explanation_still_renders(setup):
    app, _, info = setup
    page = page_for(app, "mod", info["items"]["high"])  # terms as plain strings, a rule without a name
    assert "<li><mark>tin giả</mark></li><li><mark>chia sẻ</mark></li>" in page  # no share shown
    assert '<strong class="rule-name">lời đồn</strong>' in page  # named by its text, for everyone
    assert "&lt;b&gt;uống nước muối&lt;/b&gt;" in page  # the stored match, escaped
    assert re.search(r'class="score-value">0,95<.*class="threshold-value">—<', page, re.S)  # no threshold kept
    assert "item-kind" not in page
    assert "<mark>Tin giả</mark> về vắc-xin" in section(page, '<h1 class="item-title">', "</h1>")


def test_hostile_text_terms_and_rules_reach_the_page_escaped(setup):
    app, path, info = setup
    hostile = {
        "terms": {"misinformation": [{"term": "</script>", "contribution": 0.5}, {"term": "<b", "contribution": 0.2},
                                     {"term": 'onerror=alert(1)"', "contribution": 0.1}]},
        "rules": [{"category": "harm", "name": "<i>tên</i>", "rule": "<svg onload=alert(1)>",
                   "match": '<b title="x">đậm</b>'}],
        "kind": "comment", "thresholds": {"misinformation": 0.5},
    }
    database = db.connect(path)
    item_id = helpers.make_item(
        database, info["sources"]["thanhhoa"], 30, explanation=hostile, title='<script>alert(1)</script> <b',
        text='Xem <img src=x onerror=alert(1)"> và <b title="x">đậm</b> rồi </script> a <b>b</b> & "q"')
    database.conn.close()
    page = page_for(app, "adm", item_id)
    for tag in ("<script>alert", "<img", "<b ", "<b>", "<i>", "<svg onload"):
        assert tag not in page
    assert {m for m in re.findall(r"<mark[^>]*>", page)} == {"<mark>"}  # only our own tags, no attributes
    for start, end in (('<h1 class="item-title">', "</h1>"), ('id="item-text">', "</div>")):
        marked = section(page, start, end).split(">", 1)[1]
        assert not re.search(r"[<>\"]", re.sub(r"</?mark>", "", marked)), marked
    assert "rồi <mark>&lt;/script&gt;</mark> a" in page  # a term that is itself markup, marked and escaped
    assert "<mark>&lt;b title=&#34;x&#34;&gt;đậm&lt;/b&gt;</mark>" in page  # the rule's span
    assert "onerror=alert(1)&#34;" in page
    assert "&lt;svg onload=alert(1)&gt;" in page and "&lt;i&gt;tên&lt;/i&gt;" in page  # admin: pattern escaped


def test_highlight_merges_overlaps_and_skips_empty_terms():
    title, text = highlight(["tiêu đề", "Chia sẻ gấp đi, chia sẻ"], ["chia sẻ", "chia sẻ gấp", " ", ""], ["gấp đi"])
    assert str(title) == "tiêu đề"
    assert str(text) == "<mark>Chia sẻ gấp đi</mark>, <mark>chia sẻ</mark>"
    # a regex rule may match inside a word: its span is still marked
    assert str(highlight(["uống covid19"], [], ["uống covid"])[0]) == "<mark>uống covid</mark>19"


def test_queue_row_shows_the_top_reason(setup):
    app, _, info = setup
    client = app.test_client()
    helpers.login(client, "mod")
    page = client.get("/queue").get_data(as_text=True)
    row = section(page, f'data-item-id="{info["items"]["reasons"]}"', "</tr>")
    assert '<span class="top-reason">Lý do: Tin đồn uống là chữa khỏi bệnh</span>' in row
    assert '<td class="score">0,91</td>' in row


@dataclass
class RuleScores:
    """What the pipeline reads from a scorer's result (classifiers.model.Scores' contract)."""

    misinformation: float
    harm: float
    flagged: list[str]
    explanations: dict = field(default_factory=dict)
    rule_hits: list[dict] = field(default_factory=list)
    model_version: str = "fake-2"
    kind: str = "article"
    thresholds: dict = field(default_factory=lambda: {"misinformation": 0.55, "harm": 0.8})

    def top_reason(self) -> str:
        return self.rule_hits[0]["name"]


class RuleScorer:
    def score(self, texts: list[str], kinds: list[str] | None = None) -> list[RuleScores]:
        return [RuleScores(0.7, 0.1, ["misinformation"], {"misinformation": [{"term": "gấp", "contribution": 0.2}]},
                           [{"category": "misinformation", "name": "Kêu gọi chia sẻ gấp", "rule": "chia sẻ gấp",
                             "match": "chia sẻ gấp"}]) for _ in texts]


def test_pipeline_stores_kind_thresholds_and_top_reason_for_queue_and_item_page(setup):
    app, path, info = setup
    database = db.connect(path)
    source = get_source(database, info["sources"]["vnexpress"])
    result = ingest(database, source, [RawItem(guid="r1", title="Tin nóng", text="Mọi người chia sẻ gấp nhé",
                                               url="https://vnexpress.net/r1.html")], RuleScorer())
    row = next(database.query("SELECT top_reason, explanation FROM items WHERE id = ?", [result.new_ids[0]]))
    database.conn.close()
    assert row["top_reason"] == "Kêu gọi chia sẻ gấp"
    assert '"kind": "article"' in row["explanation"] and '"thresholds": {"misinformation": 0.55' in row["explanation"]
    client = app.test_client()
    helpers.login(client, "ana")
    queue = client.get("/queue").get_data(as_text=True)
    assert '<span class="top-reason">Lý do: Kêu gọi chia sẻ gấp</span>' in queue
    page = client.get(f"/items/{result.new_ids[0]}").get_data(as_text=True)
    assert "Mọi người <mark>chia sẻ gấp</mark> nhé" in page and 'class="threshold-value">0,55<' in page
    assert 'id="item-kind">bài báo<' in page


def test_migration_gives_old_flagged_items_a_top_reason(tmp_path, monkeypatch):
    every = db.numbered_migrations()
    monkeypatch.setattr(db, "numbered_migrations", lambda folder="migrations": [m for m in every if m[0] < 52])
    database = db.connect(tmp_path / "old.db")
    assert "top_reason" not in database["items"].columns_dict
    source_id = ensure_source(database, "s", "rss", "https://s.vn/rss")
    old = {"terms": {"misinformation": ["tin giả"], "harm": ["ngu"]}, "rules": []}
    rows = [("a", '{"terms": {}, "rules": [{"category": "harm", "rule": "thằng ngu", "match": "thằng ngu"}]}',
             '["harm"]', "flagged"),
            ("b", json.dumps(old, ensure_ascii=False), '["harm"]', "flagged"),
            ("c", json.dumps(old, ensure_ascii=False), "[]", "escalated"),
            ("d", json.dumps(old, ensure_ascii=False), "[]", "dismissed"),
            ("e", "not json", '["harm"]', "flagged")]
    for guid, explanation, reasons, status in rows:
        database.conn.execute(
            "INSERT INTO items (source_id, guid, fetched_at, content_hash, explanation, flag_reasons, status,"
            " score_misinformation, score_harm) VALUES (?, ?, '2026-11-20T01:00:00Z', ?, ?, ?, ?, 0.7, 0.2)",
            (source_id, guid, guid, explanation, reasons, status))
    database.conn.commit()
    monkeypatch.setattr(db, "numbered_migrations", lambda folder="migrations": every)
    assert "052_top_reason.sql" in db.migrate(database)
    got = dict(database.conn.execute("SELECT guid, top_reason FROM items"))
    assert got == {"a": "thằng ngu", "b": "ngu", "c": "tin giả", "d": "", "e": ""}
