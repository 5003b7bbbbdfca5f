"""When to alert and whom: the event scan (every few seconds, from the scheduler) turns what ingest and the
spike job stored into alert rows, one per story and recipient.

Events (settings.alerts, feeds.yaml `alerts: … when:`):
- `flagged_high`: an item flagged (or escalated) whose highest score (misinformation or harm) reaches
  settings.alerts.high_score, or that a watchlist rule hit — the committee's own list of what matters most;
- `claim_match`: an item repeating a debunked claim (claim_matches), whenever the match was made;
- `jurisdiction`: a flagged item about the committee's jurisdiction (items.about_jurisdiction);
- `spike`: a spike fired (spikes). A story spike is about its story; a rule or place spike is about the
  story with the most of its items.

A story is a cluster. Every event of one scan about one story makes one alert per recipient, with all its
reasons; a story already alerted to a recipient within the cooldown gets nothing more (reasons still arriving
before that alert went out are added to it). Inside the quiet hours an alert is held for the recipient's
morning digest. The scan is cursor-based (the last item id, the last spike id, the last match time), so
each pass reads only what is new, and the first pass ever starts at "now": installing alerts does not
send the history.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

import db
from db import alerts as store
from monitor.config import ALERT_EVENTS, AlertSettings, Settings

log = logging.getLogger("monitor.alerts")

SCAN_BATCH = 5000  # items read per pass at most; a backlog is worked through over the next passes
FLAGGED = ("flagged", "escalated", "confirmed")


@dataclass
class Story:
    """What one scan found about one story: the item to link to, the events, and their details."""

    story: int
    item_id: int
    events: list[str] = field(default_factory=list)
    reasons: dict[str, Any] = field(default_factory=dict)
    places: set[str] = field(default_factory=set)

    def add(self, event: str, key: str | None = None, detail: Any = None) -> None:
        if event not in self.events:
            self.events.append(event)
        if key is not None:
            merge_reason(self.reasons, key, detail)


@dataclass(frozen=True)
class Recipient:
    """A channel of feeds.yaml (by name) or a user's subscription; `places` empty = everywhere."""

    channel: str | None
    user_id: int | None
    events: frozenset[str]
    places: frozenset[str] = frozenset()

    def wants(self, story: Story) -> list[str]:
        if self.places and not self.places & story.places:
            return []
        return [event for event in story.events if event in self.events]


@dataclass
class ScanOutcome:
    stories: int = 0
    added: int = 0
    merged: int = 0
    cooled: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def merge_reason(reasons: dict[str, Any], key: str, detail: Any) -> None:
    """Add a detail under `key`: lists of dicts keep one entry per "id", a number keeps the highest."""
    if isinstance(detail, dict):
        entries = reasons.setdefault(key, [])
        if all(entry.get("id") != detail.get("id") for entry in entries):
            entries.append(detail)
    elif isinstance(detail, int | float):
        reasons[key] = max(reasons.get(key, detail), detail)
    elif isinstance(detail, list):
        reasons[key] = sorted(set(reasons.get(key, [])) | set(detail))


def ordered(events: list[str]) -> list[str]:
    return [event for event in ALERT_EVENTS if event in events]


def is_flagged_high(item: dict[str, Any], high_score: float) -> bool:
    """An item "flagged with high priority": flagged, and its highest score reaches `high_score` or a
    watchlist rule hit it."""
    if item["status"] not in FLAGGED:
        return False
    score = max(item["score_misinformation"] or 0.0, item["score_harm"] or 0.0)
    return score >= high_score or bool(item["rules"])


def recipients(settings: Settings, subscriptions: list[dict[str, Any]]) -> list[Recipient]:
    """Every recipient: the configured channels, then the users' subscriptions."""
    found = [Recipient(channel.name, None, frozenset(channel.when)) for channel in settings.alerts.channels]
    found += [Recipient(None, sub["user_id"], frozenset(sub["events"]), frozenset(sub["places"]))
              for sub in subscriptions if sub["events"]]
    return found


