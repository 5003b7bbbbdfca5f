"""Spike rules (issue 11 item 3): notice when a story, a watchlist rule or a place suddenly gets much more
than usual, and record the spike with the stories and items that made it.

Three kinds of rule (`settings: spikes:` in feeds.yaml, monitor.config.SpikeRule):

- `story_sources`: a story (cluster) gained at least `sources` new sources in the last `hours` hours;
- `rule_rate`: a watchlist rule was hit by at least `min_count` items fetched in the last hour, and by at
  least `factor` times its hourly mean of the 7 days before that hour (before the top of the hour it began
  in: the week's counts are read once an hour);
- `place_rate`: the same for a place the items mention (item_places).

The hourly mean divides the 7 days' count by the hours of history the database really has (a database a
day old has 24 hours, not 168), and the rate kinds wait for MIN_HISTORY of it: on a fresh install every
rule and place would otherwise "spike" on the first crawl's backlog. A subject that never had a hit has a
mean of 0, so `min_count` alone decides.

One spike per rule and subject per window: after firing, a rule stays quiet for that subject for one
window (`hours` for a story, an hour for a rate), then fires again if the condition still holds. The
check reads the database, so it is idempotent across runs, restarts and concurrent `monitor spikes check`
runs (the write re-checks inside its transaction, and spikes are UNIQUE per rule, subject and window
start). It runs every minute in the scheduler on its own thread, reading outside any write transaction
and writing only when a spike fires, so it neither blocks nor slows the crawl.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils

import db
from db import spikes as store
from monitor.config import SpikeRule

log = logging.getLogger("monitor.spikes")

RATE_WINDOW = timedelta(hours=1)
BASELINE = timedelta(days=7)
MIN_HISTORY = timedelta(hours=24)
ITEMS_PER_SPIKE = 500  # the stories and items recorded for one spike (the first ones, oldest first)


@dataclass
class Candidate:
    """A subject over its rule's threshold now; a spike once recorded."""

    rule: SpikeRule
    subject: str
    observed: float
    expected: float | None
    window_start: str
    items: Callable[[sqlite_utils.Database], list[tuple]] | None = None

    def as_row(self, fired_at: str) -> dict:
        return {"rule": self.rule.name, "kind": self.rule.kind, "subject": self.subject,
                "window_start": self.window_start, "fired_at": fired_at, "observed": self.observed,
                "expected": self.expected}


def window_of(rule: SpikeRule) -> timedelta:
    """How far back a rule counts, and how long it stays quiet for a subject after firing."""
    return timedelta(hours=rule.hours) if rule.kind == "story_sources" else RATE_WINDOW


def _story_candidates(conn, rule: SpikeRule, now: datetime) -> list[Candidate]:
    since, until = db.to_iso(now - window_of(rule)), db.to_iso(now)
    return [Candidate(rule, str(cluster_id), float(count), None, since,
                      lambda c, cluster_id=cluster_id: store.story_items(c, cluster_id, since, until, ITEMS_PER_SPIKE))
            for cluster_id, count in store.stories_with_new_sources(conn, since, until, rule.sources)]


def history_hours(conn, baseline_end: datetime) -> float | None:
    """Hours of history before `baseline_end` the baseline can use (at most 7 days); None below MIN_HISTORY."""
    earliest = store.earliest_fetch(conn)
    if earliest is None:
        return None
    available = min(baseline_end - db.from_iso(earliest), BASELINE)
    return available.total_seconds() / 3600 if available >= MIN_HISTORY else None


def baseline_end(now: datetime) -> datetime:
    """Where the 7-day baseline ends: the top of the hour at or before the last hour's start. Whole hours, so
    it changes once an hour and its counts are read once an hour (_baseline), not every minute."""
    return (now - RATE_WINDOW).replace(minute=0, second=0, microsecond=0)


# (database file, rule kind) → (baseline end, {subject: count}): the week's counts, read once an hour. A
# week of a busy province is 100,000 items to read; their counts before a whole hour do not change.
_baselines: dict[tuple, tuple[str, dict[str, int]]] = {}


def _baseline(database: sqlite_utils.Database, kind: str, end: datetime) -> dict[str, int]:
    """Every subject's count of `kind` in the 7 days before `end`."""
    key, end_iso = (db.file_path(database) or id(database.conn), kind), db.to_iso(end)
    cached = _baselines.get(key)
    if cached is None or cached[0] != end_iso:
        count = store.rule_hit_counts if kind == "rule_rate" else store.place_counts
        cached = _baselines[key] = (end_iso, count(database.conn, db.to_iso(end - BASELINE), end_iso))
    return cached[1]


def _rate_candidates(database: sqlite_utils.Database, rule: SpikeRule, now: datetime) -> list[Candidate]:
    """Subjects with at least min_count items in the last hour and factor x their hourly mean."""
    conn = database.conn
    since, until = db.to_iso(now - RATE_WINDOW), db.to_iso(now)
    recent, items = ((store.rule_hit_counts, store.rule_items) if rule.kind == "rule_rate"
                     else (store.place_counts, store.place_items))
    counts = {subject: n for subject, n in recent(conn, since, until).items() if n >= rule.min_count}
    end = baseline_end(now)
    hours = history_hours(conn, end) if counts else None
    if hours is None:
        return []
    week = _baseline(database, rule.kind, end)
    found = []
    for subject, count in sorted(counts.items()):
        mean = week.get(subject, 0) / hours
        if count >= rule.factor * mean:
            found.append(Candidate(rule, subject, float(count), round(mean, 4), since,
                                   lambda c, s=subject: items(c, s, since, until, ITEMS_PER_SPIKE)))
    return found


def candidates(database: sqlite_utils.Database, rules: list[SpikeRule], now: datetime) -> list[Candidate]:
    """Every rule's subjects over its threshold at `now` that have not fired within their window."""
    conn = database.conn
    found: list[Candidate] = []
    for rule in rules:
        over = (_story_candidates(conn, rule, now) if rule.kind == "story_sources"
                else _rate_candidates(database, rule, now))
        quiet_since = db.to_iso(now - window_of(rule))
        found += [c for c in over if not store.fired_since(conn, rule.name, c.subject, quiet_since)]
    return found


def check(database: sqlite_utils.Database, rules: list[SpikeRule], now: datetime | None = None) -> list[dict]:
    """Evaluate the rules at `now` (default: the clock) and record the spikes that fire; returns them as
    {id, rule, kind, subject, window_start, fired_at, observed, expected, items}."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    found = candidates(database, rules, now)
    if not found:
        return []
    fired_at = db.to_iso(now)
    fired: list[dict] = []
    with db.transaction(database) as conn:  # the write lock only when something fires
        for candidate in found:
            if store.fired_since(conn, candidate.rule.name, candidate.subject, db.to_iso(now - window_of(candidate.rule))):
                continue  # another check recorded it meanwhile
            items = candidate.items(conn) if candidate.items else []
            spike_id = store.insert_spike(conn, candidate.as_row(fired_at), items)
            if spike_id is not None:
                fired.append({"id": spike_id, **candidate.as_row(fired_at), "items": len(items)})
    for spike in fired:
        log.info("spike fired", extra={k: spike[k] for k in ("id", "rule", "kind", "subject", "observed")})
    return fired


def recent(database: sqlite_utils.Database, hours: float = 24 * 7, limit: int = 100,
           now: datetime | None = None) -> list[dict]:
    """Spikes fired in the last `hours`, newest first, with their item count and first item's title."""
    since = db.to_iso((now or datetime.now(UTC)) - timedelta(hours=hours))
    return store.recent_spikes(database.conn, since, limit)
