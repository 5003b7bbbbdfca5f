"""The daily flag budget (`settings.flag_budget`): about N items a local day per category flagged by score.

Some committees would rather review a fixed number of items a day than whatever a precision target
lets through. With a budget, the model's score thresholds are replaced per category by a budget
threshold: the score of the (N × 7)-th highest item of the category among the items fetched in the
last 7 days, so that about N a day pass. It never goes below half the model's own threshold for the
item's kind, so a young installation with few items does not flag everything, and it is a hard cap:
once N items were flagged by score in a category during the local day, no further item is flagged by
score that day. Watchlist hits flag regardless (a human wrote the rule).

The budget is applied between scoring and storing, inside the batch's write transaction, and each
item's `thresholds` become the one that actually applied, which the item page shows beside the score.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from db import from_iso, to_iso
from db.budget import CategoryState, budget_state
from monitor.config import Settings
from monitor.domain import DEFAULT_TIMEZONE

log = logging.getLogger("monitor.flag_budget")

WINDOW_DAYS = 7
# Half the model's own threshold for the item's kind: the lowest a budget threshold may go.
FLOOR_SHARE = 0.5
# The threshold an item shows when the day's budget was used up before it: no probability reaches it
# (the model's own value for "no threshold"), so only a watchlist hit flags it.
BUDGET_SPENT = 1.01


@dataclass(frozen=True)
class FlagBudget:
    per_day: int  # items flagged by score per local day and category
    timezone: str = DEFAULT_TIMEZONE  # whose midnight starts "a day"


def from_settings(settings: Settings | None) -> FlagBudget | None:
    """The budget feeds.yaml asks for, or None: flag by the model's thresholds."""
    if settings is None or not getattr(settings, "flag_budget", None):
        return None
    return FlagBudget(int(settings.flag_budget), settings.timezone or DEFAULT_TIMEZONE)


def local_day(fetched_at: str, zone: str) -> tuple[str, str]:
    """The local day containing `fetched_at` as stored UTC bounds [start, end).

    Midnights are taken in the zone, so a day is a calendar day there whatever its length."""
    tz = ZoneInfo(zone)
    day = from_iso(fetched_at).astimezone(tz).date()
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return to_iso(start), to_iso(end)


def apply_budget(conn: sqlite3.Connection, scores: Iterable[Any], budget: FlagBudget | None, fetched_at: str) -> None:
    """Replace the score thresholds of a batch's Scores (in place) by the budget's; no-op without one.

    Call inside the write transaction that stores the batch, with the `fetched_at` it is stored with.
    Applying again to the same Scores (a failed group retried source by source) starts over from the
    model's own thresholds. A category a score carries no threshold for is left as the scorer decided."""
    if budget is None:
        return
    batch = [s for s in scores if s is not None]
    for score in batch:
        _restore_model_view(score)
    categories = list(dict.fromkeys(c for s in batch for c in s.model_thresholds))
    if not batch or not categories:
        return
    since = to_iso(from_iso(fetched_at) - timedelta(days=WINDOW_DAYS))
    day_start, day_end = local_day(fetched_at, budget.timezone)
    states = budget_state(conn, categories, since=since, rank=budget.per_day * WINDOW_DAYS,
                          day_start=day_start, day_end=day_end)
    passed: dict[int, set[str]] = {id(s): set() for s in batch}
    for category, state in states.items():
        for score in _spend(batch, category, state, budget.per_day):
            passed[id(score)].add(category)
    for score in batch:
        _set_flags(score, set(states), passed[id(score)])
    log.debug("flag budget applied", extra={"budget": budget.per_day, "day_start": day_start,
                                            "rank_scores": {c: s.rank_score for c, s in states.items()},
                                            "flagged_today": {c: s.flagged_today for c, s in states.items()}})


def _restore_model_view(score: Any) -> None:
    """Keep the model's thresholds beside the ones the budget writes, so a second application (or the
    floor) reads the model's and never its own earlier result."""
    if getattr(score, "model_thresholds", None) is None:
        score.model_thresholds = dict(getattr(score, "thresholds", None) or {})
    score.thresholds = dict(score.model_thresholds)


def _spend(batch: list[Any], category: str, state: CategoryState, per_day: int) -> list[Any]:
    """The batch's items flagged for `category` by score, highest first while the day's budget lasts;
    writes each governed item's applied threshold. The batch is one moment: its best items get the
    slots, and an item whose turn comes after the last slot shows BUDGET_SPENT."""
    governed = [s for s in batch if category in s.model_thresholds]
    left = max(per_day - state.flagged_today, 0)
    passed = []
    for score in sorted(governed, key=lambda s: -float(getattr(s, category))):
        threshold = max(state.rank_score or 0.0, FLOOR_SHARE * float(score.model_thresholds[category]))
        if left <= 0:
            threshold = BUDGET_SPENT
        elif float(getattr(score, category)) >= threshold:
            passed.append(score)
            left -= 1
        score.thresholds[category] = threshold
    return passed


def _set_flags(score: Any, governed: set[str], passed: set[str]) -> None:
    """A governed category is flagged when its score passed within the budget or a watchlist rule of it
    hit; the others keep the scorer's decision. Categories keep the scorer's order."""
    hit = {h.get("category") for h in getattr(score, "rule_hits", None) or [] if isinstance(h, dict)}

    def flagged(category: str) -> bool:
        if category in governed and category in score.model_thresholds:
            return category in passed or category in hit
        return category in score.flagged

    score.flagged = [c for c in dict.fromkeys([*score.model_thresholds, *score.flagged]) if flagged(c)]
