"""The report's early-warning section (issue 11 with issue 13): what concerned the committee's own
jurisdiction, which debunked claims came back, and what spiked.

Definitions (the tests check them by hand):
- An item is *about the jurisdiction* when, as it was stored, a place it mentions lay in
  settings.jurisdiction (items.about_jurisdiction); it belongs to the period its `fetched_at` falls in.
- A *claim match* belongs to the period its `matched_at` falls in (when the item was stored);
  "items matching debunked claims" counts distinct items, "claims matched" distinct claims.
- *Claims added* are library entries created in the period, whatever their origin.
- *Spikes fired* are spike rules that fired in the period (one per rule, subject and window).
- *Alerts* are those made in the period (one per story and recipient): delivered and failed for good as
  they stand now (an alert made at the period's end may be delivered after it), and the stories alerted.
Every figure comes with the previous period's and the change.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

from db import reports as reports_db
from monitor.reports.display import Wording
from monitor.reports.figures import change
from monitor.reports.model import Table
from monitor.reports.period import Period
from vocab.i18n import N_
from vocab.labels import verdict_key

KEYS = (
    N_("items_about_jurisdiction"), N_("flagged_about_jurisdiction"), N_("items_matching_claims"),
    N_("claims_matched"), N_("claims_added"), N_("spikes_fired"), N_("place"), N_("level"), N_("flagged"),
    N_("debunked_claim"), N_("verdict"), N_("publisher"), N_("alerts_sent"), N_("stories_alerted"),
    N_("alerts_failed"),
)
TOP_PLACES = 15
TOP_CLAIMS = 10


def warning_section(conn: sqlite3.Connection, period: Period, w: Wording) -> tuple[list[Table], list[tuple]]:
    """The section's tables and its headline rows ((figure, value, previous), for the summary)."""
    start, mid, end = period.previous().start_utc, period.start_utc, period.end_utc
    about = reports_db.jurisdiction_counts(conn, start, mid, end)
    matches = reports_db.claim_match_counts(conn, start, mid, end)
    added = reports_db.claims_added_counts(conn, start, mid, end)
    spikes = reports_db.spike_counts(conn, start, mid, end)
    alerts = reports_db.alert_counts(conn, start, mid, end)
    figures = [
        ("items_about_jurisdiction", _at(about, "cur", 0), _at(about, "prev", 0)),
        ("flagged_about_jurisdiction", _at(about, "cur", 1), _at(about, "prev", 1)),
        ("items_matching_claims", _at(matches, "cur", 0), _at(matches, "prev", 0)),
        ("claims_matched", _at(matches, "cur", 1), _at(matches, "prev", 1)),
        ("claims_added", _at(added, "cur", 0), _at(added, "prev", 0)),
        ("spikes_fired", _at(spikes, "cur", 0), _at(spikes, "prev", 0)),
        ("alerts_sent", _at(alerts, "cur", 0), _at(alerts, "prev", 0)),
        ("stories_alerted", _at(alerts, "cur", 1), _at(alerts, "prev", 1)),
        ("alerts_failed", _at(alerts, "cur", 2), _at(alerts, "prev", 2)),
    ]
    table = Table("early_warning", w.gettext("Early warning: our jurisdiction, debunked claims, spikes, alerts"),
                  ["figure", "value", "previous", "change"],
                  [[name, cur, prev, change(cur, prev)] for name, cur, prev in figures],
                  note=w.gettext("Items about the jurisdiction are those mentioning a place in it when they were "
                                 "stored; a claim match counts in the period the item was stored."))
    tables = [table, _places_table(conn, start, mid, end, w), _claims_table(conn, period, w)]
    headlines = [figure for figure in figures
                 if figure[0] in ("items_about_jurisdiction", "items_matching_claims", "spikes_fired", "alerts_sent")]
    return tables, headlines


def _at(sides: dict[str, tuple], side: str, index: int) -> int:
    values = sides[side]
    return int(values[index]) if len(values) > index else 0


def _places_table(conn: sqlite3.Connection, start: str, mid: str, end: str, w: Wording) -> Table:
    """The places the items about the jurisdiction mention most, with this period's flagged items."""
    from classifiers.places import place_name

    items: dict[str, Counter] = {"cur": Counter(), "prev": Counter()}
    flagged: Counter = Counter()
    levels: dict[str, str] = {}
    for code, level, current, count, flagged_count in reports_db.jurisdiction_places(conn, start, mid, end):
        items["cur" if current else "prev"][code] += count
        levels[code] = level
        if current:
            flagged[code] += flagged_count
    top = sorted(items["cur"], key=lambda code: (-items["cur"][code], -flagged[code], code))[:TOP_PLACES]
    rows = [[place_name(code, with_province=True), levels[code], items["cur"][code], flagged[code], items["prev"][code],
             change(items["cur"][code], items["prev"][code])] for code in top]
    return Table("places_mentioned", w.gettext("Places mentioned by items about the jurisdiction"),
                 ["place", "level", "items", "flagged", "previous", "change"], rows,
                 note=w.gettext("An item mentioning several places counts once for each."))


def _claims_table(conn: sqlite3.Connection, period: Period, w: Wording) -> Table:
    """The debunked claims most repeated in the period, with their rebuttal."""
    rows = [[text, verdict_key(verdict), url or "", publisher or "", count, sources]
            for _, text, verdict, url, publisher, count, sources
            in reports_db.top_matched_claims(conn, period.start_utc, period.end_utc, TOP_CLAIMS)]
    return Table("claims_matched", w.gettext("Debunked claims that came back"),
                 ["debunked_claim", "verdict", "url", "publisher", "items", "sources"], rows,
                 note=w.gettext("Items stored in the period that repeat a claim already debunked, by claim; url is "
                                "the rebuttal."))
