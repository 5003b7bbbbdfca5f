"""Model registry: versions on disk, promotion gated on test metrics, rollback.

Why: moderators' decisions retrain the model continuously; a retrained model must never
silently get worse on the fixed test sets. Each version directory holds the skops file, its
model card and a metrics JSON; ``registry.json`` records the active version and the
promotion history (so rollback is one step back). Falls back to the shipped default model
when nothing has been promoted.

Layout::

    <root>/registry.json                 {"active": "v", "history": ["v0", "v1", ...]}
    <root>/versions/<v>/model.skops      (+ model.card.md, model.json)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from classifiers.card import write_card
from classifiers.model import DEFAULT_MODEL, Model, load_model, save_state

DEFAULT_TOLERANCE = 0.01
# Metrics compared at promotion (per dataset key of classifiers.evaluate results).
GATED_METRICS = ("macro_f1", "roc_auc", "category_roc_auc")


def default_root() -> Path:
    """$MONITOR_MODEL_DIR, else $MONITOR_HOME/models, else ~/.local/share/vi-misinfo-monitor/models
    (beside the default database, so the CLI and the nightly retrain job agree)."""
    env = os.environ.get("MONITOR_MODEL_DIR")
    if env:
        return Path(env)
    home = os.environ.get("MONITOR_HOME")
    base = Path(home) if home else Path.home() / ".local" / "share" / "vi-misinfo-monitor"
    return base / "models"


def flat_metrics(results: dict) -> dict[str, float]:
    """{'<dataset>/<metric>': value} for the gated metrics (None values dropped)."""
    out = {}
    for key, res in results.items():
        for metric in GATED_METRICS:
            v = res.get(metric)
            if isinstance(v, int | float):
                out[f"{key}/{metric}"] = float(v)
    return out


def regressions(new: dict[str, float], old: dict[str, float], tolerance: float) -> list[str]:
    """Human-readable list of metrics where `new` is worse than `old` by more than `tolerance`."""
    return [
        f"{k}: {new[k]:.4f} < {old[k]:.4f} - {tolerance}"
        for k in sorted(old)
        if k in new and new[k] < old[k] - tolerance
    ] + [f"{k}: missing in new model" for k in sorted(old) if k not in new]


class Registry:
    """Versions stored under `root`; see module docstring."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.index_path = self.root / "registry.json"

    # -- index ------------------------------------------------------------------------
    def _index(self) -> dict:
        if self.index_path.exists():
            return json.loads(self.index_path.read_text(encoding="utf-8"))
        return {"active": None, "history": []}

    def _save_index(self, index: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index, indent=1), encoding="utf-8")
        tmp.replace(self.index_path)

    def model_path(self, version: str) -> Path:
        return self.root / "versions" / version / "model.skops"

    def metrics(self, version: str | None) -> dict:
        """Test metrics of a version (for None: the shipped default's, from default.json)."""
        path = self.model_path(version).with_suffix(".json") if version else DEFAULT_MODEL.with_suffix(".json")
        if not path.exists():
            return {}
        return json.loads(path.read_text(encoding="utf-8")).get("test_metrics") or {}

    @property
    def active(self) -> str | None:
        return self._index()["active"]

    # -- operations ---------------------------------------------------------------------
    def add(self, state: dict, test_metrics: dict) -> str:
        """Store a trained state with its test metrics; returns its version (not promoted)."""
        version = state["version"]
        path = self.model_path(version)
        if path.exists():
            raise FileExistsError(f"version {version} already registered")
        save_state(state, path)
        write_card(state, path, test_metrics)
        return version

    def list(self) -> list[dict]:
        """All stored versions, oldest first, with created date, active flag and key metrics."""
        index = self._index()
        out = []
        vdir = self.root / "versions"
        for d in sorted(vdir.iterdir()) if vdir.exists() else []:
            meta_path = d / "model.json"
            if not meta_path.exists():
                continue
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            out.append({
                "version": d.name,
                "created": meta.get("created"),
                "active": d.name == index["active"],
                "n_extra": (meta.get("training") or {}).get("n_extra"),
                "metrics": flat_metrics(meta.get("test_metrics") or {}),
            })
        return out

    def promote(self, version: str, tolerance: float = DEFAULT_TOLERANCE, force: bool = False) -> tuple[bool, list[str]]:
        """Make `version` active unless a gated metric regresses by more than `tolerance`
        against the currently active model (or the shipped default). Returns (promoted, reasons)."""
        if not self.model_path(version).exists():
            raise KeyError(f"unknown version {version}")
        index = self._index()
        new = flat_metrics(self.metrics(version))
        old = flat_metrics(self.metrics(index["active"]))
        bad = regressions(new, old, tolerance)
        if bad and not force:
            return False, bad
        if index["active"] != version:
            index["history"].append(version)
            index["active"] = version
            self._save_index(index)
        return True, bad

    def rollback(self) -> str | None:
        """Re-activate the previously promoted version (None = back to the shipped default)."""
        index = self._index()
        if not index["history"]:
            raise ValueError("nothing to roll back: no promoted version")
        index["history"].pop()
        index["active"] = index["history"][-1] if index["history"] else None
        self._save_index(index)
        return index["active"]

    def remove(self, version: str) -> None:
        """Delete a stored, non-active version."""
        if version == self.active:
            raise ValueError("cannot remove the active version")
        shutil.rmtree(self.model_path(version).parent)

    def active_model_path(self) -> Path:
        """Path of the model `monitor classify` should use."""
        v = self.active
        return self.model_path(v) if v else DEFAULT_MODEL

    def load_active(self, watchlist: str | Path | None = None) -> Model:
        return load_model(self.active_model_path(), watchlist)


def load_active(root: str | Path | None = None, watchlist: str | Path | None = None) -> Model:
    """The model to score with: the registry's promoted version, else the shipped default."""
    return Registry(root or default_root()).load_active(watchlist)


def register_candidate(state: dict, registry_root: str | Path | None = None,
                       datasets: list[str] | None = None, data_root: Path | None = None) -> dict:
    """Evaluate a freshly trained state on the fixed test sets and store it (not promoted).

    Returns the candidate dict consumed by :func:`propose`."""
    from classifiers.evaluate import evaluate

    metrics = evaluate(Model(state), datasets=datasets, root=data_root)
    reg = Registry(registry_root or default_root())
    version = reg.add(state, metrics)
    return {"version": version, "path": str(reg.model_path(version)), "registry_root": str(reg.root),
            "metrics": metrics}


def propose(candidate: dict, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """The no-regression gate: promote the candidate iff no gated test metric drops by more
    than `tolerance` versus the active model. Returns {"promoted", "version", "reasons"}."""
    reg = Registry(candidate.get("registry_root") or default_root())
    promoted, reasons = reg.promote(candidate["version"], tolerance)
    return {"promoted": promoted, "version": candidate["version"], "reasons": reasons,
            "active": reg.active}
