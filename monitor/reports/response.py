"""The report's Response section: what the committee did about confirmed items (issue 13 item 3).

Its data are the follow-up actions moderators record in their workplace (db/followups.py): rebuttals
published, takedown requests, referrals to an agency, posters contacted. Definitions (the tests check
them by hand):
- A follow-up belongs to the period in which it was *recorded* (`created_at` in [start, end)), as the
  workplace's own period summary counts it.
- A takedown request's *outcome* is the one recorded by the end of the period (or now, for a period not
  over yet; pending if none), read from the follow-up log, so a report for an old week does not change
  when outcomes come in later, and the previous-period column is what the previous period's report said.
- *Time to first action* is from an item's first seen to its first-ever follow-up, for items whose first
  follow-up was recorded in the period: median, and 90th percentile by nearest rank (as time to decision).
- *Open* follow-ups are those without an outcome at the end of the period (or now, for a period not over
  yet), whenever they were recorded; *overdue* ones are open past their due date (due before that day).
Every figure comes with the previous period's and the change. Titles and notes are written in the
report's language through a `Wording`; row and column names stay keys (translated by the renderers).
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import Counter
from dataclasses import dataclass

from db import followups as followups_db
from db import from_iso
from monitor.reports.display import Wording
from monitor.reports.figures import change, nearest_rank
from monitor.reports.model import Table
from monitor.reports.period import Period
from vocab import FollowUpKind, FollowUpOutcome
from vocab.i18n import N_

# The keys this section adds (figures, rows and columns); the catalogs give their words.
KEYS = (
    N_("rebuttals_published"), N_("takedown_requests"), N_("takedowns_removed"), N_("referrals"),
    N_("hours_to_first_action_median"), N_("hours_to_first_action_p90"), N_("followups_open"),
    N_("followups_overdue"), N_("followups_total"), N_("items_acted_on"), N_("followups"), N_("requests"),
    N_("agency"),
)
# The order outcomes are listed in: what happened, then what has not happened yet.
OUTCOME_ORDER = (FollowUpOutcome.REMOVED, FollowUpOutcome.STILL_ONLINE, FollowUpOutcome.CORRECTED,
                 FollowUpOutcome.NO_RESPONSE, FollowUpOutcome.PENDING)
KNOWN_AGENCIES = ("police", "culture_information")
TABLE_NAMES = ("response_actions", "takedown_outcomes", "referrals_by_agency", "time_to_action", "followups_open")


@dataclass(frozen=True)
class FollowUp:
    """One follow-up as the report reads it."""

    id: int
    item_id: int
    kind: str
    agency: str | None
    due_on: str | None
    created_at: str
    outcome: str
    outcome_at: str | None
    fetched_at: str


@dataclass
class Side:
    """One period's figures: follow-ups recorded in it by kind, takedown outcomes and referrals by agency,
    the hours to each item's first follow-up, and the open and overdue follow-ups at its end."""

    kinds: Counter
    takedowns: Counter
    agencies: Counter
    waits: list[float]
    open: int
    overdue: int


def response_section(conn: sqlite3.Connection, period: Period, w: Wording, now: str) -> tuple[list[Table], list[tuple]]:
    """The section's tables and its headline rows ((figure, value, previous), for the summary).

    `now` (stored UTC format) bounds "at the end of the period" for a period not over yet.
    """
    previous = period.previous()
    rows = [FollowUp(*row) for row in followups_db.report_rows(conn, period.end_utc)]
    ends = {"cur": min(period.end_utc, now), "prev": min(previous.end_utc, now)}
    outcomes = _OutcomesAt(conn, rows, list(ends.values()))
    first_ids = _first_per_item(rows)
    sides = {side: _side(rows, outcomes, first_ids, start, end, ends[side], period)
             for side, (start, end) in (("cur", (period.start_utc, period.end_utc)),
                                        ("prev", (previous.start_utc, previous.end_utc)))}
    tables = [_actions_table(sides, w), _takedowns_table(sides, w), _agencies_table(sides, w),
              _time_table(sides, w), _open_table(sides, w)]
    cur, prev = sides["cur"], sides["prev"]
    med, p90 = _wait_figures(sides)
    headlines = [
        ("rebuttals_published", cur.kinds[FollowUpKind.REBUTTAL], prev.kinds[FollowUpKind.REBUTTAL]),
        ("takedown_requests", cur.kinds[FollowUpKind.TAKEDOWN], prev.kinds[FollowUpKind.TAKEDOWN]),
        ("takedowns_removed", cur.takedowns[FollowUpOutcome.REMOVED], prev.takedowns[FollowUpOutcome.REMOVED]),
        ("referrals", cur.kinds[FollowUpKind.REFERRAL], prev.kinds[FollowUpKind.REFERRAL]),
        ("hours_to_first_action_median", med["cur"], med["prev"]),
        ("hours_to_first_action_p90", p90["cur"], p90["prev"]),
        ("followups_open", cur.open, prev.open),
        ("followups_overdue", cur.overdue, prev.overdue),
    ]
    return tables, headlines


class _OutcomesAt:
    """Each follow-up's outcome at a moment: the row's own when it was recorded before then (the row keeps
    the latest), else the last one the log recorded before the moment, else pending."""

    def __init__(self, conn: sqlite3.Connection, rows: list[FollowUp], moments: list[str]):
        later = [row.id for row in rows if row.outcome_at and row.outcome_at >= min(moments)]
        self.history: dict[int, list[tuple[str, str]]] = {}
        for followup_id, created_at, outcome in followups_db.outcome_history(conn, later, max(moments)):
            self.history.setdefault(followup_id, []).append((created_at, outcome))

    def at(self, row: FollowUp, moment: str) -> str:
        if row.outcome_at is None:
            return FollowUpOutcome.PENDING.value
        if row.outcome_at < moment:
            return row.outcome
        outcome = FollowUpOutcome.PENDING.value
        for created_at, recorded in self.history.get(row.id, []):
            if created_at >= moment:
                break
            outcome = recorded
        return outcome


