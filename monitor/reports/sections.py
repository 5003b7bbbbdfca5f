"""The report's later sections: spreading stories, top terms, most-flagged sources, coverage health.

Each function reads what it needs for a period and returns finished Tables; see build.py for the
shared definitions (crawled = first seen in [start, end)).
"""

from __future__ import annotations

from collections import Counter

from db import reports as reports_db
from monitor.domain import Status
from monitor.reports.display import Wording
from monitor.reports.figures import change, local_time
from monitor.reports.model import Table
from monitor.reports.period import Period
from monitor.reports.terms import top_terms

# The status a story shows: the most consequential status any of its copies has.
STATUS_RANK = {status.value: rank for rank, status in enumerate(  # least consequential first
    (Status.NEW, Status.DISMISSED, Status.FLAGGED, Status.ESCALATED, Status.CONFIRMED), start=1)}

# How the report words an *idle* source (enabled, not paused, nothing first seen in the period). Not the
# sources page's "gone dark" (monitor/crawl/health.py: silent past a threshold drawn from the source's
# own rhythm, as of now): a weekly bulletin is idle in every daily report yet not dark. Published reports
# and their readers know the word, and the headline keeps its key `sources_gone_dark`, so only the code
# says "idle".
IDLE_LABEL = "gone dark"


def spreading_clusters(conn, period: Period, w: Wording, limit: int = 10) -> tuple[Table, int]:
    """Top stories (clusters) active in the period, by number of distinct sources carrying them by its end.

    A source carries a story when it has an item in the cluster or, where the crawler records them in
    `cluster_sources`, an exact repost it did not store again. Also returns how many active stories
    had two or more sources (the headline "stories spreading").
    """
    start, end = period.start_utc, period.end_utc
    reposts, has_representative = reports_db.cluster_schema(conn)
    if limit == 0:  # only the headline count is wanted
        return Table("top_clusters", "", []), reports_db.spreading_count(conn, start, end, reposts=reposts)
    stats = reports_db.cluster_spread(conn, start, end, reposts=reposts)
    spreading = sum(1 for entry in stats.values() if entry["sources"] >= 2)
    top = sorted(stats.items(), key=lambda pair: (-pair[1]["sources"], -pair[1]["items"], pair[1]["first"], pair[0]))
    table = Table("top_clusters", w.gettext("Stories that spread most (clusters), by number of sources"),
                  ["cluster_id", "title", "sources", "new_sources", "items", "first_seen_local", "status",
                   "source_names"],
                  note=w.gettext("Stories seen in the period; sources (incl. exact reposts) counted up to the period's "
                                 "end; '%(new)s' = sources added during the period; '%(status)s' = the most "
                                 "consequential status of its items now.",
                                 new=w.label("new_sources"), status=w.label("status")))
    for cluster_id, entry in top[:limit]:
        members = reports_db.cluster_members(conn, cluster_id, end)
        title = members[0][1] if members else ""
        if has_representative:
            title = reports_db.representative_title(conn, cluster_id) or title
        status = max((m[2] for m in members), key=lambda s: STATUS_RANK.get(s, 0), default="")
        names = {m[3] for m in members}
        if reposts:
            names |= reports_db.repost_source_names(conn, cluster_id, end)
        table.rows.append([cluster_id, title, entry["sources"], entry["new"], entry["items"],
                           local_time(period, entry["first"]), status, ", ".join(sorted(names))])
    return table, spreading


def confirmed_terms(conn, period: Period, previous: Period, w: Wording, limit: int = 20) -> Table:
    """Terms in items confirmed (a decision to 'confirmed') in the period, with the previous period's count."""
    def texts(p: Period) -> list[str]:
        return [f"{title}\n{(text or '')[:4000]}"
                for title, text in reports_db.confirmed_texts(conn, p.start_utc, p.end_utc)]

    current_texts = texts(period)
    current = top_terms(current_texts, limit)
    before = dict(top_terms(texts(previous), 10_000))
    table = Table("top_terms", w.gettext("Most frequent terms in confirmed items"), ["term", "items", "previous", "change"],
                  note=w.gettext("Number of items containing each term, out of %(count)s items confirmed in the period.",
                                 count=w.number(len(current_texts))))
    for term, count in current:
        table.rows.append([term, count, before.get(term, 0), count - before.get(term, 0)])
    return table


