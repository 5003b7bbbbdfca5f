"""Model registry: versions on disk, each promoted only through its gate, and rollback.

Why: the model keeps changing on an installation (its moderators' decisions adapt it every night,
a research retrain may replace it) and a new version must never silently make flags worse. Each
version directory holds the skops file, its model card and a metrics JSON whose ``gate`` entry is
what its promotion is judged on; ``registry.json`` records the active version and the promotion
history (so rollback is one step back). Falls back to the shipped default model when nothing has
been promoted.

Two gates, neither of which reads a research ``test`` split (those are for ``monitor eval`` only):

- a version adapted from decisions (``adapt_candidate``) is promoted when, on the most recent
  decisions held out in time order, its log-loss beats the model in use, and the share of the
  installation's recent items it flags stays within a band (``FlagBand``) around today's;
- a research retrain (``register_candidate``, needs ``../shared/data``) is promoted when no dev
  metric drops by more than the tolerance against the model in use.

Layout::

    <root>/registry.json                 {"active": "v", "history": ["v0", "v1", ...]}
    <root>/versions/<v>/model.skops      (+ model.card.md, model.json)
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from classifiers.card import write_card
from classifiers.paths import DEFAULT_MODEL
from vocab import CATEGORIES

if TYPE_CHECKING:  # classifiers.model (numpy, scipy) is imported where a model is loaded, built or saved:
    from classifiers.model import Model  # listing versions (`monitor serve` at start) needs none of it

DEFAULT_TOLERANCE = 0.01
# Metrics compared when gating a research retrain on dev (per dataset key of classifiers.evaluate).
GATED_METRICS = ("macro_f1", "roc_auc", "category_roc_auc")
# How much lower (nats per decision) an adapted version's held-out log-loss must be than the model's
# in use: log-loss judges the probabilities the thresholds act on, needs no minimum count of either
# label (ROC-AUC and average precision are undefined on a one-label slice and, on ten items, mostly
# noise) and, unlike them, sees a calibrator at all (a monotone rescaling leaves rankings unchanged).
MIN_LOGLOSS_GAIN = 0.01


@dataclass(frozen=True)
class FlagBand:
    """How far a candidate may move the share of recent items each category flags.

    Allowed: from min(today / ratio, today - drop) up to max(today * ratio, today + rise). The
    absolute terms matter at the shipped model's near-zero rates (0.2 % of ReINTEL posts), where a
    pure ratio would forbid the very change decisions are meant to make; the ratio bounds large
    rates (a queue several times its usual size is a broken model, not a lesson learnt)."""

    ratio: float = 2.0
    rise: float = 0.10
    drop: float = 0.01

    def bounds(self, today: float) -> tuple[float, float]:
        """(lowest, highest) share of items the candidate may flag."""
        return max(0.0, min(today / self.ratio, today - self.drop)), max(today * self.ratio, today + self.rise)

    def violation(self, today: float, candidate: float) -> str | None:
        """Why `candidate` leaves the band around `today` (None when it stays inside)."""
        low, high = self.bounds(today)
        if low <= candidate <= high:
            return None
        return f"would flag {candidate:.1%} of recent items (today {today:.1%}; allowed {low:.1%}-{high:.1%})"


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

    def _meta(self, version: str | None) -> dict:
        path = self.model_path(version).with_suffix(".json") if version else DEFAULT_MODEL.with_suffix(".json")
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def metrics(self, version: str | None) -> dict:
        """Test metrics of a version, for reports only (for None: the shipped default's)."""
        return self._meta(version).get("test_metrics") or {}

    def gate_record(self, version: str) -> dict:
        """What the version's promotion is judged on (stored when it was registered)."""
        return self._meta(version).get("gate") or {}

    @property
    def active(self) -> str | None:
        return self._index()["active"]

    # -- operations ---------------------------------------------------------------------
    def add(self, state: dict, test_metrics: dict | None = None, gate: dict | None = None) -> str:
        """Store a state with what its promotion is gated on (and test metrics, reported only);
        returns its version (not promoted)."""
        version = state["version"]
        path = self.model_path(version)
        if path.exists():
            raise FileExistsError(f"version {version} already registered")
        from classifiers.model import save_state

        save_state(state, path)
        card, meta_path = write_card(state, path, test_metrics)
        if gate is not None:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            meta_path.write_text(json.dumps({**meta, "gate": gate}, indent=1, default=str), encoding="utf-8")
        if state.get("adapter"):
            title, _, rest = card.read_text(encoding="utf-8").partition("\n")
            card.write_text(f"{title}\n\n{adaptation_card(state, gate or {})}{rest}", encoding="utf-8")
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
                "adapted_from": (meta.get("training") or {}).get("adapted_from"),
                "n_decisions": (meta.get("training") or {}).get("n_decisions"),
                "metrics": flat_metrics(meta.get("test_metrics") or {}),
                "gate": gate_summary(meta.get("gate") or {}),
            })
        return out

    def promote(self, version: str, tolerance: float = DEFAULT_TOLERANCE, force: bool = False) -> tuple[bool, list[str]]:
        """Make `version` active unless its gate (stored when it was registered, see `gate_reasons`)
        refuses it; `force` promotes anyway. Returns (promoted, reasons)."""
        if not self.model_path(version).exists():
            raise KeyError(f"unknown version {version}")
        index = self._index()
        bad = gate_reasons(self.gate_record(version), index["active"], tolerance)
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
        from classifiers.model import load_model

        return load_model(self.active_model_path(), watchlist)


