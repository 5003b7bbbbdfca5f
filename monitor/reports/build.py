"""build_report(database, period) → Report: every figure for a period and the one before it.

Definitions (they are the contract the tests check by hand):
- An item is *crawled* in a period when its `fetched_at` (first seen) falls in [start, end).
- An item is *flagged* when its `flag_reasons` (the categories the model flagged) is non-empty;
  "flagged by category" counts crawled items per category in `flag_reasons`.
- *Decisions* are rows of the decisions log whose `created_at` falls in the period, counted by action.
- *Backlog* is the items open (status flagged or escalated) at the end of the period, reconstructed
  from the decision log, so a report for an old week does not change when items are decided later.
- *Precision* counts each flagged item whose last confirm/dismiss decision in the period exists:
  per category, confirmed = confirmed *as that category*; per model version, confirmed = any confirm.
- *Time to decision* is from first seen to the item's first-ever decision, for first decisions made in
  the period: median, and 90th percentile by nearest rank (the smallest value ≥ 90 % of values).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlite_utils

from db import dialect, from_iso, utcnow
from db import reports as reports_db
from monitor.domain import CONFIRMED_CATEGORY, Action, Category, Status
from monitor.reports import sections
from monitor.reports.display import Wording, wording
from monitor.reports.figures import (
    change,
    day_index_sql,
    flag_reasons,
    local_time,
    local_time_sql,
    nearest_rank,
    ratio,
)
from monitor.reports.model import Report, Table
from monitor.reports.period import Period
from monitor.reports.redact import redact_report
from monitor.reports.response import response_section
from monitor.reports.warning import warning_section
from vocab.i18n import DEFAULT_LANGUAGE

OPEN_STATUSES = (Status.FLAGGED.value, Status.ESCALATED.value)
CONFIRM_ACTIONS = {action.value: category.value for action, category in CONFIRMED_CATEGORY.items()}
TERMINAL_ACTIONS = set(CONFIRM_ACTIONS) | {Action.DISMISS.value}
DECISION_OUTCOMES = (
    ("confirmed_misinformation", Action.CONFIRM_MISINFORMATION.value),
    ("confirmed_harm", Action.CONFIRM_HARM.value),
    ("dismissed", Action.DISMISS.value),
    ("escalated", Action.ESCALATE.value),
    ("reopened", Action.REOPEN.value),
)

ITEM_COLUMNS = [
    "item_id", "first_seen_local", "first_seen_utc", "source", "source_kind", "language", "title", "url",
    "status_now", "flag_reasons", "score_misinformation", "score_harm", "model_version", "listed_because",
    "decision_id", "decided_by", "decided_at_local", "decided_at_utc", "action", "old_status", "new_status", "note",
]


def _count_rows(current: Counter, previous: Counter, keys: Iterable) -> list[list]:
    return [[*((key,) if not isinstance(key, tuple) else key), current[key], previous[key],
             change(current[key], previous[key])] for key in keys]


def build_report(database: sqlite_utils.Database, period: Period, *, redact: bool = False,
                 lang: str = DEFAULT_LANGUAGE) -> Report:
    """Every figure for `period` with the change from the period before it (one data object), its titles
    and notes in `lang` (a LanguageError for a language the service does not speak).

    All queries run in one read transaction, so the figures come from one snapshot of the database
    even while the crawler and moderators keep writing (WAL readers never block writers).
    """
    w = wording(lang)
    with reports_db.read_snapshot(database.conn):
        return _build(database, period, redact, w)


def _build(database: sqlite_utils.Database, period: Period, redact: bool, w: Wording) -> Report:
    """The report's steps: read the sources, count both periods' items and decisions, reconstruct the
    backlog, then lay the figures out as tables (sections add theirs to the summary as they go)."""
    previous = period.previous()
    if previous.end_utc != period.start_utc:  # the single-scan queries below rely on adjacency
        raise ValueError("previous period must end where this one starts")
    conn = database.conn
    now = utcnow()
    sources = _sources(conn, period)
    items = _count_items(conn, period, sources)
    decisions = _count_decisions(conn, period)
    precision_cat, precision_model = _precision(decisions.last_terminal)
    backlog = dict(zip(("cur", "prev"), backlog_at(conn, period.end_utc, period.start_utc), strict=True))

    cur_empty = items.crawled["cur"]["all"] == 0 and decisions.outcomes["cur"]["all"] == 0
    summary = _summary_table(items, decisions, backlog, precision_cat, w)
    tables = [summary, _daily_table(period, items, w), *_volume_tables(items, sources, w)]
    categories = [c.value for c in Category] + sorted(
        (set(items.flagged["cur"]) | set(items.flagged["prev"])) - {c.value for c in Category} - {"all"})
    tables += _decision_tables(items, decisions, backlog, categories, w)
    tables += _precision_tables(precision_cat, precision_model, categories, w)
    tables += [_time_to_decision_table(decisions, w), _throughput_table(decisions, w)]
    response_tables, response_figures = response_section(conn, period, w, now)
    for figure in response_figures:
        _headline(summary, *figure)
    tables += response_tables
    warning_tables, warning_figures = warning_section(conn, period, w)
    for figure in warning_figures:
        _headline(summary, *figure)
    tables += warning_tables
    tables += _section_tables(conn, period, previous, sources, items, summary, w)

    notes = []
    if cur_empty:
        notes.append(w.gettext("No items were crawled and no decisions were made in %(period)s.",
                               period=w.period(period)))
    if period.end_utc > now:
        notes.append(w.gettext("%(period)s is not over yet: the figures are those so far.",
                               period=w.period(period)))
    rows = item_rows(conn, period, sources, w)
    report = Report(period=period, previous_period=previous, generated_at=now, tables=tables, items=rows,
                    empty=cur_empty, notes=notes, lang=w.lang)
    return redact_report(report) if redact else report


def _sources(conn, period: Period) -> dict[int, dict]:
    """Every source by id, with what the tables and the coverage section show of it; "active" is whether
    it existed and was enabled at some time in the period and in the one before (sections.enabled_during)."""
    history = reports_db.source_enabled_history(conn)
    created = reports_db.source_created_times(conn) if history is None else {}
    previous = period.previous()
    sources = {}
    for row in reports_db.report_sources(conn):
        # Without the log (a database older than it), a source counts from its creation as it is now.
        events = history.get(row[0], []) if history is not None else [(created[row[0]], row[4])]
        sources[row[0]] = {
            "name": row[1], "kind": row[2], "language": row[3] or "", "enabled": row[4], "paused": row[5],
            "consecutive_failures": row[6], "last_success_at": row[7], "last_error": row[8], "last_error_at": row[9],
            "active": (sections.enabled_during(events, period.start_utc, period.end_utc),
                       sections.enabled_during(events, previous.start_utc, previous.end_utc))}
    return sources


def _sides() -> dict[str, Counter]:
    """One counter for the period ("cur") and one for the period before ("prev")."""
    return {"cur": Counter(), "prev": Counter()}


@dataclass
class ItemCounts:
    """Items first seen in the period ("cur") and the one before ("prev"), counted every way the report
    shows them; daily counts are for the period only, by local day index."""

    crawled: dict[str, Counter] = field(default_factory=_sides)
    by_source: dict[str, Counter] = field(default_factory=_sides)
    by_kind: dict[str, Counter] = field(default_factory=_sides)
    by_language: dict[str, Counter] = field(default_factory=_sides)
    flagged: dict[str, Counter] = field(default_factory=_sides)
    flagged_by_source: dict[str, Counter] = field(default_factory=_sides)
    daily_crawled: Counter = field(default_factory=Counter)
    daily_flagged: Counter = field(default_factory=Counter)


def _count_items(conn, period: Period, sources: dict[int, dict]) -> ItemCounts:
    """One scan over both periods' items via the fetched_at index, grouped small, split in Python."""
    day_sql, day_params = day_index_sql(period, "fetched_at", dialect(conn))
    groups = reports_db.item_groups(conn, day_sql, day_params, period.previous().start_utc, period.end_utc)
    out = ItemCounts()
    for source_id, language, reasons_text, day, count in groups:
        side = "prev" if day < 0 else "cur"
        source = sources.get(source_id, {"name": f"#{source_id}", "kind": "", "language": ""})
        reasons = flag_reasons(reasons_text)
        out.crawled[side]["all"] += count
        out.by_source[side][source["name"]] += count
        out.by_kind[side][source["kind"]] += count
        out.by_language[side][language or "unknown"] += count
        if reasons:
            out.flagged[side]["all"] += count
            out.flagged_by_source[side][source["name"]] += count
            for reason in set(reasons):
                out.flagged[side][reason] += count
        if side == "cur":
            out.daily_crawled[day] += count
            if reasons:
                out.daily_flagged[day] += count
    return out