def _first_per_item(rows: list[FollowUp]) -> set[int]:
    """The id of each item's first-ever follow-up (rows are oldest first and hold every follow-up before
    the period's end, so an item's first one is among them when it is in the period)."""
    seen: dict[int, int] = {}
    for row in rows:
        seen.setdefault(row.item_id, row.id)
    return set(seen.values())


def _side(rows: list[FollowUp], outcomes: _OutcomesAt, first_ids: set[int], start: str, end: str, moment: str,
          period: Period) -> Side:
    """One period's figures; `moment` is when outcomes are read and open follow-ups counted (its end, or
    now for a period not over yet)."""
    side = Side(Counter(), Counter(), Counter(), [], 0, 0)
    for row in rows:
        if start <= row.created_at < end:
            side.kinds[row.kind] += 1
            side.kinds["followups_total"] += 1
            if row.kind == FollowUpKind.TAKEDOWN:
                side.takedowns[outcomes.at(row, moment)] += 1
            elif row.kind == FollowUpKind.REFERRAL:
                side.agencies[row.agency or "other"] += 1
            if row.id in first_ids:
                side.waits.append((from_iso(row.created_at) - from_iso(row.fetched_at)).total_seconds() / 3600)
    today = period.local_day(moment).isoformat()  # the local day at the moment: due before it is overdue
    for row in rows:
        if row.created_at < moment and outcomes.at(row, moment) == FollowUpOutcome.PENDING:
            side.open += 1
            side.overdue += int(bool(row.due_on) and row.due_on < today)
    return side


def _rows(sides: dict[str, Side], attribute: str, keys) -> list[list]:
    cur, prev = getattr(sides["cur"], attribute), getattr(sides["prev"], attribute)
    return [[str(key), cur[key], prev[key], change(cur[key], prev[key])] for key in keys]


def _actions_table(sides: dict[str, Side], w: Wording) -> Table:
    keys = [kind.value for kind in FollowUpKind] + ["followups_total"]
    return Table("response_actions", w.gettext("Follow-up actions recorded, by kind"),
                 ["kind", "followups", "previous", "change"], _rows(sides, "kinds", keys),
                 note=w.gettext("Follow-up actions on confirmed items recorded in the period by the moderators."))


def _takedowns_table(sides: dict[str, Side], w: Wording) -> Table:
    return Table("takedown_outcomes", w.gettext("Takedown requests, by outcome"),
                 ["outcome", "requests", "previous", "change"],
                 _rows(sides, "takedowns", [outcome.value for outcome in OUTCOME_ORDER]),
                 note=w.gettext("Takedown requests made in the period, with the outcome recorded by the period's "
                                "end (pending: none yet)."))


def _agencies_table(sides: dict[str, Side], w: Wording) -> Table:
    cur, prev = sides["cur"].agencies, sides["prev"].agencies
    named = sorted((set(cur) | set(prev)) - set(KNOWN_AGENCIES), key=lambda name: (-cur[name], -prev[name], name))
    return Table("referrals_by_agency", w.gettext("Referrals, by agency"),
                 ["agency", "referrals", "previous", "change"], _rows(sides, "agencies", [*KNOWN_AGENCIES, *named]),
                 note=w.gettext("Referrals made in the period; another agency is listed under the name given."))


def _wait_figures(sides: dict[str, Side]) -> tuple[dict, dict]:
    """Median and 90th-percentile (nearest rank) hours to a first follow-up, per side (None: none)."""
    waits = {side: sides[side].waits for side in sides}
    med = {side: round(statistics.median(waits[side]), 2) if waits[side] else None for side in waits}
    p90 = {side: round(nearest_rank(waits[side], 0.9), 2) if waits[side] else None for side in waits}
    return med, p90


def _time_table(sides: dict[str, Side], w: Wording) -> Table:
    med, p90 = _wait_figures(sides)
    acted = {side: len(sides[side].waits) for side in sides}
    return Table("time_to_action", w.gettext("Time from first seen to the first follow-up action (hours)"),
                 ["measure", "hours", "previous", "change"],
                 [["items_acted_on", acted["cur"], acted["prev"], change(acted["cur"], acted["prev"])],
                  ["median", med["cur"], med["prev"], change(med["cur"], med["prev"])],
                  ["p90", p90["cur"], p90["prev"], change(p90["cur"], p90["prev"])]],
                 note=w.gettext("Items whose first follow-up was recorded in the period; 90th percentile by "
                                "nearest rank."))


def _open_table(sides: dict[str, Side], w: Wording) -> Table:
    cur, prev = sides["cur"], sides["prev"]
    return Table("followups_open", w.gettext("Open and overdue follow-ups at the end of the period"),
                 ["measure", "followups", "previous", "change"],
                 [["followups_open", cur.open, prev.open, change(cur.open, prev.open)],
                  ["followups_overdue", cur.overdue, prev.overdue, change(cur.overdue, prev.overdue)]],
                 note=w.gettext("Follow-ups with no outcome yet at the end of the period (or now, if it is not "
                                "over), whenever recorded; overdue: past their due date."))
