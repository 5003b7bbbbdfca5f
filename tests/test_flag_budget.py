"""The daily flag budget (settings.flag_budget, issue 18): at most N items a local day per category flagged
by score, watchlist hits beyond it, a floor for young databases, the applied threshold stored with the item,
and the setting reaching every path that ingests (crawl pass, scheduler's crawl, import)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import db
from db.sources import ensure_source, get_source
from monitor import pipeline
from monitor.cli import main
from monitor.config import ConfigError, load, load_text
from monitor.crawl.crawler import crawl_source, crawl_sources
from monitor.domain import RawItem
from monitor.pipeline import ingest, ingest_many
from monitor.pipeline.flag_budget import BUDGET_SPENT, FlagBudget, apply_budget, from_settings, local_day
from tests.helpers import FAKE_THRESHOLDS, FakeScorer
from tests.servers import TestServer

ZONE = "Asia/Ho_Chi_Minh"
# The fake model's own thresholds by item kind; the budget's floor is half of these.
MODEL_THRESHOLDS = FAKE_THRESHOLDS


def raw(n: int, misinformation: float, harm: float = 0.0, rule: bool = False) -> RawItem:
    marker = " RULE chia sẻ gấp" if rule else ""
    return RawItem(guid=f"guid-{n}", title=f"Tin số {n}",
                   text=f"Bài viết thứ {n} về đời sống ở Thanh Hóa. m={misinformation} h={harm}{marker}",
                   url=f"https://baothanhhoa.vn/bai-{n}.html")


@pytest.fixture()
def source(tmp_db):
    # A social source: its items are posts, judged by the fake model's post thresholds (0.8).
    return get_source(tmp_db, ensure_source(tmp_db, "Thanh Hóa trên Mastodon", "mastodon",
                                            "https://mastodon.social/tags/thanhhoa", "vi"))


@pytest.fixture()
def clock(monkeypatch):
    """Set the time ingest stores items with (UTC text)."""
    def set_now(moment: str) -> None:
        monkeypatch.setattr(pipeline, "utcnow", lambda: moment)
    return set_now


def stored(database) -> dict[str, dict]:
    """Items by guid, with their flags and stored explanation decoded."""
    rows = database.query("SELECT guid, status, flag_reasons, explanation, score_misinformation FROM items")
    return {r["guid"]: {**r, "flag_reasons": json.loads(r["flag_reasons"]),
                        "explanation": json.loads(r["explanation"])} for r in rows}


def flagged_guids(database, category: str = "misinformation") -> set[str]:
    return {guid for guid, item in stored(database).items() if category in item["flag_reasons"]}


def test_budget_caps_score_flags_per_local_day_even_when_many_score_high(tmp_db, source, clock):
    clock("2026-11-30T03:00:00Z")
    budget = FlagBudget(3, ZONE)
    result = ingest(tmp_db, source, [raw(n, 0.90 + n / 100) for n in range(8)], FakeScorer(), budget)
    assert result.flagged == 3
    assert flagged_guids(tmp_db) == {"guid-7", "guid-6", "guid-5"}  # the batch's best get the slots

    clock("2026-11-30T09:00:00Z")  # later the same local day: the budget is spent
    later = ingest(tmp_db, source, [raw(n, 0.99) for n in range(10, 14)], FakeScorer(), budget)
    assert later.new == 4 and later.flagged == 0
    items = stored(tmp_db)
    assert all(items[f"guid-{n}"]["status"] == "new" for n in range(10, 14))
    assert items["guid-10"]["explanation"]["thresholds"]["misinformation"] == BUDGET_SPENT
    # Harm has its own budget: nothing scored high for it, nothing was flagged for it.
    assert flagged_guids(tmp_db, "harm") == set()


def test_without_a_budget_the_model_thresholds_flag(tmp_db, source, clock):
    clock("2026-11-30T03:00:00Z")
    result = ingest(tmp_db, source, [raw(n, 0.95) for n in range(6)], FakeScorer())
    assert result.flagged == 6
    assert stored(tmp_db)["guid-0"]["explanation"]["thresholds"] == MODEL_THRESHOLDS["post"]


def test_watchlist_hits_flag_beyond_the_budget(tmp_db, source, clock):
    clock("2026-11-30T03:00:00Z")
    budget = FlagBudget(1, ZONE)
    ingest(tmp_db, source, [raw(1, 0.97), raw(2, 0.96)], FakeScorer(), budget)
    assert flagged_guids(tmp_db) == {"guid-1"}
    result = ingest(tmp_db, source, [raw(3, 0.10, rule=True), raw(4, 0.99, rule=True), raw(5, 0.99)],
                    FakeScorer(), budget)
    assert result.flagged == 2
    items = stored(tmp_db)
    assert items["guid-3"]["flag_reasons"] == ["misinformation"] and items["guid-3"]["status"] == "flagged"
    assert items["guid-4"]["flag_reasons"] == ["misinformation"]
    assert items["guid-5"]["flag_reasons"] == []


def test_floor_keeps_a_young_database_from_flagging_everything(tmp_db, source, clock):
    clock("2026-11-30T03:00:00Z")
    # Budget 50 a day: the 350th best score of a week does not exist yet; half the model's 0.8 is the bar.
    result = ingest(tmp_db, source, [raw(1, 0.30), raw(2, 0.45), raw(3, 0.70), raw(4, 0.05)], FakeScorer(),
                    FlagBudget(50, ZONE))
    assert result.flagged == 2
    items = stored(tmp_db)
    assert flagged_guids(tmp_db) == {"guid-2", "guid-3"}
    assert items["guid-1"]["explanation"]["thresholds"]["misinformation"] == pytest.approx(0.4)


def test_stored_threshold_is_the_budget_threshold_from_the_last_seven_days(tmp_db, source, clock):
    scorer = FakeScorer()
    clock("2026-11-20T03:00:00Z")  # ten days ago: outside the window, however high
    ingest(tmp_db, source, [raw(100 + n, 0.99) for n in range(20)], scorer)
    clock("2026-11-27T03:00:00Z")  # three days ago, unbudgeted: 0.50 … 0.69, none over the model's 0.8
    ingest(tmp_db, source, [raw(200 + n, round(0.50 + n / 100, 2)) for n in range(20)], scorer)

    clock("2026-11-30T03:00:00Z")
    # Budget 2 → the 14th best score of the week: 0.69 - 0.13 = 0.56 (above the floor 0.4).
    result = ingest(tmp_db, source, [raw(1, 0.57), raw(2, 0.555)], scorer, FlagBudget(2, ZONE))
    assert result.flagged == 1
    items = stored(tmp_db)
    assert items["guid-1"]["flag_reasons"] == ["misinformation"]
    assert items["guid-1"]["explanation"]["thresholds"]["misinformation"] == pytest.approx(0.56)
    assert items["guid-2"]["explanation"]["thresholds"]["misinformation"] == pytest.approx(0.56)
    assert items["guid-2"]["status"] == "new"


def test_local_day_starts_at_local_midnight():
    assert local_day("2026-11-30T17:30:00Z", ZONE) == ("2026-11-30T17:00:00Z", "2026-12-01T17:00:00Z")
    assert local_day("2026-11-30T16:59:59Z", ZONE) == ("2026-11-29T17:00:00Z", "2026-11-30T17:00:00Z")


def test_an_item_at_1730z_counts_for_the_next_local_day(tmp_db, source, clock):
    budget = FlagBudget(1, ZONE)
    clock("2026-11-30T16:59:00Z")  # 23:59 on 30 November in Hà Nội
    assert ingest(tmp_db, source, [raw(1, 0.95)], FakeScorer(), budget).flagged == 1
    clock("2026-11-30T17:30:00Z")  # 00:30 on 1 December: a new day, a new budget
    assert ingest(tmp_db, source, [raw(2, 0.95)], FakeScorer(), budget).flagged == 1
    clock("2026-11-30T18:00:00Z")  # still 1 December: spent
    assert ingest(tmp_db, source, [raw(3, 0.95)], FakeScorer(), budget).flagged == 0
    # In UTC, 16:59 and 17:30 are one day: a UTC day would have refused the second.
    assert flagged_guids(tmp_db) == {"guid-1", "guid-2"}


def test_a_group_shares_one_budget(tmp_db, source, clock):
    other = get_source(tmp_db, ensure_source(tmp_db, "Nghệ An trên Mastodon", "mastodon",
                                             "https://mastodon.social/tags/nghean", "vi"))
    clock("2026-11-30T03:00:00Z")
    results = ingest_many(tmp_db, [(source, [raw(1, 0.91), raw(2, 0.97)]), (other, [raw(3, 0.95), raw(4, 0.93)])],
                          FakeScorer(), FlagBudget(2, ZONE))
    assert [r.flagged for r in results] == [1, 1]
    assert flagged_guids(tmp_db) == {"guid-2", "guid-3"}


def test_applying_twice_starts_from_the_model_thresholds(tmp_db):
    """A group retried source by source applies the budget again to the same Scores: the floor must stay
    half the model's threshold, not halve the budget's own."""
    [score] = FakeScorer().score(["m=0.3"])
    for _ in range(2):
        apply_budget(tmp_db.conn, [score], FlagBudget(5, ZONE), "2026-11-30T03:00:00Z")
        assert score.thresholds["misinformation"] == pytest.approx(0.4)
        assert score.flagged == []


def write_feeds(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


SOURCE = """\
sources:
  - name: Báo Thanh Hóa
    kind: rss
    url: https://baothanhhoa.vn/rss/thoi-su.xml