@dataclass
class DecisionCounts:
    """Decisions made in the period ("cur") and the one before ("prev"): by action, per moderator, the
    hours from first seen to each item's first-ever decision, and each item's last confirm/dismiss
    (action, flag reasons, model version), which precision counts."""

    outcomes: dict[str, Counter] = field(default_factory=_sides)
    throughput: dict[str, defaultdict] = field(
        default_factory=lambda: {"cur": defaultdict(Counter), "prev": defaultdict(Counter)})
    roles: dict[str, str] = field(default_factory=dict)
    waits: dict[str, list[float]] = field(default_factory=lambda: {"cur": [], "prev": []})
    last_terminal: dict[str, dict[int, tuple]] = field(default_factory=lambda: {"cur": {}, "prev": {}})


def _count_decisions(conn, period: Period) -> DecisionCounts:
    """Decisions of both periods, with what the report needs of their items and users, in one query."""
    decisions = reports_db.decisions_with_context(conn, period.previous().start_utc, period.end_utc)
    out = DecisionCounts()
    for (_dec_id, item_id, action, _old, _new, _note, created_at, user, role, fetched_at, reasons_text,
         model_version, is_first) in decisions:
        side = "cur" if created_at >= period.start_utc else "prev"
        out.outcomes[side][action] += 1
        out.outcomes[side]["all"] += 1
        out.throughput[side][user][action] += 1
        out.throughput[side][user]["all"] += 1
        out.roles[user] = role
        if is_first:
            out.waits[side].append((from_iso(created_at) - from_iso(fetched_at)).total_seconds() / 3600)
        if action in TERMINAL_ACTIONS:
            out.last_terminal[side][item_id] = (action, flag_reasons(reasons_text), model_version)
        elif action == Action.UNDO:  # a decision taken back says nothing of the flag's precision
            out.last_terminal[side].pop(item_id, None)
    return out