def _story(stories: dict[int, Story], story: int | None, item_id: int) -> Story:
    key = story if story is not None else -item_id  # every stored item has a cluster; never merge strangers
    if key not in stories:
        stories[key] = Story(key, item_id)
    return stories[key]


def _claim_detail(match: dict[str, Any]) -> dict[str, Any]:
    return {"id": match["claim_id"], "url": match["url"], "text": (match["text"] or "")[:300],
            "publisher": match["publisher"], "similarity": round(float(match["similarity"]), 3)}


def _item_events(stories: dict[int, Story], items: list[dict[str, Any]], matches: list[dict[str, Any]],
                 high_score: float) -> None:
    by_item = {item["id"]: item for item in items}
    for item in items:
        story = None
        if is_flagged_high(item, high_score):
            story = _story(stories, item["cluster_id"], item["id"])
            story.add("flagged_high", "score", round(max(item["score_misinformation"] or 0.0,
                                                         item["score_harm"] or 0.0), 3))
            if item["rules"]:
                story.add("flagged_high", "watchlist", sorted({str(hit.get("name") or hit.get("rule") or "")
                                                               for hit in item["rules"] if isinstance(hit, dict)}
                                                              - {""}))
        if item["status"] in FLAGGED and item["about_jurisdiction"]:
            story = story or _story(stories, item["cluster_id"], item["id"])
            story.add("jurisdiction", "items", [item["id"]])
    for match in matches:
        item = by_item.get(match["item_id"])
        if item is not None:
            _story(stories, item["cluster_id"], item["id"]).add("claim_match", "claims", _claim_detail(match))


def _spike_events(stories: dict[int, Story], spikes: list[dict[str, Any]]) -> None:
    for spike in spikes:
        if not spike["items"]:
            continue
        counts: dict[int, int] = {}
        for _item_id, cluster in spike["items"]:
            counts[cluster] = counts.get(cluster, 0) + 1
        if spike["kind"] == "story_sources" and str(spike["subject"]).isdigit() and int(spike["subject"]) in counts:
            cluster = int(spike["subject"])
        else:
            cluster = max(counts, key=lambda c: (counts[c], -c))
        item_id = next(item_id for item_id, c in spike["items"] if c == cluster)
        story = _story(stories, cluster, item_id)
        story.add("spike", "spikes", {"id": spike["id"], "rule": spike["rule"], "kind": spike["kind"],
                                      "subject": spike["subject"], "observed": spike["observed"],
                                      "expected": spike["expected"], "stories": len(counts)})
        if spike["kind"] == "place_rate":
            story.places.add(str(spike["subject"]))


def held_until(alerts: AlertSettings, zone: str, now: datetime) -> datetime | None:
    """The digest time an alert made at `now` waits for, or None outside the quiet hours."""
    if alerts.quiet_hours is None:
        return None
    local = now.astimezone(ZoneInfo(zone))
    (start_h, start_m), (end_h, end_m) = alerts.quiet_hours
    start, end, clock = time(start_h, start_m), time(end_h, end_m), local.time()
    quiet = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not quiet:
        return None
    digest = local.replace(hour=alerts.digest_at[0], minute=alerts.digest_at[1], second=0, microsecond=0)
    if digest <= local:
        digest += timedelta(days=1)
    return digest.astimezone(UTC)


def collect(database: sqlite_utils.Database, settings: Settings) -> tuple[dict[int, Story], dict[str, str]]:
    """Read everything new since the cursors: the stories and their events, and the cursors' next values."""
    after_items = int(store.cursor(database, "items") or 0)
    after_spikes = int(store.cursor(database, "spikes") or 0)
    claims_at = parse_position(store.cursor(database, "claims_at"))
    items, upto = store.items_after(database, after_items, SCAN_BATCH)
    matches = store.claim_matches_of(database, [item["id"] for item in items])
    late = store.late_claim_matches(database, claims_at, after_items)
    late_items = list(store.items_by_id(database, [match["item_id"] for match in late]).values())
    spikes = store.spikes_after(database, after_spikes)
    stories: dict[int, Story] = {}
    _item_events(stories, items, matches, settings.alerts.high_score)
    _item_events(stories, late_items, late, 2.0)  # the late items: their claim matches only
    _spike_events(stories, spikes)
    for story, places in store.story_places(database, [s for s in stories if s > 0]).items():
        stories[story].places |= places
    seen = max([(m["matched_at"], m["item_id"], m["claim_id"]) for m in matches + late] + [claims_at])
    cursors = {"items": str(upto), "spikes": str(spikes[-1]["id"] if spikes else after_spikes),
               "claims_at": "|".join(map(str, seen))}
    return stories, cursors


