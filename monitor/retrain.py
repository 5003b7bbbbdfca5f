"""Nightly retrain proposal: moderators' decisions become training examples for a candidate model.

The candidate is only ever *proposed*: promotion goes through the classifier registry's
no-regression gate, never around it, so a night of noisy decisions cannot make flags worse.
Trainer and gate are injectable so the job can be tested without training a real model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import sqlite_utils

import db
from monitor.config import Settings

log = logging.getLogger("monitor.retrain")

STATE_KEY = "retrain_last_examples"
MIN_NEW_EXAMPLES = 20

Trainer = Callable[[list[dict], Callable[[str, float], None]], Any]
Gate = Callable[[Any], dict]


def collect_examples(database: sqlite_utils.Database) -> list[dict]:
    """{"text", "category", "label"} from each item's latest decision (reopened items are left out)."""
    rows = database.query(
        "SELECT i.title, i.text, i.flag_reasons, d.action FROM decisions d JOIN items i ON i.id = d.item_id"
        " WHERE d.id = (SELECT MAX(id) FROM decisions WHERE item_id = d.item_id) ORDER BY d.id")
    examples: list[dict] = []
    for row in rows:
        text = f"{row['title']}\n{row['text']}".strip()
        if not text:
            continue
        action = row["action"]
        if action == "confirm_misinformation":
            examples.append({"text": text, "category": "misinformation", "label": 1})
        elif action == "confirm_harm":
            examples.append({"text": text, "category": "harm", "label": 1})
        elif action == "dismiss":
            reasons = json.loads(row["flag_reasons"] or "[]") or ["misinformation", "harm"]
            examples.extend({"text": text, "category": reason, "label": 0} for reason in reasons)
    return examples


def _default_trainer() -> Trainer | None:
    try:
        from classifiers.train import train_from_examples  # type: ignore[attr-defined]
    except ImportError:
        return None
    return train_from_examples


def _default_gate() -> Gate | None:
    try:
        from classifiers import registry  # type: ignore[attr-defined]
    except ImportError:
        return None
    for name in ("propose", "gate", "consider"):
        function = getattr(registry, name, None)
        if callable(function):
            return function
    return None


def propose_retrain(database: sqlite_utils.Database, settings: Settings | None = None, db_path: str | None = None,
                    *, trainer: Trainer | None = None, gate: Gate | None = None,
                    min_new_examples: int = MIN_NEW_EXAMPLES) -> dict:
    """Train a candidate on decisions when enough are new since last night; let the gate decide."""
    examples = collect_examples(database)
    row = database.conn.execute("SELECT value FROM service_state WHERE key = ?", (STATE_KEY,)).fetchone()
    previous = int(row[0]) if row else 0
    if len(examples) - previous < min_new_examples:
        return {"proposed": False, "reason": f"{len(examples) - previous} new examples (< {min_new_examples})",
                "examples": len(examples)}
    trainer = trainer or _default_trainer()
    gate = gate or _default_gate()
    if trainer is None or gate is None:
        return {"proposed": False, "reason": "classifier retraining or registry gate not installed",
                "examples": len(examples)}

    def progress(message: str, fraction: float) -> None:
        log.info("retrain progress", extra={"step": message, "fraction": round(fraction, 2)})

    candidate = trainer(examples, progress)
    verdict = dict(gate(candidate) or {})
    if gate is _default_gate():
        from monitor.scoring import sync_models_table

        sync_models_table(database)
    with db.transaction(database) as conn:
        conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO"
                     " UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                     (STATE_KEY, str(len(examples)), db.utcnow()))
    outcome = {"proposed": True, "examples": len(examples), "promoted": bool(verdict.get("promoted")),
               "gate": verdict}
    log.info("retrain proposal", extra={k: v for k, v in outcome.items() if k != "gate"})
    return outcome