def _precision(last_terminal: dict[str, dict[int, tuple]]) -> tuple[dict, dict]:
    """Decided and confirmed flags per side, by category (confirmed as that category; "all flags": any
    confirmation) and by model version (any confirmation); items never flagged have no precision."""
    precision_cat = {side: defaultdict(Counter) for side in ("cur", "prev")}
    precision_model = {side: defaultdict(Counter) for side in ("cur", "prev")}
    for side in ("cur", "prev"):
        for action, reasons, model_version in last_terminal[side].values():
            if not reasons:
                continue  # only flags have a precision
            confirmed_any = action in CONFIRM_ACTIONS
            precision_model[side][model_version or "unknown"]["decided"] += 1
            precision_model[side][model_version or "unknown"]["confirmed"] += int(confirmed_any)
            precision_cat[side]["all flags"]["decided"] += 1
            precision_cat[side]["all flags"]["confirmed"] += int(confirmed_any)
            for reason in set(reasons):
                precision_cat[side][reason]["decided"] += 1
                precision_cat[side][reason]["confirmed"] += int(CONFIRM_ACTIONS.get(action) == reason)
    return precision_cat, precision_model


def _headline(summary: Table, name: str, current, before) -> None:
    """One summary row: a figure, its previous value and the change."""
    summary.rows.append([name, current, before, change(current, before)])


def _wait_figures(decisions: DecisionCounts) -> tuple[dict, dict]:
    """Median and 90th-percentile (nearest rank) hours to a first decision, per side (None: no decision)."""
    waits = decisions.waits
    med = {side: round(statistics.median(waits[side]), 2) if waits[side] else None for side in waits}
    p90 = {side: round(nearest_rank(waits[side], 0.9), 2) if waits[side] else None for side in waits}
    return med, p90


