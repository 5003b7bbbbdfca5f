"""feeds.yaml validation: the shipped file loads; every mistake names the file, the line and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor import config
from monitor.config import ConfigError, load, load_text, parse_interval

REPO = Path(__file__).resolve().parents[1]

GOOD_SOURCE = """\
  - name: Báo Thanh Hóa
    kind: rss
    url: https://baothanhhoa.vn/rss/thoi-su.xml
    language: vi
    interval: 30m
    tags: [provincial, thanh-hoa]
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def error_for(tmp_path: Path, body: str) -> ConfigError:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load(path)
    error = caught.value
    assert error.path == str(path)
    assert str(path) in str(error)
    return error


def line_of(path_text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the n-th line containing `needle`."""
    hits = [number for number, line in enumerate(path_text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


# --- The shipped file -------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return load(REPO / "feeds.yaml")


def test_shipped_feeds_load(shipped):
    assert len(shipped.sources) >= 10
    names = [source.name for source in shipped.sources]
    assert len(names) == len(set(names))
    for source in shipped.sources:
        assert source.kind in config.SOURCE_KINDS
        assert source.url.startswith(("http://", "https://"))
        assert source.language
        assert source.interval_seconds >= config.MIN_INTERVAL_SECONDS
        assert source.tags
        assert source.line and source.line > 1


def test_shipped_feeds_cover_thanh_hoa_and_nghe_an(shipped):
    thanh_hoa = [s for s in shipped.sources if "baothanhhoa.vn" in s.url]
    nghe_an = [s for s in shipped.sources if "baonghean.vn" in s.url]
    assert thanh_hoa and all(s.language == "vi" for s in thanh_hoa)
    assert nghe_an and all(s.language == "vi" for s in nghe_an)
    assert any("thanh-hoa" in s.tags for s in thanh_hoa)
    assert any("nghe-an" in s.tags for s in nghe_an)


def test_shipped_feeds_have_english_french_and_social(shipped):
    languages = {s.language for s in shipped.sources}
    assert {"vi", "en", "fr"} <= languages
    assert any("social" in s.tags or s.kind in ("mastodon", "bluesky", "telegram") for s in shipped.sources)


def test_shipped_source_lines_point_at_entries(shipped):
    text = (REPO / "feeds.yaml").read_text(encoding="utf-8").splitlines()
    for source in shipped.sources:
        assert source.name in text[source.line - 1]


# --- A good file ---------------------------------------------------------------------------

def test_minimal_good_file(tmp_path, monkeypatch):
    monkeypatch.delenv("MONITOR_ALLOW_PRIVATE_NETWORKS", raising=False)
    feeds = load(write(tmp_path, "sources:\n" + GOOD_SOURCE))
    (source,) = feeds.sources
    assert source.name == "Báo Thanh Hóa"
    assert source.interval_seconds == 1800
    assert source.tags == ["provincial", "thanh-hoa"]
    assert source.timezone == "Asia/Ho_Chi_Minh"
    assert source.line == 2
    assert feeds.settings.allow_private_networks is False
    assert feeds.source("Báo Thanh Hóa") is source
    with pytest.raises(KeyError):
        feeds.source("missing")


# --- Errors name file, line and field ---------------------------------------------------

def test_unknown_kind(tmp_path):
    body = "sources:\n" + GOOD_SOURCE.replace("kind: rss", "kind: atomfeed")
    error = error_for(tmp_path, body)
    assert error.field == "kind"
    assert error.line == line_of(body, "kind: atomfeed")
    assert f":{error.line}:" in str(error)
    assert "atomfeed" in str(error)


@pytest.mark.parametrize("url", ["ftp://baothanhhoa.vn/rss.xml", "https://", "http:///path-only", "baothanhhoa.vn/rss"])
def test_bad_url(tmp_path, url):
    body = "sources:\n" + GOOD_SOURCE.replace("https://baothanhhoa.vn/rss/thoi-su.xml", url)
    error = error_for(tmp_path, body)
    assert error.field == "url"
    assert error.line == line_of(body, "url:")


@pytest.mark.parametrize("interval", ["5 minutes", "0", "-1", "1w", "often", "''", "true"])
def test_bad_interval(tmp_path, interval):
    body = "sources:\n" + GOOD_SOURCE.replace("interval: 30m", f"interval: {interval}")
    error = error_for(tmp_path, body)
    assert error.field == "interval"
    assert error.line == line_of(body, "interval:")


def test_duplicate_name_reported_on_second_occurrence(tmp_path):
    body = "sources:\n" + GOOD_SOURCE + GOOD_SOURCE.replace("thoi-su.xml", "phap-luat.xml")
    error = error_for(tmp_path, body)
    assert error.field == "name"
    assert error.line == line_of(body, "name: Báo Thanh Hóa", occurrence=2)
    first_line = line_of(body, "name: Báo Thanh Hóa", occurrence=1)
    assert f"line {first_line}" in str(error)
    assert "duplicate" in str(error)


def test_unknown_field_typo(tmp_path):
    body = "sources:\n" + GOOD_SOURCE.replace("interval: 30m", "intervall: 30m")
    error = error_for(tmp_path, body)
    assert error.field == "intervall"
    assert error.line == line_of(body, "intervall:")
    assert "interval" in error.message  # the list of expected fields helps spot the typo


@pytest.mark.parametrize("missing", ["name", "kind", "url"])
def test_missing_required_field(tmp_path, missing):
    fields = [line.strip().removeprefix("- ") for line in GOOD_SOURCE.splitlines()]
    kept = [field for field in fields if not field.startswith(missing + ":")]
    body = "sources:\n  - " + "\n    ".join(kept) + "\n"
    error = error_for(tmp_path, body)
    assert error.field == missing
    assert error.line == 2  # the entry that lacks it
    assert "required" in error.message


def test_invalid_yaml(tmp_path):
    body = "sources:\n" + GOOD_SOURCE + "  - name: [unclosed\n    kind: rss\n"
    error = error_for(tmp_path, body)
    assert error.line is not None and error.line >= 8
    assert "YAML" in str(error)


def test_unknown_setting(tmp_path):
    body = "settings:\n  user_agent: x\n  allow_privat_networks: true\nsources:\n" + GOOD_SOURCE
    error = error_for(tmp_path, body)
    assert error.field == "allow_privat_networks"
    assert error.line == 3


def test_setting_of_wrong_type(tmp_path):
    body = "settings:\n  max_failures: lots\nsources:\n" + GOOD_SOURCE
    error = error_for(tmp_path, body)
    assert error.field == "max_failures"
    assert error.line == 2


def test_unknown_top_level_key(tmp_path):
    error = error_for(tmp_path, "sources:\n" + GOOD_SOURCE + "source:\n  - x\n")
    assert error.field == "source"
    assert error.line == 8


def test_bad_entry_later_in_file_stops_everything(tmp_path):
    body = "sources:\n" + GOOD_SOURCE + GOOD_SOURCE.replace("Báo Thanh Hóa", "Other").replace("rss", "carrier-pigeon", 1)
    error = error_for(tmp_path, body)
    assert error.field == "kind"
    assert error.line == line_of(body, "carrier-pigeon")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(caught.value)


# --- Intervals and environment ----------------------------------------------------------

@pytest.mark.parametrize("value, seconds", [("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400), (900, 900),
                                            ("900", 900), (" 2h ", 7200)])
def test_parse_interval(value, seconds):
    assert parse_interval(value) == seconds


@pytest.mark.parametrize("value", ["5 minutes", 0, -1, "-1", "1w", "", True, "1s"])
def test_parse_interval_rejects(value):
    with pytest.raises(ValueError):
        parse_interval(value)


@pytest.mark.parametrize("env, expected", [("1", True), ("true", True), ("0", False), ("no", False)])
def test_env_overrides_allow_private_networks(tmp_path, monkeypatch, env, expected):
    setting = "false" if expected else "true"
    path = write(tmp_path, f"settings:\n  allow_private_networks: {setting}\nsources:\n" + GOOD_SOURCE)
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_NETWORKS", env)
    assert load(path).settings.allow_private_networks is expected


def test_setting_used_when_env_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("MONITOR_ALLOW_PRIVATE_NETWORKS", raising=False)
    text = "settings:\n  allow_private_networks: true\nsources:\n" + GOOD_SOURCE
    assert load_text(text).settings.allow_private_networks is True
    assert load_text(text.replace("true", "false")).settings.allow_private_networks is False


# --- private_allowlist: checked when the file is loaded (hostile review item 5) ---------------

@pytest.mark.parametrize("entry", ["127.0.0.1:0", "[::1]:99999", "[::1]", "localhost:80", "10.0.0.0/33", "intranet"])
def test_a_bad_private_allowlist_entry_is_a_config_error_naming_it(tmp_path, entry):
    """Found at load, not when the first fetch builds its address policy (a traceback in `monitor crawl`,
    every scheduled crawl failing, every report-a-link refused)."""
    body = f'settings:\n  private_allowlist:\n    - 10.20.0.0/16\n    - "{entry}"\nsources:\n' + GOOD_SOURCE
    error = error_for(tmp_path, body)
    assert error.field == "private_allowlist"
    assert error.line == 4
    assert repr(entry) in error.message


@pytest.mark.parametrize("value", ['"10.20.0.0/16"', "{net: 10.20.0.0/16}", "[10]"], ids=["string", "mapping", "number"])
def test_private_allowlist_must_be_a_list_of_strings(tmp_path, value):
    error = error_for(tmp_path, f"settings:\n  private_allowlist: {value}\nsources:\n" + GOOD_SOURCE)
    assert error.field == "private_allowlist" and error.line == 2
    assert "list" in error.message


def test_good_private_allowlist_entries_load(tmp_path):
    body = 'settings:\n  private_allowlist: ["10.20.0.0/16", "10.0.0.5", "127.0.0.1:8765", "[::1]:8080"]\nsources:\n'
    feeds = load(write(tmp_path, body + GOOD_SOURCE))
    assert feeds.settings.private_allowlist == ["10.20.0.0/16", "10.0.0.5", "127.0.0.1:8765", "[::1]:8080"]


def test_a_hot_reload_with_a_bad_allowlist_entry_keeps_the_running_configuration(tmp_path, tmp_db):
    from monitor.schedule.scheduler import Scheduler

    path = write(tmp_path, 'settings:\n  private_allowlist: ["10.20.0.0/16"]\nsources:\n' + GOOD_SOURCE)
    scheduler = Scheduler(tmp_path / "monitor.db", path)
    before = scheduler.config
    path.write_text('settings:\n  private_allowlist: ["127.0.0.1:0"]\nsources:\n' + GOOD_SOURCE, encoding="utf-8")
    outcome = scheduler.reload()
    assert not outcome.ok and "private_allowlist" in outcome.error and "127.0.0.1:0" in outcome.error
    assert scheduler.config is before
