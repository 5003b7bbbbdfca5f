"""The model every scoring path uses follows the registry: promote and roll back take effect."""

from __future__ import annotations

from classifiers.model import DEFAULT_MODEL, load_model, load_state
from classifiers.registry import Registry
from monitor.scoring import ActiveScorer, load_scorer


def register_copy_of_shipped(root, version: str) -> None:
    state = load_state(DEFAULT_MODEL)
    state["version"] = version
    Registry(root).add(state, {})


def test_load_scorer_uses_the_active_version_then_the_shipped_one_after_rollback(tmp_path):
    shipped = load_model().version
    assert load_scorer(registry_root=tmp_path).version == shipped
    register_copy_of_shipped(tmp_path, "candidate-1")
    assert load_scorer(registry_root=tmp_path).version == shipped  # stored, not promoted
    promoted, _ = Registry(tmp_path).promote("candidate-1", force=True)
    assert promoted
    assert load_scorer(registry_root=tmp_path).version == "candidate-1"
    Registry(tmp_path).rollback()
    assert load_scorer(registry_root=tmp_path).version == shipped


def test_active_scorer_swaps_models_when_a_version_is_promoted(tmp_path):
    scorer = ActiveScorer(registry_root=tmp_path, recheck_seconds=0)
    before = scorer.version
    register_copy_of_shipped(tmp_path, "candidate-2")
    Registry(tmp_path).promote("candidate-2", force=True)
    scores = scorer.score(["Chia sẻ gấp: uống nước chanh chữa khỏi ung thư"])
    assert scores[0].model_version == "candidate-2" != before


def test_models_table_mirrors_the_registry(tmp_path, tmp_db):
    from monitor.scoring import sync_models_table

    shipped = load_model().version
    assert sync_models_table(tmp_db, tmp_path) == 1
    rows = list(tmp_db.query("SELECT version, promoted, card FROM models"))
    assert [(r["version"], r["promoted"]) for r in rows] == [(shipped, 1)]
    assert shipped in rows[0]["card"]  # the card names its version
    register_copy_of_shipped(tmp_path, "candidate-3")
    Registry(tmp_path).promote("candidate-3", force=True)
    assert sync_models_table(tmp_db, tmp_path) == 2
    promoted = {r["version"]: r["promoted"] for r in tmp_db.query("SELECT version, promoted FROM models")}
    assert promoted == {shipped: 0, "candidate-3": 1}


def test_cli_model_commands_update_the_models_table(tmp_path, monkeypatch, capsys):
    import db
    from monitor.cli import main

    monkeypatch.setenv("MONITOR_MODEL_DIR", str(tmp_path / "registry"))
    register_copy_of_shipped(tmp_path / "registry", "candidate-4")
    db_path = tmp_path / "m.db"
    db.connect(db_path).conn.close()  # the models table is mirrored into an existing database only
    assert main(["--db", str(db_path), "model", "promote", "candidate-4", "--force"]) == 0
    database = db.connect(db_path)
    assert database.conn.execute("SELECT version FROM models WHERE promoted = 1").fetchone()[0] == "candidate-4"
    assert main(["--db", str(db_path), "model", "rollback"]) == 0
    assert database.conn.execute("SELECT version FROM models WHERE promoted = 1").fetchone()[0] == load_model().version


def test_monitor_watchlist_env_replaces_the_shipped_watchlist(tmp_path, monkeypatch):
    custom = tmp_path / "watchlist.yaml"
    custom.write_text("misinformation:\n  phrases:\n    - mua sim số đẹp\n", encoding="utf-8")
    text = "Mua sim so dep gia re tai Thanh Hoa"
    assert not load_scorer(registry_root=tmp_path).score([text])[0].rule_hits
    monkeypatch.setenv("MONITOR_WATCHLIST", str(custom))
    hits = load_scorer(registry_root=tmp_path).score([text])[0].rule_hits
    assert [h["category"] for h in hits] == ["misinformation"]


def test_a_promoted_model_that_cannot_load_is_logged_and_the_current_one_keeps_scoring(tmp_path, caplog):
    scorer = ActiveScorer(registry_root=tmp_path, recheck_seconds=0)
    before = scorer.version
    register_copy_of_shipped(tmp_path, "candidate-5")
    registry = Registry(tmp_path)
    registry.promote("candidate-5", force=True)
    registry.active_model_path().write_bytes(b"not a model file")  # damaged on disk after promotion
    scores = scorer.score(["Chia sẻ gấp: uống nước chanh chữa khỏi ung thư"])
    assert scores[0].model_version == before
    assert "cannot load the promoted model" in caplog.text
    assert scorer.score(["tin tức"])[0].model_version == before  # not retried on every call
    assert caplog.text.count("cannot load the promoted model") == 1
    import os

    from classifiers.model import save_state

    state = load_state(DEFAULT_MODEL)
    state["version"] = "candidate-5"
    save_state(state, registry.active_model_path())  # the file is repaired: picked up without a restart
    os.utime(registry.active_model_path(), ns=(1, 10**18))
    assert scorer.score(["tin tức"])[0].model_version == "candidate-5"


def test_a_restart_with_an_unloadable_promoted_model_scores_with_the_shipped_one(tmp_path, caplog):
    register_copy_of_shipped(tmp_path, "candidate-6")
    registry = Registry(tmp_path)
    registry.promote("candidate-6", force=True)
    registry.active_model_path().write_bytes(b"not a model file")
    scorer = ActiveScorer(registry_root=tmp_path, recheck_seconds=0)
    assert scorer.version == load_model().version
    assert "scoring with the shipped one" in caplog.text


def test_listing_model_versions_imports_no_model_code(tmp_path):
    """`monitor serve` records the model versions at start (sync_models_table) and never scores: that must not
    import classifiers.model, whose numpy and scipy.sparse cost the web process ~15 MB (issue 17 §3)."""
    import subprocess
    import sys

    from tests.corpus import REPO

    code = ("import sys, db; from monitor.scoring import sync_models_table; "
            f"n = sync_models_table(db.connect({str(tmp_path / 'm.db')!r}), {str(tmp_path / 'registry')!r}); "
            "print(n, sorted(m for m in ('classifiers.model', 'scipy', 'sklearn') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "[]"]