def _summary_table(items: ItemCounts, decisions: DecisionCounts, backlog: dict[str, Counter],
                   precision_cat: dict, w: Wording) -> Table:
    """The headline figures; the sections append theirs later (see _section_tables)."""
    summary = Table("summary", w.gettext("At a glance"), ["figure", "value", "previous", "change"])
    outcomes = decisions.outcomes
    _headline(summary, "items_crawled", items.crawled["cur"]["all"], items.crawled["prev"]["all"])
    _headline(summary, "items_flagged", items.flagged["cur"]["all"], items.flagged["prev"]["all"])
    _headline(summary, "decisions", outcomes["cur"]["all"], outcomes["prev"]["all"])
    for label, action in DECISION_OUTCOMES:
        _headline(summary, label, outcomes["cur"][action], outcomes["prev"][action])
    _headline(summary, "backlog_open", sum(backlog["cur"].values()), sum(backlog["prev"].values()))
    _headline(summary, "precision_all_flags", ratio(precision_cat["cur"]["all flags"]["confirmed"],
                                                    precision_cat["cur"]["all flags"]["decided"]),
              ratio(precision_cat["prev"]["all flags"]["confirmed"], precision_cat["prev"]["all flags"]["decided"]))
    med, p90 = _wait_figures(decisions)
    _headline(summary, "hours_to_decision_median", med["cur"], med["prev"])
    _headline(summary, "hours_to_decision_p90", p90["cur"], p90["prev"])
    return summary


def _daily_table(period: Period, items: ItemCounts, w: Wording) -> Table:
    """Items crawled and flagged per local day of the period."""
    daily = Table("daily", w.gettext("Daily volumes (local days)"), ["day", "crawled", "flagged"])
    for index, day in enumerate(period.days):
        daily.rows.append([day.isoformat(), items.daily_crawled[index], items.daily_flagged[index]])
    return daily


def _volume_tables(items: ItemCounts, sources: dict[int, dict], w: Wording) -> list[Table]:
    """Items crawled by source (every source enabled in the period listed, even with none), by kind and by
    language."""
    by_source = items.by_source
    source_keys = sorted(set(by_source["cur"]) | set(by_source["prev"])
                         | {s["name"] for s in sources.values() if s["active"][0]},
                         key=lambda name: (-by_source["cur"][name], name))
    info = {s["name"]: s for s in sources.values()}
    table = Table("crawled_by_source", w.gettext("Items crawled by source"),
                  ["source", "kind", "language", "items", "previous", "change"])
    for name in source_keys:
        source = info.get(name, {"kind": "", "language": ""})
        table.rows.append([name, source["kind"], source["language"], by_source["cur"][name],
                           by_source["prev"][name], change(by_source["cur"][name], by_source["prev"][name])])
    tables = [table]
    for name, title, counts, label in (
            ("crawled_by_kind", w.gettext("Items crawled by source kind"), items.by_kind, "kind"),
            ("crawled_by_language", w.gettext("Items crawled by language"), items.by_language, "language")):
        keys = sorted(set(counts["cur"]) | set(counts["prev"]), key=lambda key: (-counts["cur"][key], key))
        tables.append(Table(name, title, [label, "items", "previous", "change"],
                            _count_rows(counts["cur"], counts["prev"], keys)))
    return tables


def _decision_tables(items: ItemCounts, decisions: DecisionCounts, backlog: dict[str, Counter],
                     categories: list[str], w: Wording) -> list[Table]:
    """Items flagged by category, decisions by outcome, and the backlog by open status."""
    flagged, outcomes = items.flagged, decisions.outcomes
    return [
        Table("flagged_by_category", w.gettext("Items flagged, by category"),
              ["category", "items", "previous", "change"], _count_rows(flagged["cur"], flagged["prev"], categories),
              note=w.gettext("An item flagged in two categories counts once in each.")),
        Table("decisions", w.gettext("Decisions, by outcome"), ["outcome", "decisions", "previous", "change"],
              [[label, outcomes["cur"][action], outcomes["prev"][action],
                change(outcomes["cur"][action], outcomes["prev"][action])]
               for label, action in DECISION_OUTCOMES]),
        Table("backlog", w.gettext("Backlog: items still open at the end of the period"),
              ["status", "items", "previous", "change"],
              [[status, backlog["cur"][status], backlog["prev"][status],
                change(backlog["cur"][status], backlog["prev"][status])] for status in OPEN_STATUSES]),
    ]


