"""Watchlist rules carry a human name (what moderators read); malformed custom files fail with a clear message."""

from __future__ import annotations

import pytest
import yaml

from classifiers.watchlist import DEFAULT_WATCHLIST, Watchlist, WatchlistError


def test_every_shipped_rule_has_a_human_name_of_its_own():
    config = yaml.safe_load(DEFAULT_WATCHLIST.read_text(encoding="utf-8"))
    entries = [e for lists in config.values() for listed in lists.values() for e in listed]
    assert entries and all(isinstance(e, dict) and e.get("name") for e in entries)
    for rule in Watchlist.load().rules:
        assert rule.name and rule.name != rule.rule, rule.rule


def test_hits_carry_name_rule_and_matched_span():
    hits = Watchlist.load().match("Mọi người CHIA SE GAP nhé, uống nước gừng mỗi sáng chữa khỏi Covid")
    by_name = {h["name"]: h for h in hits}
    assert by_name["Kêu gọi chia sẻ gấp"] == {"category": "misinformation", "name": "Kêu gọi chia sẻ gấp",
                                             "rule": "chia sẻ gấp", "match": "CHIA SE GAP"}
    pattern_hit = by_name["Tin đồn uống là chữa khỏi bệnh"]
    assert pattern_hit["rule"].startswith(r"uống\s") and pattern_hit["match"].endswith("chữa khỏi Covid")


def test_old_plain_entries_still_work_and_are_named_by_their_text():
    watchlist = Watchlist.from_dict({"misinformation": {
        "phrases": ["mua sim số đẹp", {"phrase": "tin nội bộ", "name": "Tin “nội bộ”"}],
        "patterns": [r"bao\s+lo", {"regex": "x{2}", "anchor": "xx"}]}})
    names = [(r.name, r.rule) for r in watchlist.rules]
    assert names == [("mua sim số đẹp", "mua sim số đẹp"), ("Tin “nội bộ”", "tin nội bộ"),
                     (r"bao\s+lo", r"bao\s+lo"), ("x{2}", "x{2}")]
    assert [h["name"] for h in watchlist.match("Mua sim so dep, tin nội bộ, bảo lộ")] == [
        "mua sim số đẹp", "Tin “nội bộ”", r"bao\s+lo"]


def test_an_unquoted_number_is_still_a_phrase():
    watchlist = Watchlist.from_dict({"misinformation": {"phrases": [2020]}})
    assert watchlist.match("Tin đồn năm 2020")[0]["match"] == "2020"


@pytest.mark.parametrize(("body", "expected"), [
    ("misinformation:\n  patterns:\n    - {regx: 'a+b', name: Thiếu regex}\n",
     ["misinformation → patterns, entry 1", "regx", "needs 'regex:'"]),
    ("misinformation:\n  patterns:\n    - ok\n    - {regex: 'chữa (khỏi', name: Ngoặc thiếu}\n",
     ["misinformation → patterns, entry 2", "chữa (khỏi", "not a valid regular expression"]),
    ("harm:\n  phrases:\n    - {phrase: thằng ngu, name: }\n",
     ["harm → phrases, entry 1", "'name' must be non-empty text"]),
    ("harm:\n  phrases:\n    - [thằng, ngu]\n", ["harm → phrases, entry 1", "'phrase' must be non-empty text"]),
    ("harm:\n  phrase:\n    - thằng ngu\n", ["category 'harm' must hold 'phrases:' and/or 'patterns:'"]),
    ("harm:\n  phrases: thằng ngu\n", ["harm → phrases must be a list"]),
    ("harm:\n  phrases:\n    - {phrase: thằng ngu, name: 'không đóng\n", ["not valid YAML"]),
    ("- chia sẻ gấp\n", ["expected categories"]),
])
def test_a_malformed_custom_watchlist_names_the_file_and_the_entry(tmp_path, body, expected):
    path = tmp_path / "uy-ban.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(WatchlistError) as raised:
        Watchlist.load(path)
    message = str(raised.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_monitor_watchlist_env_with_a_bad_entry_fails_loading_the_scorer(tmp_path, monkeypatch):
    from monitor.scoring import load_scorer

    path = tmp_path / "custom.yaml"
    path.write_text("misinformation:\n  patterns:\n    - {regex: '(', name: Hỏng}\n", encoding="utf-8")
    monkeypatch.setenv("MONITOR_WATCHLIST", str(path))
    with pytest.raises(WatchlistError, match="custom.yaml: misinformation → patterns, entry 1"):
        load_scorer(registry_root=tmp_path)
