"""Training, decisions-as-examples, registry gate and CLI on small data subsets (fast).

The tests that train run on small data sets generated here in the research data's layout (Vietnamese
comments and headlines, written for the tests), and where the research data is, on its subsets too
(``corpus("data")``). The registry gate compares against the shipped model on the research dev splits,
so it runs on the research data only.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import pytest

from classifiers.model import Model, load_model, save_state
from classifiers.registry import Registry, flat_metrics, propose, regressions
from classifiers.train import expert_threshold, train, train_from_examples, tune_class_bias
from tests import corpus

SMALL = {"datasets": ["vi_victsd_toxicity", "vi_vnnews_v2"], "max_rows": 300, "n_jobs": 1}
ODD_TEXT = "quả dưa hấu màu tím biết hát karaoke"
RESEARCH = corpus.param("research", needs="data", id="research")

# Pieces of the generated data sets: comments (harm: toxic or not) and headlines (misinformation: fake or not).
TOXIC = ["câm mồm đi", "đồ mất dạy", "thằng ngu", "con chó", "cút đi", "loại vô học", "óc lợn", "đồ rác rưởi"]
POLITE = ["cảm ơn bạn", "bài viết rất hay", "chúc mọi người sức khỏe", "thông tin hữu ích", "mình đồng ý",
          "rất ý nghĩa", "cho mình hỏi thêm", "hay quá"]
TOPICS = ["về giá xăng", "về trận bóng tối qua", "về bão lũ miền Trung", "về học phí", "về giao thông",
          "về giá vàng", "về thời tiết", "về du lịch biển"]
FAKE = ["sốc: uống nước chanh chữa khỏi ung thư", "tin nóng: ngân hàng sắp đóng cửa, rút tiền ngay",
        "bí mật bị giấu kín: vắc xin gây vô sinh", "chia sẻ gấp: sắp phong tỏa toàn tỉnh"]
REAL = ["ubnd tỉnh tổ chức hội nghị tổng kết năm", "bộ y tế hướng dẫn tiêm chủng mở rộng",
        "giá lúa hè thu tăng nhẹ", "khởi công tuyến đường ven biển"]
PLACES = ["ở thanh hóa", "ở nghệ an", "tại hà tĩnh", "ở quảng trị", "tại hà nội", "ở đà nẵng"]


def write_small_data(root: Path, headline_sets: tuple[str, ...] = ("vi_vnnews_v2",)) -> Path:
    """The data sets SMALL trains on (a comment set and, by default, one headline set), generated in the
    research layout ({train,dev,test}.jsonl)."""
    rng = random.Random(0)

    def comment(i: int) -> dict:
        toxic = i % 2
        text = f"{rng.choice(TOXIC if toxic else POLITE)} {rng.choice(TOPICS)}" + (f" {rng.choice(TOXIC)}" if toxic else "")
        return {"id": f"c{i}", "text": text, "label": toxic, "lang": "vi"}

    def headline(i: int) -> dict:
        fake = i % 2
        return {"id": f"h{i}", "text": f"{rng.choice(FAKE if fake else REAL)} {rng.choice(PLACES)}", "label": fake,
                "lang": "vi"}

    for name, row in (("vi_victsd_toxicity", comment), *((h, headline) for h in headline_sets)):
        (root / name).mkdir(parents=True)
        for split, count in (("train", 200), ("dev", 120), ("test", 60)):
            lines = (json.dumps(row(i), ensure_ascii=False) + "\n" for i in range(count))
            (root / name / f"{split}.jsonl").write_text("".join(lines), encoding="utf-8")
    return root


@pytest.fixture(scope="module", params=[pytest.param("generated", id="generated"), RESEARCH])
def data_root(request, tmp_path_factory) -> Path | None:
    """Where training reads: generated data sets, or (None) the research data."""
    return write_small_data(tmp_path_factory.mktemp("data")) if request.param == "generated" else None


@pytest.fixture(scope="module")
def base_state(data_root):
    return train(data_root=data_root, **SMALL)


def test_train_small_subset_produces_working_model(base_state, tmp_path):
    assert base_state["training"]["max_rows"] == 300
    assert set(base_state["thresholds"]) == {"misinformation", "harm"}
    assert all(0.0 < t <= 1.0 for per_head in base_state["thresholds"].values() for t in per_head.values())
    path = tmp_path / "m.skops"
    save_state(base_state, path)
    model = load_model(path)
    toxic, clean = model.score(["câm mồm đi con chó, loại mất dạy", "cảm ơn bạn, bài viết rất hay"])
    assert toxic.harm > clean.harm
    assert model.head_proba("vi_victsd_toxicity", ["xin chào"]).shape == (1,)


def test_progress_is_reported(data_root):
    seen: list[tuple[str, float]] = []
    train(progress=lambda m, f: seen.append((m, f)), datasets=["vi_vnnews_v2"], data_root=data_root, max_rows=120,
          n_jobs=1)
    fractions = [f for _, f in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)


def test_decisions_change_the_next_model(base_state, data_root):
    """Moderators confirming an item as harmful must raise its harm score in the next model."""
    before = Model(base_state).score_one(ODD_TEXT)
    extra = [{"text": ODD_TEXT, "category": "harm", "label": 1}] * 10
    extra += [{"text": "bài viết về thời tiết hôm nay", "category": "misinformation", "label": 0}] * 3
    after_state = train(extra_examples=extra, data_root=data_root, **SMALL)
    assert after_state["training"]["n_extra"] == 13
    after = Model(after_state).score_one(ODD_TEXT)
    assert after.harm > before.harm + 0.05, (before.harm, after.harm)


def test_tune_class_bias_improves_macro_f1():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    logits = rng.normal(size=(600, 3))
    logits[np.arange(600), y] += 1.0
    logits[:, 0] += 1.5  # a biased model that over-predicts class 0
    bias = tune_class_bias(logits, y)
    assert f1_score(y, (logits + bias).argmax(1), average="macro") > f1_score(y, logits.argmax(1), average="macro")


def test_expert_threshold_reaches_precision_with_most_recall():
    y = np.array([0] * 100 + [1] * 60)
    p = np.concatenate([np.linspace(0.0, 0.7, 100), np.linspace(0.4, 1.0, 60)])
    t = expert_threshold(p, y, 0.8)
    assert (y[p >= t] == 1).mean() >= 0.8
    lower = p[p < t].max()
    assert (y[p >= lower] == 1).mean() < 0.8  # one step lower would miss the precision: most recall
    assert expert_threshold(p, y, 0.95) > t
    assert expert_threshold(p[:110], y[:110], 0.8) is None  # 10 positives: too few to trust a threshold
    assert expert_threshold(np.full(160, 0.5), y, 0.8) is None  # a head that cannot be that precise
    # counted at a lower share of positives than the dev sample's, the same precision needs a higher bar
    assert expert_threshold(p, y, 0.8, base_rate=0.2) > t
    # a lucky bump below a dip does not lower the bar: precision must hold for every stricter threshold
    bump_y = np.array([1] * 12 + [0] * 4 + [1] * 8 + [0] * 100 + [1] * 10)  # 0.75 after 16 items, 0.83 after 24
    bump_p = np.linspace(0.99, 0.51, len(bump_y))
    assert expert_threshold(bump_p, bump_y, 0.8) > bump_p[15]  # not down at the bump after the dip (0.83 at 24)
    # never below 0.5: an easy corpus that is half fake does not lower the bar under "more likely true"
    easy = np.concatenate([np.linspace(0.0, 0.1, 100), np.linspace(0.1, 1.0, 60)])
    assert expert_threshold(easy, y, 0.8) >= 0.5


def test_regressions_gate():
    old = {"a/macro_f1": 0.80, "b/roc_auc": 0.90}
    assert regressions({"a/macro_f1": 0.795, "b/roc_auc": 0.95}, old, 0.01) == []
    bad = regressions({"a/macro_f1": 0.70, "b/roc_auc": 0.95}, old, 0.01)
    assert len(bad) == 1 and bad[0].startswith("a/macro_f1")
    assert regressions({"a/macro_f1": 0.9}, old, 0.01) == ["b/roc_auc: missing in new model"]


@pytest.mark.parametrize("data_root", [RESEARCH], indirect=True)  # the gate's baseline: the shipped model on research dev
def test_registry_promote_and_rollback(tmp_path, base_state, monkeypatch):
    import classifiers.data

    read = classifiers.data.read_jsonl

    def no_test_split(path):
        assert Path(path).name != "test.jsonl", f"the research gate read a test split: {path}"
        return read(path)

    monkeypatch.setattr(classifiers.data, "read_jsonl", no_test_split)
    reg = Registry(tmp_path / "reg")
    cand = train_from_examples([{"text": ODD_TEXT, "category": "harm", "label": 1}], registry_root=reg.root, **SMALL)
    assert reg.model_path(cand["version"]).exists()
    assert reg.model_path(cand["version"]).with_suffix(".card.md").exists()
    assert "vi_victsd_toxicity" in cand["metrics"]
    assert reg.gate_record(cand["version"])["kind"] == "dev"
    # a 300-row model is worse than the shipped default on the dev splits: refused
    verdict = propose(cand)
    assert verdict["promoted"] is False and verdict["reasons"]
    assert reg.active is None and reg.active_model_path().name == "default.skops"
    ok, _ = reg.promote(cand["version"], force=True)
    assert ok and reg.active == cand["version"]
    # a second version with the same dev metrics, measured against the first, passes the gate
    same = flat_metrics(cand["metrics"])
    reg.add(dict(base_state, version="v-second"), None,
            {"kind": "dev", "active_version": cand["version"], "candidate": same, "baseline": same})
    ok2, reasons2 = reg.promote("v-second", tolerance=0.01)
    assert ok2 and reasons2 == []
    assert [r["version"] for r in reg.list() if r["active"]] == ["v-second"]
    # a version stored without a gate measurement is not promoted unless forced
    reg.add(dict(base_state, version="v-unmeasured"))
    refused, why = reg.promote("v-unmeasured")
    assert refused is False and "no gate measurement" in why[0]
    assert reg.rollback() == cand["version"]
    assert reg.rollback() is None
    with pytest.raises(ValueError):
        reg.rollback()
    assert flat_metrics(cand["metrics"])


def test_cli_commands(tmp_path, base_state, capsys):
    from monitor.commands import models as cli

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=str(tmp_path / "m.db"))
    parser.add_argument("--feeds", default=None)
    cli.register(parser.add_subparsers(dest="command"))
    reg_dir = tmp_path / "reg"
    reg = Registry(reg_dir)
    reg.add(dict(base_state, version="v1"), {"vi_vnnews_v2": {"macro_f1": 0.5}})
    args = parser.parse_args(["model", "--registry", str(reg_dir), "list", "--json"])
    assert args.func(args) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in listed["versions"]] == ["v1"] and listed["active"] is None
    args = parser.parse_args(["model", "--registry", str(reg_dir), "promote", "v1", "--force"])
    assert args.func(args) == 0 and reg.active == "v1"
    args = parser.parse_args(["model", "--registry", str(reg_dir), "rollback"])
    assert args.func(args) == 0 and reg.active is None
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"text": ODD_TEXT, "category": "harm", "label": 1}) + "\n", encoding="utf-8")
    args = parser.parse_args(["train", "--extra", str(extra), "--out", str(tmp_path / "x.skops")])
    assert args.func is cli.cmd_train and args.extra == str(extra)


def test_a_category_with_exactly_two_corpora_trains_and_gates_between_them(tmp_path):
    """Two corpora of one category give a one-row binary gate in scikit-learn; the model needs a row per
    corpus (training crashed with IndexError in the mixture's dev scoring)."""
    root = write_small_data(tmp_path, headline_sets=("vi_vnnews_v2", "vi_vfnd"))
    state = train(data_root=root, datasets=["vi_victsd_toxicity", "vi_vnnews_v2", "vi_vfnd"], max_rows=300, n_jobs=1)
    gate = state["gates"]["misinformation"]
    assert gate["datasets"] == ["vi_vnnews_v2", "vi_vfnd"] and gate["row_end"] - gate["row_start"] == 2
    model = Model(state)
    p_fake, p_real = model.category_proba([f"{FAKE[0]} {PLACES[0]}", f"{REAL[0]} {PLACES[0]}"],
                                          kinds=["article", "article"])[:, model.categories.index("misinformation")]
    assert p_fake > p_real