def _precision_rows(table: Table, precision: dict, keys: Iterable[str]) -> Table:
    """Decided, confirmed, precision, the previous precision and the change, one row per key."""
    for key in keys:
        cur, before = precision["cur"][key], precision["prev"][key]
        value, old = ratio(cur["confirmed"], cur["decided"]), ratio(before["confirmed"], before["decided"])
        table.rows.append([key, cur["decided"], cur["confirmed"], value, old, change(value, old)])
    return table


def _precision_tables(precision_cat: dict, precision_model: dict, categories: list[str], w: Wording) -> list[Table]:
    """Precision of flags by category (with "all flags" first) and by model version."""
    by_category = Table("precision_by_category", w.gettext("Precision of flags (confirmed ÷ decided), by category"),
                        ["category", "decided", "confirmed", "precision", "previous_precision", "change"],
                        note=w.gettext("Confirmed as the flagged category; '%(all)s' counts any confirmation.",
                                       all=w.label("all flags")))
    by_model = Table("precision_by_model", w.gettext("Precision of flags (confirmed ÷ decided), by model version"),
                     ["model_version", "decided", "confirmed", "precision", "previous_precision", "change"])
    return [_precision_rows(by_category, precision_cat, ["all flags"] + [c for c in categories if c != "all"]),
            _precision_rows(by_model, precision_model,
                            sorted(set(precision_model["cur"]) | set(precision_model["prev"])))]


def _time_to_decision_table(decisions: DecisionCounts, w: Wording) -> Table:
    """How many items got a first decision, and the median and p90 hours it took."""
    waits = decisions.waits
    med, p90 = _wait_figures(decisions)
    return Table("time_to_decision", w.gettext("Time from first seen to first decision (hours)"),
                 ["measure", "hours", "previous", "change"],
                 [["decided items", len(waits["cur"]), len(waits["prev"]),
                   change(len(waits["cur"]), len(waits["prev"]))],
                  ["median", med["cur"], med["prev"], change(med["cur"], med["prev"])],
                  ["p90", p90["cur"], p90["prev"], change(p90["cur"], p90["prev"])]],
                 note=w.gettext("90th percentile by nearest rank."))


def _throughput_table(decisions: DecisionCounts, w: Wording) -> Table:
    """Decisions per moderator by outcome (admin-only), busiest first."""
    throughput = decisions.throughput
    table = Table("moderator_throughput", w.gettext("Moderator throughput (decisions per person)"),
                  ["moderator", "role", "decisions", *[label for label, _ in DECISION_OUTCOMES], "previous", "change"],
                  admin_only=True, note=w.gettext("Admin-level: shown to admins only in the web UI."))
    people = sorted(set(throughput["cur"]) | set(throughput["prev"]),
                    key=lambda name: (-throughput["cur"][name]["all"], name))
    for person in people:
        cur, before = throughput["cur"][person], throughput["prev"][person]
        table.rows.append([person, decisions.roles.get(person, ""), cur["all"],
                           *[cur[action] for _, action in DECISION_OUTCOMES], before["all"],
                           change(cur["all"], before["all"])])
    return table


def _section_tables(conn, period: Period, previous: Period, sources: dict[int, dict], items: ItemCounts,
                    summary: Table, w: Wording) -> list[Table]:
    """The sections' tables (spreading stories, confirmed terms, most-flagged sources, coverage); their
    headline figures are appended to `summary`."""
    clusters, spreading = sections.spreading_clusters(conn, period, w)
    _, spreading_before = sections.spreading_clusters(conn, previous, w, limit=0)
    _headline(summary, "stories_multi_source", spreading, spreading_before)
    tables = [clusters, sections.confirmed_terms(conn, period, previous, w),
              sections.most_flagged_sources(items.flagged_by_source, items.by_source, w)]
    coverage_sources, coverage_languages, health = sections.coverage(conn, period, sources, items.by_source,
                                                                      items.by_language, w)
    # Idle sources keep the headline name reports have always had (see sections.IDLE_LABEL).
    for key, name in (("idle", "sources_gone_dark"), ("paused", "sources_paused"), ("failing", "sources_failing")):
        _headline(summary, name, *health[key])
    _headline(summary, "language_gaps", *health["language_gaps"])
    return tables + [coverage_sources, coverage_languages]


