"""A story's spread on the item page: its copies, sources and velocity (db.spread) and an hourly bar chart.

The chart is plain SVG drawn here, like the dashboard's (the CSP allows no script, and nothing is fetched);
its only text is numbers and hours, and its labels are escaped all the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup, escape

import db
import db.spikes
import db.spread
from vocab.i18n import N_
from web.render import localtimes

CHART_HOURS = 48  # the chart's span: two days of hours, the life of most stories that spread
TABLE_HOURS = 48  # the newest active hours listed under the chart
COPIES_COLOUR, SOURCES_COLOUR = "#8a9bb0", "#7a1010"
# What each kind of spike means to a reader (monitor/spikes.py), on the item page and the dashboard.
SPIKE_KINDS = {"story_sources": N_("A story spreading fast"),
               "rule_rate": N_("A watchlist rule far above its usual rate"),
               "place_rate": N_("A place far above its usual rate")}


def describe_spikes(spikes: list[dict]) -> list[dict]:
    """Spikes as a reader wants them: `about` names the subject (a place's name, not its code 'p:38'; a rule's
    name; nothing for a story, which is linked instead) and `count` says what was counted ("5 new sources",
    "12 items in the hour")."""
    from classifiers.places import place_name

    out = []
    for spike in spikes:
        about = spike["subject"]
        if spike["kind"] == "place_rate":
            about = place_name(about)
        elif spike["kind"] == "story_sources":
            about = ""
        n = round(spike["observed"])  # a count of sources or items
        count = (ngettext("%(num)s new source", "%(num)s new sources", n)
                 if spike["kind"] == "story_sources" else
                 ngettext("%(num)s item in the hour", "%(num)s items in the hour", n))
        out.append({**spike, "about": about, "count": count})
    return out


def hourly_series(timeline: list[dict], end: datetime, hours: int = CHART_HOURS) -> list[dict]:
    """The `hours` UTC hours up to `end`'s own, each with its new copies and sources (0 where none): in
    a chart an hour without a copy is a gap to see, not a missing bar."""
    by_hour = {row["hour"]: row for row in timeline}
    last = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    series = []
    for back in range(hours - 1, -1, -1):
        hour = db.to_iso(last - timedelta(hours=back))
        row = by_hour.get(hour, {})
        series.append({"hour": hour, "copies": row.get("copies", 0), "sources": row.get("sources", 0)})
    return series


def chart_end(timeline: list[dict], now: datetime) -> datetime:
    """Where the chart ends: now while the story was active in the last day, else at its last active hour."""
    if not timeline:
        return now
    last = db.from_iso(timeline[-1]["hour"])
    return now if now - last < timedelta(hours=24) else last


def spread_chart(series: list[dict], title: str) -> Markup:
    """Bars per hour: new copies (grey) with new sources (dark red) in front, hours labelled in local time."""
    width, height, pad = 760, 180, 30
    peak = max([1] + [row["copies"] for row in series] + [row["sources"] for row in series])
    slot = (width - 2 * pad) / max(len(series), 1)
    hour_label = localtimes("HH:mm")
    day_label = localtimes("dd/MM HH:mm")
    date_label, last_day = localtimes("dd/MM"), ""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" class="chart" '
             f'id="spread-chart" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#888"/>',
             f'<text x="4" y="{pad - 8}" font-size="11">{peak}</text>']
    for i, row in enumerate(series):
        x = pad + i * slot
        for value, colour, inset in ((row["copies"], COPIES_COLOUR, 0.1), (row["sources"], SOURCES_COLOUR, 0.3)):
            if value:
                h = (height - 2 * pad) * value / peak
                parts.append(f'<rect x="{x + slot * inset:.1f}" y="{height - pad - h:.1f}" '
                             f'width="{max(slot * (1 - 2 * inset), 1):.1f}" height="{h:.1f}" fill="{colour}"/>')
        tip = escape(_("%(hour)s: %(copies)s copies, %(sources)s new sources", hour=day_label(row["hour"]),
                       copies=row["copies"], sources=row["sources"]))
        parts.append(f'<rect x="{x:.1f}" y="{pad}" width="{slot:.1f}" height="{height - 2 * pad}" '
                     f'fill="transparent"><title>{tip}</title></rect>')
        if i % 6 == 0:  # the day too where it changes: two days of "14:00" are not the same hour
            day = date_label(row["hour"])
            label = day_label(row["hour"]) if day != last_day else hour_label(row["hour"])
            last_day = day
            parts.append(f'<text x="{x:.1f}" y="{height - pad + 14}" font-size="10">{escape(label)}</text>')
    # The legend at the top right, beside the newest hours: a phone opens the chart at that end (app.css).
    for j, (name, colour) in enumerate(((_("Copies"), COPIES_COLOUR), (_("New sources"), SOURCES_COLOUR))):
        left = width - pad - 260 + j * 130
        parts.append(f'<rect x="{left}" y="6" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{left + 14}" y="15" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def item_spread(database, cluster_id: int | None, now: datetime | None = None) -> dict | None:
    """What `_item_spread.html` shows for an item's story: the figures, the chart, the newest active hours and
    the spikes its copies made; None when the item has no story (no cluster)."""
    now = now or datetime.now(UTC)
    spread = db.spread.story_spread(database.conn, cluster_id, now)
    if spread is None:
        return None
    series = hourly_series(spread["timeline"], chart_end(spread["timeline"], now))
    chart = spread_chart(series, _("Copies and new sources per hour, last %(n)s hours", n=CHART_HOURS))
    return {**spread, "chart": chart, "recent_hours": list(reversed(spread["timeline"][-TABLE_HOURS:])),
            "spikes": describe_spikes(db.spikes.story_spikes(database.conn, cluster_id)), "spike_kinds": SPIKE_KINDS}