def load_active(root: str | Path | None = None, watchlist: str | Path | None = None) -> Model:
    """The model to score with: the registry's promoted version, else the shipped default."""
    return Registry(root or default_root()).load_active(watchlist)


def register_candidate(state: dict, registry_root: str | Path | None = None,
                       datasets: list[str] | None = None, data_root: Path | None = None) -> dict:
    """Store a research retrain (not promoted) with its dev metrics and the model in use's, the
    measurement its gate compares; needs ``../shared/data``. Never reads a test split.

    Returns the candidate dict consumed by :func:`propose`."""
    from classifiers.evaluate import evaluate
    from classifiers.model import Model

    reg = Registry(registry_root or default_root())
    metrics = evaluate(Model(state), datasets=datasets, root=data_root, split="dev")
    baseline = evaluate(reg.load_active(), datasets=datasets, root=data_root, split="dev")
    gate = {"kind": "dev", "active_version": reg.active, "candidate": flat_metrics(metrics),
            "baseline": flat_metrics(baseline)}
    version = reg.add(state, None, gate)
    return {"version": version, "path": str(reg.model_path(version)), "registry_root": str(reg.root),
            "metrics": metrics}


def adapt_candidate(decisions: list[dict], progress: Callable[[str, float], None] | None = None, *, recent: list[dict],
                    days: float | None = None, registry_root: str | Path | None = None,
                    band: FlagBand = FlagBand(), min_gain: float = MIN_LOGLOSS_GAIN) -> dict:
    """Adapt the model in use to moderators' decisions and store the result (not promoted).

    decisions: ``{"text", "category", "label", "kind", "decided_at"}``; recent: the installation's
    recent items ``{"text", "kind"}`` (fetched over `days`), on which both versions' flag rates are
    measured. Returns ``{"waiting": True, "reason": "N decisions, M needed"}`` when no category has
    enough decisions yet, else the candidate dict consumed by :func:`propose` (its ``gate`` holds
    the held-out comparison, the flag rates and the reasons to refuse it, if any)."""
    from classifiers import adapt
    from classifiers.model import Model

    reg = Registry(registry_root or default_root())
    ready, why = adapt.readiness(decisions, list(CATEGORIES))
    if not ready:
        return {"waiting": True, "reason": why, "registry_root": str(reg.root)}
    active = reg.load_active()
    report = progress or (lambda message, fraction: None)
    report(f"adapting {active.version} to {len(decisions)} decisions ({', '.join(ready)})", 0.0)
    built = adapt.build(active, decisions, ready)
    report(f"measuring flag rates on {len(recent)} recent items", 0.8)
    candidate = Model(built["state"], active.watchlist)
    texts, kinds = [r["text"] for r in recent], [r.get("kind") or "post" for r in recent]
    today, new = adapt.flag_rates(active, texts, kinds), adapt.flag_rates(candidate, texts, kinds)
    per_day = len(texts) / days if days else None
    gate = {"kind": "decisions", "active_version": reg.active, "base_version": built["state"]["training"]["adapted_from"],
            "n_decisions": len(decisions), "not_adapted": why, "categories": built["categories"],
            "flag_rates": {c: {"active": today[c], "candidate": new[c], "recent_items": len(texts),
                               "items_per_day": per_day} for c in ready},
            "band": asdict(band), "min_gain": min_gain}
    gate["reasons"] = decisions_gate(gate, band, min_gain)
    version = reg.add(built["state"], None, gate)
    report(f"stored {version}", 1.0)
    return {"version": version, "path": str(reg.model_path(version)), "registry_root": str(reg.root), "gate": gate}