def parse_position(text: str | None) -> tuple[str, int, int]:
    """The claim-match cursor "matched_at|item_id|claim_id" as a tuple (("", 0, 0) before any)."""
    parts = (text or "").split("|")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return "", 0, 0
    return parts[0], int(parts[1]), int(parts[2])


def start_cursors(database: sqlite_utils.Database) -> bool:
    """On the first scan ever, start at what is stored now (the history is not alerted); True when it did."""
    if store.cursor(database, "items") is not None:
        return False
    with db.transaction(database) as conn:
        store.set_cursor(conn, "items", str(store.last_item_id(database)))
        store.set_cursor(conn, "spikes", str(store.last_spike_id(database)))
        store.set_cursor(conn, "claims_at", "|".join(map(str, store.latest_match(database))))
    return True


def scan(database: sqlite_utils.Database, settings: Settings, subscriptions: list[dict[str, Any]] | None = None,
         *, now: datetime | None = None) -> ScanOutcome:
    """One pass: new events → alert rows (cooldown and quiet hours applied), cursors moved, one transaction."""
    moment = now or datetime.now(UTC)
    outcome = ScanOutcome()
    if start_cursors(database):
        return outcome
    subs = store.subscriptions(database) if subscriptions is None else subscriptions
    stories, cursors = collect(database, settings)
    targets = recipients(settings, subs)
    stamp = db.to_iso(moment)
    since = db.to_iso(moment - timedelta(seconds=settings.alerts.cooldown))
    digest_at = held_until(settings.alerts, settings.timezone, moment)
    moved = {name: position for name, position in cursors.items() if position != store.cursor(database, name)}
    if not stories and not moved:
        return outcome  # nothing new: no write lock taken, every few seconds, beside the crawl's writers
    with db.transaction(database) as conn:
        for story in stories.values():
            outcome.stories += 1
            for target in targets:
                events = target.wants(story)
                if events:
                    _queue(conn, story, target, events, stamp, since, digest_at, outcome)
        for name, position in moved.items():
            store.set_cursor(conn, name, position)
    if outcome.added or outcome.merged:
        log.info("alerts queued", extra=outcome.as_dict())
    return outcome


def _queue(conn: Any, story: Story, target: Recipient, events: list[str], stamp: str, since: str,
           digest_at: datetime | None, outcome: ScanOutcome) -> None:
    """One story for one recipient: merged into its alert still waiting, dropped within the cooldown, else new."""
    reasons = {key: value for key, value in story.reasons.items()}
    recent = store.recent_alert(conn, story.story, target.channel, target.user_id, since)
    if recent is not None:
        if recent["status"] == "pending":
            merged = dict(recent["reasons"])
            for key, value in reasons.items():
                for entry in value if isinstance(value, list) and value and isinstance(value[0], dict) else [value]:
                    merge_reason(merged, key, entry)
            if store.merge_alert(conn, recent["id"], ordered(recent["events"] + events), merged, stamp):
                outcome.merged += 1
                return
        outcome.cooled += 1
        return
    store.add_alert(conn, story=story.story, item_id=story.item_id, events=ordered(events), reasons=reasons,
                    channel=target.channel, user_id=target.user_id, digest=digest_at is not None,
                    next_attempt_at=db.to_iso(digest_at) if digest_at else stamp, now=stamp)
    outcome.added += 1
