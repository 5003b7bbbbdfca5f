"""The report's early-warning section (issue 11 with issue 13) on test_report_build's hand-built world, with
the answers worked out by hand from its PLACES, KNOWN_CLAIMS, CLAIM_MATCHES and SPIKES:

W47 = [2026-11-15T17:00Z, 2026-11-22T17:00Z); W46 the week before.
- About the jurisdiction: W47 items 1, 4, 6 (3; flagged 1 and 4: 2); W46 item 2 (1, flagged); item 5 is W48,
  item 9 names only Nghệ An.
- Places of those items, W47: Thanh Hóa (items 1, 4: 2, both flagged; W46: item 2) and phường Hạc Thành
  (items 4, 6: 2, flagged 1; W46: 0).
- Claim matches, W47: items 4 and 9 (2) repeating claims 1 and 2 (2); W46: item 2 repeating claim 2.
  Claim 1: items 4 and 9, both from source 2 (1 source); claim 2: item 9 only in W47.
- Claims added: claim 1 in W47, claim 2 in W46 (claim 3 is W48). Spikes fired: 2 in W47, 1 in W46.
- Alerts made in W47: story 1 by e-mail (sent) and Telegram (failed), story 3 by e-mail (sent): 2 sent, 2 stories,
  1 failed; W46: story 4, sent.
"""

from __future__ import annotations

import json

import pytest

from monitor.reports import build_report, iso_week, render
from tests.test_report_build import build_world


@pytest.fixture()
def world(any_db):
    """The hand-built world on this run's backend: every case runs on SQLite and on PostgreSQL."""
    build_world(any_db)
    return any_db


@pytest.fixture()
def w47(world):
    return build_report(world, iso_week("2026-W47"))


def test_the_early_warning_figures_are_those_worked_out_by_hand(w47):
    table = w47.table("early_warning")
    assert table.rows == [
        ["items_about_jurisdiction", 3, 1, 2], ["flagged_about_jurisdiction", 2, 1, 1],
        ["items_matching_claims", 2, 1, 1], ["claims_matched", 2, 1, 1], ["claims_added", 1, 1, 0],
        ["spikes_fired", 2, 1, 1], ["alerts_sent", 2, 1, 1], ["stories_alerted", 2, 1, 1], ["alerts_failed", 1, 0, 1],
    ]
    assert w47.headline("items_about_jurisdiction") == 3
    assert w47.headline("items_matching_claims", "previous") == 1
    assert w47.headline("spikes_fired") == 2


def test_places_are_named_with_their_province_and_ranked_by_items(w47):
    assert w47.table("places_mentioned").rows == [
        ["Thanh Hóa", "province", 2, 2, 1, 1],
        ["Phường Hạc Thành, Thanh Hóa", "commune", 2, 1, 0, 2],
    ]


def test_the_claims_that_came_back_carry_their_rebuttal(w47):
    rows = w47.table("claims_matched").rows
    assert rows == [
        ["Vắc xin gây vô sinh", "Sai sự thật", "https://example.org/r/1", "", 2, 1],
        ["Ngân hàng sắp đóng cửa", "False", "", "", 1, 1],  # a fact-checker's English rating, as its catalog key
    ]


def test_an_empty_week_has_the_section_with_zeros(world):
    report = build_report(world, iso_week("2026-W40"))
    assert [row[1:3] for row in report.table("early_warning").rows] == [[0, 0]] * 9
    assert report.table("places_mentioned").rows == [] and report.table("claims_matched").rows == []


def test_the_vietnamese_report_words_the_section(w47):
    html = render(w47, "html").decode("utf-8")
    assert "Cảnh báo sớm" in html and "tin liên quan địa bàn" in html.lower()
    assert "Phường Hạc Thành, Thanh Hóa" in html and "https://example.org/r/1" in html
    assert ">Sai<" in html  # the English rating "false", in Vietnamese
    data = json.loads(render(w47, "json"))
    assert data["tables"]["places_mentioned"]["labels"][:2] == ["Địa danh", "Cấp"]