def decisions_gate(gate: dict, band: FlagBand, min_gain: float) -> list[str]:
    """Why an adapted version must not replace the model in use (empty: promote it).

    Every adapted category must lower the log-loss on its held-out recent decisions by `min_gain`,
    and keep its flag rate on the recent items inside `band`."""
    reasons = []
    for cat, rec in gate["categories"].items():
        new, old = rec["candidate"]["log_loss"], rec["active"]["log_loss"]
        if new > old - min_gain:
            reasons.append(f"{cat}: log-loss {new:.3f} on the {rec['n_heldout']} most recent decisions, the model "
                           f"in use has {old:.3f} (must be {min_gain} lower)")
    for cat, rates in gate["flag_rates"].items():
        why = band.violation(rates["active"], rates["candidate"])
        if why:
            reasons.append(f"{cat}: {why}")
    return reasons


def gate_reasons(gate: dict, active: str | None, tolerance: float) -> list[str]:
    """Why a stored version must not be promoted now, from the gate record stored with it."""
    if not gate:
        return ["no gate measurement stored with this version (promote it with --force if you checked it)"]
    stale = ([f"measured against {gate.get('active_version') or 'the shipped model'}, but "
              f"{active or 'the shipped model'} is in use now: build a new candidate"]
             if gate.get("active_version") != active else [])
    if gate["kind"] == "decisions":
        return list(gate.get("reasons") or []) + stale
    return regressions(gate["candidate"], gate["baseline"], tolerance) + stale


def gate_summary(gate: dict) -> dict:
    """The few numbers `monitor model list` shows for a version's gate."""
    if gate.get("kind") == "decisions":
        return {"kind": "decisions", "n_decisions": gate.get("n_decisions"),
                "heldout_log_loss": {c: [round(r["active"]["log_loss"], 3), round(r["candidate"]["log_loss"], 3)]
                                     for c, r in gate["categories"].items()},
                "flag_rate": {c: [round(r["active"], 4), round(r["candidate"], 4)] for c, r in gate["flag_rates"].items()},
                "passed": not gate.get("reasons")}
    if gate.get("kind") == "dev":
        return {"kind": "dev", "passed": not regressions(gate["candidate"], gate["baseline"], DEFAULT_TOLERANCE)}
    return {}


def adaptation_card(state: dict, gate: dict) -> str:
    """The model card's section for a version adapted from decisions: from what, with how many."""
    adapter = state["adapter"]
    lines = ["## Adaptation to this installation", "",
             f"Adaptation of version `{adapter['base_version']}` with {adapter['n_decisions']} moderator decisions "
             "(its heads, features and flag thresholds unchanged; per category a calibrator of its score, plus a "
             "sparse residual over its features where that did better on the held-out decisions; see "
             "classifiers/adapt.py). The research data was not used.", ""]
    for cat, params in adapter["categories"].items():
        rec = (gate.get("categories") or {}).get(cat, {})
        rates = (gate.get("flag_rates") or {}).get(cat, {})
        line = (f"- {cat}, {' and '.join(k + 's' for k in params['kinds'])}: {params['variant']} (slope "
                f"{params['slope']:.2f}, intercept {params['intercept']:.2f}, {len(params['w_indices'])} feature "
                "weights)")
        if rec:
            line += (f"; log-loss on the {rec['n_heldout']} most recent decisions {rec['candidate']['log_loss']:.3f} "
                     f"(model in use {rec['active']['log_loss']:.3f})")
        if rates:
            line += f"; flags {rates['candidate']:.1%} of recent items (model in use {rates['active']:.1%})"
        lines.append(line)
    reasons = gate.get("reasons") or []
    lines += ["", "Gate: " + ("passed" if not reasons else "refused: " + "; ".join(reasons)), ""]
    return "\n".join(lines)


def propose(candidate: dict, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """Promote the candidate iff its gate passes (see `Registry.promote`); a candidate still
    waiting for decisions is reported, not promoted. Returns {"promoted", "version", "reasons"}."""
    reg = Registry(candidate.get("registry_root") or default_root())
    if candidate.get("waiting"):
        return {"promoted": False, "version": None, "reasons": [candidate["reason"]], "active": reg.active}
    promoted, reasons = reg.promote(candidate["version"], tolerance)
    return {"promoted": promoted, "version": candidate["version"], "reasons": reasons,
            "active": reg.active}