"""


@pytest.mark.parametrize("value", ["0", "-5", "2.5", "true", "lots", "[50]"])
def test_config_rejects_a_bad_budget_naming_line_and_field(tmp_path, value):
    path = write_feeds(tmp_path, f"settings:\n  timezone: {ZONE}\n  flag_budget: {value}\n" + SOURCE)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (caught.value.line, caught.value.field) == (3, "flag_budget")
    assert str(caught.value).startswith(f"{path}:3: field 'flag_budget':")


def test_config_reads_a_budget_or_none():
    assert load_text("settings:\n  flag_budget: 50\n" + SOURCE).settings.flag_budget == 50
    assert load_text("settings:\n  flag_budget: null\n" + SOURCE).settings.flag_budget is None
    settings = load_text(SOURCE).settings
    assert settings.flag_budget is None and from_settings(settings) is None
    budget = from_settings(load_text(f"settings:\n  timezone: {ZONE}\n  flag_budget: 7\n" + SOURCE).settings)
    assert budget == FlagBudget(7, ZONE)


def rss(count: int) -> bytes:
    items = "".join(f"<item><title>Tin {n}</title><link>https://example.vn/{n}</link><guid>g{n}</guid>"
                    f"<description>Bài viết thứ {n} m=0.9{n}</description></item>" for n in range(count))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


@pytest.mark.parametrize("path", ["crawl pass", "scheduler"])
def test_the_crawl_paths_take_the_budget_from_settings(tmp_path, path):
    with TestServer() as server:
        server.route("/feed.xml", rss(4), headers={"Content-Type": "application/rss+xml"})
        config = load_text(f"settings:\n  allow_private_networks: true\n  host_delay: 0\n  flag_budget: 1\n"
                           f"sources:\n  - name: feed\n    kind: rss\n    url: {server.url('/feed.xml')}\n")
        database = db.connect(tmp_path / "monitor.db")
        if path == "crawl pass":  # `monitor crawl`
            [result] = crawl_sources(database, config, FakeScorer())
        else:  # the scheduler crawls one source at a time with its settings
            result = crawl_source(database, config.sources[0], config.settings, FakeScorer())
    assert (result.status, result.new, result.flagged) == ("ok", 4, 1), result.error
    assert [r["title"] for r in database.query("SELECT title FROM items WHERE status = 'flagged'")] == ["Tin 3"]


def test_monitor_import_takes_the_budget_from_feeds_yaml(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("monitor.scoring.load_scorer", lambda: FakeScorer())
    posts = tmp_path / "posts.csv"
    posts.write_text("text\n" + "".join(f"Bài đăng thứ {n} m=0.9{n}\n" for n in range(4)), encoding="utf-8")
    feeds = write_feeds(tmp_path, "settings:\n  flag_budget: 2\n" + SOURCE)
    database = tmp_path / "monitor.db"
    db.connect(database).conn.close()  # `monitor init` made it: import creates no database
    assert main(["--db", str(database), "--feeds", str(feeds), "import", str(posts), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["flagged"] == 2

    write_feeds(tmp_path, "settings:\n  flag_budget: 0\n" + SOURCE)
    assert main(["--db", str(database), "--feeds", str(feeds), "import", str(posts)]) == 2
    assert "flag_budget" in capsys.readouterr().err
