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