def items_scanned(database: sqlite_utils.Database, period: Period) -> int:
    """How many items build_report reads for `period`: those first seen in it and in the period before."""
    return reports_db.count_items_between(database.conn, period.previous().start_utc, period.end_utc)


def backlog_at(conn, *moments: str) -> list[Counter]:
    """Items open (flagged/escalated) at each moment, reconstructed from the decision log.

    Statuses change only through decisions, so an item never decided has had its current status since
    it was first seen; a decided item's status at a moment is the new status of its last decision
    before then, else the old status of its first decision. One pass over the decision log serves all
    moments, and undecided open items are counted through the status index.
    """
    results = []
    undecided = reports_db.undecided_items(conn, OPEN_STATUSES)
    first_old: dict[int, str] = {}
    timeline: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for item_id, created_at, old, new in reports_db.decision_log(conn):
        first_old.setdefault(item_id, old)
        timeline[item_id].append((created_at, new))
    # Only an item first decided after a moment might not have existed yet at that moment.
    earliest = min(moments)
    late = [item_id for item_id, events in timeline.items() if events[0][0] >= earliest]
    fetched = reports_db.fetched_times(conn, late)
    for moment in moments:
        counts: Counter = Counter(status for status, fetched_at in undecided if fetched_at < moment)
        for item_id, old in first_old.items():
            events = timeline[item_id]
            if events[0][0] >= moment and fetched.get(item_id, "") >= moment:
                continue  # first seen after the moment
            status = old
            for created_at, new in events:
                if created_at >= moment:
                    break
                status = new
            if status in OPEN_STATUSES:
                counts[status] += 1
        results.append(counts)
    return results


def item_rows(conn, period: Period, sources: dict[int, dict], w: Wording) -> Table:
    """One row per item crawled or decided in the period, repeated per decision made in the period."""
    start, end = period.start_utc, period.end_utc
    table = Table("items", w.gettext("Items and decisions in the period"), list(ITEM_COLUMNS),
                  note=w.gettext("One row per decision in the period; items with none have one row with empty "
                                 "decision fields."))
    decided: dict[int, list[tuple]] = defaultdict(list)
    for row in reports_db.decisions_for_rows(conn, start, end, local_time_sql(period, "d.created_at", dialect(conn))):
        decided[row[0]].append(row[1:])
    local_fetched = local_time_sql(period, "fetched_at", dialect(conn))
    crawled = reports_db.item_rows_between(conn, start, end, local_fetched)
    crawled_ids = {row[0] for row in crawled}
    extra = reports_db.item_rows_by_id(conn, sorted(set(decided) - crawled_ids), local_fetched)
    for row in sorted(crawled + extra, key=lambda r: r[0]):
        (item_id, source_id, fetched_at, language, title, url, status, reasons, s_mis, s_harm, model, local) = row
        source = sources.get(source_id, {"name": f"#{source_id}", "kind": ""})
        in_period = item_id in crawled_ids
        listed = "crawled+decided" if in_period and item_id in decided else ("crawled" if in_period else "decided")
        base = [item_id, local or local_time(period, fetched_at), fetched_at, source["name"], source["kind"], language or "",
                title, url or "", status, ",".join(flag_reasons(reasons)),
                None if s_mis is None else round(s_mis, 4), None if s_harm is None else round(s_harm, 4),
                model or "", listed]
        if item_id not in decided:
            table.rows.append(base + [None, "", "", "", "", "", "", ""])
        for dec_id, user, created_at, action, old, new, note, decided_local in decided.get(item_id, []):
            table.rows.append(base + [dec_id, user, decided_local or local_time(period, created_at), created_at, action,
                                      old, new, note])
    return table
