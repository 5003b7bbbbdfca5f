"""Nightly retrain proposal: moderators' decisions adapt the model in use into a candidate.

It needs nothing but the installation's database and model (no research data): the default
trainer is ``classifiers.registry.adapt_candidate``, fed each item's latest decision with its time
and the item's kind, plus the recent items on which the candidate's flag rate is measured. The
candidate is only ever *proposed*: promotion goes through the registry's gate (held-out recent
decisions and a flag-rate band), never around it, so a night of noisy decisions cannot make flags
worse. Until enough decisions exist the job logs "N decisions, M needed" and waits. Trainer and
gate are injectable so the job can be tested without fitting a model.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

import db
from db.items import latest_decisions, newest_items
from db.state import get_state, set_state
from monitor.config import Settings
from monitor.domain import CATEGORIES, CONFIRMED_CATEGORY, Action

log = logging.getLogger("monitor.retrain")

STATE_KEY = "retrain_last_examples"
MIN_NEW_EXAMPLES = 20
# The flag rate is measured on the items fetched over the last RECENT_DAYS (at most RECENT_LIMIT,
# newest first); an installation with fewer than RECENT_MIN of them uses its newest RECENT_MIN items
# whatever their age (a rate over a handful of items would make the band meaningless).
RECENT_DAYS = 7
RECENT_MIN = 100
RECENT_LIMIT = 5000

Trainer = Callable[[list[dict], Callable[[str, float], None]], Any]
Gate = Callable[[Any], dict]


def collect_examples(database: sqlite_utils.Database) -> list[dict]:
    """{"text", "category", "label", "kind", "decided_at"} from each item's latest decision (reopened
    items are left out), oldest first; kind is the one scoring recorded for the item, else "post".

    A confirmation is a positive example of the category it confirms; a dismissal a negative one of
    every category the item was flagged for (all of them when no reason was recorded)."""
    rows = latest_decisions(database)
    examples: list[dict] = []
    for row in rows:
        text = f"{row['title']}\n{row['text']}".strip()
        if not text:
            continue
        common = {"text": text, "kind": row["kind"] or "post", "decided_at": row["created_at"]}
        action = row["action"]
        if action in CONFIRMED_CATEGORY:
            examples.append({**common, "category": CONFIRMED_CATEGORY[action].value, "label": 1})
        elif action == Action.DISMISS:
            # A dismissed flag is a negative for each category it was flagged for (not for a claim match,
            # which no model scores); one flagged for no category is a negative for every category.
            reasons = [r for r in json.loads(row["flag_reasons"] or "[]") if r in CATEGORIES] or list(CATEGORIES)
            examples.extend({**common, "category": reason, "label": 0} for reason in reasons)
    return examples


def recent_items(database: sqlite_utils.Database, now: datetime | None = None) -> tuple[list[dict], float]:
    """({"text", "kind"} of the items fetched over the last RECENT_DAYS (or the newest RECENT_MIN
    when fewer), the days they span): what a candidate's daily flag rate is measured on."""
    since = db.to_iso((now or datetime.now(UTC)) - timedelta(days=RECENT_DAYS))
    rows = newest_items(database, RECENT_LIMIT, since)
    if len(rows) < RECENT_MIN:
        rows = newest_items(database, RECENT_MIN)
    items = [{"text": f"{r['title']}\n{r['text']}".strip(), "kind": r["kind"] or "post"} for r in rows]
    if not rows:
        return items, 0.0
    span = (db.from_iso(rows[0]["fetched_at"]) - db.from_iso(rows[-1]["fetched_at"])).total_seconds() / 86400
    return items, max(span, 1.0)


def _default_trainer(database: sqlite_utils.Database, registry_root: str | None) -> Trainer:
    """Adapt the model in use (classifiers.registry.adapt_candidate) with the recent items' flag rates."""
    from classifiers.registry import adapt_candidate

    recent, days = recent_items(database)
    return functools.partial(adapt_candidate, recent=recent, days=days, registry_root=registry_root)


def _default_gate() -> Gate:
    """The registry's gate (classifiers.registry.propose): promotion never bypasses it."""
    from classifiers.registry import propose

    return propose


def propose_retrain(database: sqlite_utils.Database, settings: Settings | None = None, db_path: str | None = None,
                    *, trainer: Trainer | None = None, gate: Gate | None = None,
                    min_new_examples: int = MIN_NEW_EXAMPLES, registry_root: str | None = None) -> dict:
    """Adapt a candidate on decisions when enough are new since last night; let the gate decide."""
    examples = collect_examples(database)
    if trainer is None:
        from classifiers.adapt import readiness
        from classifiers.model import CATEGORIES

        ready, why = readiness(examples, list(CATEGORIES))
        if not ready:
            log.info("retrain waits: %s", why)
            return {"proposed": False, "reason": why, "examples": len(examples)}
    stored = get_state(database, STATE_KEY)
    previous = int(stored) if stored is not None else 0
    if len(examples) - previous < min_new_examples:
        return {"proposed": False, "reason": f"{len(examples) - previous} new examples (< {min_new_examples})",
                "examples": len(examples)}
    default_gate = gate is None
    trainer = trainer or _default_trainer(database, registry_root)
    gate = gate or _default_gate()

    def progress(message: str, fraction: float) -> None:
        log.info("retrain progress", extra={"step": message, "fraction": round(fraction, 2)})

    candidate = trainer(examples, progress)
    verdict = dict(gate(candidate) or {})
    if default_gate:
        from monitor.scoring import sync_models_table

        sync_models_table(database, registry_root)
    set_state(database, STATE_KEY, str(len(examples)))
    outcome = {"proposed": True, "examples": len(examples), "promoted": bool(verdict.get("promoted")),
               "gate": verdict}
    log.info("retrain proposal", extra={k: v for k, v in outcome.items() if k != "gate"})
    return outcome
