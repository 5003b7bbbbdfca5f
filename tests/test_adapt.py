"""Learning on a real installation: the model in use adapted to its moderators' decisions.

None of these tests needs ../shared: the decisions are synthetic Vietnamese posts written here, from
a consistent moderator who confirms posts spreading a made-up local rumour (a new tap-water fee,
announced in plain, news-like words the shipped model mostly lets through) and dismisses ordinary
local news.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import db
from classifiers import adapt
from classifiers.model import Model, _sigmoid, load_model
from classifiers.registry import FlagBand, Registry, adapt_candidate, propose
from db.decisions import decide
from tests import helpers

ROOT = Path(__file__).resolve().parents[1]
PLACES = ["phường Đông Vệ", "xã Quảng Tâm", "thị trấn Rừng Thông", "phường Ba Đình", "xã Hoằng Quang",
          "phường Tân Sơn", "xã Đông Hải", "phường Nam Ngạn", "xã Thiệu Dương", "thị trấn Bút Sơn"]
WHO = ["chị hàng xóm", "bác tổ trưởng", "cô giáo của con tôi", "anh bán rau đầu ngõ", "bà cụ nhà bên"]
RUMOUR = [
    "Thông báo: từ ngày {n} tháng tới, mỗi hộ dân ở {place} phải nộp thêm phí nước sạch mới, hộ nào không nộp "
    "sẽ bị cắt nước",
    "UBND {place} vừa ra quyết định thu phí nước sạch mới {n} nghìn đồng mỗi người mỗi tháng, áp dụng cho cả trẻ em",
    "Từ tuần sau {place} thu thêm phí nước sạch {n} nghìn đồng mỗi hộ, người dân cần nộp tại nhà văn hóa trước "
    "cuối tháng",
]
NEWS = [
    "UBND {place} tổ chức lễ khánh thành cây cầu mới bắc qua sông, giúp {n} hộ dân đi lại thuận tiện hơn",
    "Trường tiểu học {place} khai giảng năm học mới với {n} học sinh, phụ huynh tham dự đông đủ",
    "Hội nông dân {place} tập huấn kỹ thuật trồng lúa cho {n} hội viên trong tuần này",
    "{place} tổ chức giải bóng đá thiếu niên dịp hè với {n} đội tham gia",
]
# Unseen items of the same kind, worded in ways no decision was.
RUMOUR_UNSEEN = ["Bà con {place} lưu ý: {who} nói phí nước sạch mới {n} nghìn đồng mỗi khẩu sẽ thu từ tháng sau, "
                 "ai chậm nộp bị cắt nước"]
NEWS_UNSEEN = ["Chợ {place} được sửa chữa khang trang, {n} tiểu thương đã trở lại buôn bán ổn định"]


def posts(templates: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(templates).format(place=rng.choice(PLACES), who=rng.choice(WHO), n=rng.randint(2, 300))
            for _ in range(count)]


def decisions(count: int, seed: int = 1) -> list[dict]:
    """`count` decisions alternating confirm (rumour) and dismiss (news), one a day, oldest first."""
    rumours, news = posts(RUMOUR, count, seed), posts(NEWS, count, seed + 1)
    out = []
    for i in range(count):
        label = (i + 1) % 2
        out.append({"text": (rumours if label else news)[i], "category": "misinformation", "label": label,
                    "kind": "post", "decided_at": f"2026-10-{1 + i % 30:02d}T{8 + i // 30:02d}:00:00Z"})
    return sorted(out, key=lambda d: d["decided_at"])


def recent(n_rumours: int, n_news: int) -> list[dict]:
    return [{"text": t, "kind": "post"} for t in posts(RUMOUR_UNSEEN + RUMOUR, n_rumours, 50)
            + posts(NEWS_UNSEEN + NEWS, n_news, 51)]


UNSEEN_RUMOURS = posts(RUMOUR_UNSEEN + RUMOUR, 30, 7)
UNSEEN_NEWS = posts(NEWS_UNSEEN + NEWS, 30, 8)


def flagged(model: Model, texts: list[str]) -> int:
    return sum("misinformation" in s.flagged for s in model.score(texts))


@pytest.fixture(scope="module")
def adapted(tmp_path_factory):
    """50 consistent decisions adapted and proposed, with every read of a test split refused."""
    root = tmp_path_factory.mktemp("registry")
    reads: list[str] = []
    real_open = builtins.open

    def watched_open(file, *args, **kwargs):
        if Path(str(file)).name == "test.jsonl":
            reads.append(str(file))
            raise AssertionError(f"the gate read a test split: {file}")
        return real_open(file, *args, **kwargs)

    def no_test_split(name, split, root=None):
        reads.append(f"{name}/{split}")
        raise AssertionError("the gate loaded a research split")

    import classifiers.data
    import classifiers.evaluate  # imported before the patch, or it would keep the patched load_split

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builtins, "open", watched_open)
        mp.setattr(classifiers.data, "load_split", no_test_split)
        mp.setattr(classifiers.evaluate, "load_split", no_test_split)
        candidate = adapt_candidate(decisions(50), recent=recent(5, 95), days=7.0, registry_root=root)
        verdict = propose(candidate)
    return {"root": root, "candidate": candidate, "verdict": verdict, "reads": reads}


def test_fifty_consistent_decisions_change_what_is_flagged_on_unseen_posts(adapted):
    shipped = load_model()
    now = Registry(adapted["root"]).load_active()
    assert adapted["verdict"]["promoted"] is True, adapted["verdict"]
    assert now.version == adapted["candidate"]["version"] != shipped.version
    before, after = flagged(shipped, UNSEEN_RUMOURS), flagged(now, UNSEEN_RUMOURS)
    assert before <= 12 and after >= 20 and after - before >= 10, (before, after)  # of 30
    assert flagged(now, UNSEEN_NEWS) == flagged(shipped, UNSEEN_NEWS) == 0
    rec = adapted["candidate"]["gate"]["categories"]["misinformation"]
    assert rec["n_heldout"] == 13 and rec["n_fit"] == 37  # the 13 most recent decisions judge it
    assert rec["candidate"]["log_loss"] < rec["active"]["log_loss"] - 0.01
    assert set(rec["variants"]) == {"calibrator", "calibrator+residual"}


def test_the_gate_never_reads_a_research_split(adapted):
    assert adapted["reads"] == []
    assert adapted["verdict"]["promoted"] is True


def test_category_proba_goes_through_the_adapter(adapted):
    shipped = load_model()
    now = Registry(adapted["root"]).load_active()
    texts = UNSEEN_RUMOURS[:5] + UNSEEN_NEWS[:5]
    X = shipped.features(texts)
    P = np.clip(shipped.category_proba(texts, X), 1e-15, 1 - 1e-15)
    expected = _sigmoid(adapt.apply_adapter(now.adapter, np.log(P / (1 - P)), X, None, now.categories))
    np.testing.assert_allclose(now.category_proba(texts, X), expected, rtol=1e-6, atol=1e-9)
    assert not np.allclose(now.category_proba(texts, X), P)
    now._adapt = lambda Z, X, kinds: Z  # without the hook the adapted file scores like the shipped one
    np.testing.assert_allclose(now.category_proba(texts, X), P, rtol=1e-6, atol=1e-9)


def test_the_model_card_and_list_say_what_it_was_adapted_from(adapted):
    reg = Registry(adapted["root"])
    version = adapted["candidate"]["version"]
    card = reg.model_path(version).with_suffix(".card.md").read_text(encoding="utf-8")
    assert f"Adaptation of version `{load_model().version}` with 50 moderator decisions" in card
    [row] = reg.list()
    assert row["active"] and row["adapted_from"] == load_model().version and row["n_decisions"] == 50
    assert row["gate"]["passed"] is True and row["gate"]["flag_rate"]["misinformation"][1] > 0


def test_too_few_decisions_wait_with_how_many_are_needed(tmp_path):
    waiting = adapt_candidate(decisions(20), recent=recent(1, 10), registry_root=tmp_path)
    assert waiting["waiting"] is True
    assert waiting["reason"].startswith("20 decisions, 30 needed (misinformation)")
    assert propose(waiting)["promoted"] is False and Registry(tmp_path).list() == []
    one_sided = [d for d in decisions(80) if d["label"] == 1]
    assert "but 40 confirmed and 0 dismissed" in adapt_candidate(one_sided, recent=[], registry_root=tmp_path)["reason"]


def test_the_gate_refuses_a_candidate_that_would_flood_the_queue(tmp_path):
    candidate = adapt_candidate(decisions(50), recent=recent(40, 60), days=7.0, registry_root=tmp_path)
    reasons = candidate["gate"]["reasons"]
    assert len(reasons) == 1 and reasons[0].startswith("misinformation: would flag"), reasons
    verdict = propose(candidate)
    assert verdict["promoted"] is False and verdict["reasons"] == reasons
    reg = Registry(tmp_path)
    assert reg.active is None and [r["version"] for r in reg.list()] == [candidate["version"]]
    assert reg.promote(candidate["version"], force=True)[0] is True  # an admin may still decide otherwise


def test_flag_band_bounds():
    band = FlagBand(ratio=2.0, rise=0.10, drop=0.01)
    assert band.bounds(0.002) == pytest.approx((0.0, 0.102))  # near zero: the absolute rise decides
    assert band.bounds(0.30) == pytest.approx((0.15, 0.60))  # large rates: the ratio decides
    assert band.violation(0.30, 0.5) is None and "allowed 15.0%-60.0%" in band.violation(0.30, 0.7)


def test_time_split_holds_out_the_most_recent_decisions():
    rows = decisions(50)[::-1]  # given newest first: order comes from decided_at, not position
    split = adapt.time_split(rows, "misinformation")
    assert len(split.held) == 13 and len(split.fit) == 37
    assert max(d["decided_at"] for d in split.fit) <= min(d["decided_at"] for d in split.held)


def seeded_db(path: Path, n_decisions: int, n_recent: int = 100) -> None:
    """A monitor database with `n_decisions` decided posts and `n_recent` undecided recent items."""
    built = helpers.build(path)
    database = db.connect(path)
    user, source = built["users"]["mod"], built["sources"]["thanhhoa"]
    for n, d in enumerate(decisions(n_decisions)):
        item = helpers.make_item(database, source, 1000 + n, title="", text=d["text"],
                                  explanation={"terms": {}, "rules": [], "kind": d["kind"]})
        action, status = ("confirm_misinformation", "confirmed") if d["label"] else ("dismiss", "dismissed")
        decide(database, item_id=item, user_id=user, action=action, new_status=status, note="", expected_version=1)
    for n, r in enumerate(recent(n_recent // 20, n_recent - n_recent // 20)):
        helpers.make_item(database, source, 5000 + n, title="", text=r["text"], status="new", fetched_at=db.utcnow())
    database.conn.close()


def test_nightly_job_waits_then_adapts_without_research_data(tmp_path, caplog, monkeypatch):
    from monitor.schedule.retrain import collect_examples, propose_retrain

    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "no-research-data"))
    few, enough = tmp_path / "few.db", tmp_path / "enough.db"
    seeded_db(few, 12)
    database = db.connect(few)
    with caplog.at_level(logging.INFO, logger="monitor.retrain"):
        waiting = propose_retrain(database, registry_root=str(tmp_path / "reg"))
    assert waiting["proposed"] is False
    assert "12 decisions, 30 needed" in waiting["reason"]
    assert any("12 decisions, 30 needed" in r.getMessage() for r in caplog.records)
    seeded_db(enough, 50)
    database = db.connect(enough)
    examples = collect_examples(database)
    assert len(examples) == 50 and {e["kind"] for e in examples} == {"post"} and examples[0]["decided_at"]
    outcome = propose_retrain(database, registry_root=str(tmp_path / "reg"))
    assert outcome["proposed"] is True and outcome["promoted"] is True, outcome
    assert Registry(tmp_path / "reg").active == outcome["gate"]["version"]
    assert database.conn.execute("SELECT promoted FROM models WHERE version = ?",
                                 (outcome["gate"]["version"],)).fetchone() == (1,)


def test_monitor_train_from_db_needs_only_the_package_and_its_database(tmp_path):
    path = tmp_path / "monitor.db"
    seeded_db(path, 50)
    home = tmp_path / "home"
    empty = tmp_path / "empty-data"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(HOME=str(home), MONITOR_HOME=str(home / "monitor"), MONITOR_DATA_DIR=str(empty))
    run = subprocess.run([sys.executable, "-m", "monitor.cli", "--db", str(path), "train", "--from-db"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "adaptation of" in run.stdout and "with 50 decisions" in run.stdout
    version = run.stdout.split("stored version ")[1].split(":")[0]
    assert f"promoted {version}" in run.stdout
    index = json.loads((home / "monitor" / "models" / "registry.json").read_text(encoding="utf-8"))
    assert index["active"] == version
    assert (home / "monitor" / "models" / "versions" / version / "model.skops").exists()


def test_monitor_train_from_db_with_too_few_decisions_says_so_and_exits_0(tmp_path, capsys):
    from monitor.cli import main

    path = tmp_path / "monitor.db"
    seeded_db(path, 8, n_recent=0)
    code = main(["--db", str(path), "train", "--from-db", "--registry", str(tmp_path / "reg")])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1 and out[0].startswith("8 decisions, 30 needed")