def most_flagged_sources(flagged_by_source: dict[str, Counter], crawled_by_source: dict[str, Counter],
                         w: Wording, limit: int = 10) -> Table:
    cur, prev = flagged_by_source["cur"], flagged_by_source["prev"]
    table = Table("most_flagged_sources", w.gettext("Most-flagged sources"),
                  ["source", "flagged", "crawled", "flagged_share", "previous", "change"])
    for name in sorted(cur, key=lambda n: (-cur[n], n))[:limit]:
        crawled = crawled_by_source["cur"][name]
        table.rows.append([name, cur[name], crawled, round(cur[name] / crawled, 4) if crawled else None,
                           prev[name], change(cur[name], prev[name])])
    return table


def coverage(conn, period: Period, sources: dict[int, dict], by_source: dict[str, Counter],
             by_language: dict[str, Counter], w: Wording) -> tuple[Table, Table, dict[str, tuple]]:
    """Sources idle, paused or failing, and item volume per language against configured sources.

    idle = enabled, not paused, nothing first seen in the period (shown as IDLE_LABEL); paused = paused now;
    failing = a crawl error in the period or consecutive failures now. Returns (sources, languages, headline);
    the headline counts each problem in the period and the one before ("idle", "paused", "failing",
    "language_gaps").
    """
    start, end = period.start_utc, period.end_utc
    prev_start = period.previous().start_utc
    runs = reports_db.crawl_runs_by_source(conn, prev_start, start, end)
    table = Table("coverage_sources", w.gettext("Coverage health: sources gone dark, paused or failing"),
                  ["source", "kind", "language", "problems", "items", "previous", "last_item_local",
                   "last_success_local", "error_runs", "runs", "consecutive_failures", "last_error"])
    counts = {"idle": [0, 0], "paused": [0, None], "failing": [0, 0]}
    for source_id, source in sorted(sources.items(), key=lambda pair: pair[1]["name"]):
        if not source["enabled"]:
            continue
        name = source["name"]
        total_runs, errors, errors_before = runs.get(source_id, (0, 0, 0))
        problems = []
        if not source["paused"] and by_source["cur"][name] == 0:
            problems.append(IDLE_LABEL)
            counts["idle"][0] += 1
        if not source["paused"] and by_source["prev"][name] == 0:
            counts["idle"][1] += 1
        if source["paused"]:
            problems.append("paused")
            counts["paused"][0] += 1
        if (errors or 0) > 0 or source["consecutive_failures"] > 0:
            problems.append("failing")
            counts["failing"][0] += 1
        if (errors_before or 0) > 0:
            counts["failing"][1] += 1
        if not problems:
            continue
        last_item = reports_db.last_item_before(conn, source_id, end)
        table.rows.append([name, source["kind"], source["language"], ", ".join(problems), by_source["cur"][name],
                           by_source["prev"][name], local_time(period, last_item), local_time(period, source["last_success_at"]),
                           errors or 0, total_runs or 0, source["consecutive_failures"], source["last_error"] or ""])

    languages = Table("coverage_by_language", w.gettext("Coverage by language: gaps"),
                      ["language", "sources", "sources_with_items", "items", "previous", "change", "gap"],
                      note=w.gettext("'%(gap)s' = configured sources but no items, or items fell by more than half.",
                                     gap=w.label("gap")))
    configured: Counter = Counter()
    active: Counter = Counter()
    for source in sources.values():
        if source["enabled"] and not source["paused"]:
            configured[source["language"] or "unknown"] += 1
            if by_source["cur"][source["name"]]:
                active[source["language"] or "unknown"] += 1
    keys = sorted(set(configured) | set(by_language["cur"]) | set(by_language["prev"]))
    for language in keys:
        items, before = by_language["cur"][language], by_language["prev"][language]
        gap = ""
        if configured[language] and items == 0:
            gap = "no items"
        elif before and items * 2 < before:
            gap = "down more than half"
        languages.rows.append([language, configured[language], active[language], items, before,
                               change(items, before), gap])
    headline = {key: tuple(value) for key, value in counts.items()}
    headline["language_gaps"] = (sum(1 for row in languages.rows if row[-1]), None)
    return table, languages, headline
