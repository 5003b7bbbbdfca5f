"""Dashboard: flagged, confirmed and dismissed per day, by category and source, as server-drawn SVG.

Charts are plain SVG built here (no JavaScript library, nothing fetched from the internet); every
label goes through XML escaping because source names come from configuration and feeds.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Flask, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup, escape

import db
import db.activity
import db.spikes
from monitor.domain import CONFIRMED_CATEGORY, Category, Status
from web import get_db
from web.access import READ, roles
from web.params import int_arg
from web.render import label
from web.spread import SPIKE_KINDS, describe_spikes

bp = Blueprint("dashboard", __name__)

SERIES = ((Status.FLAGGED, "#c98a00"), (Status.CONFIRMED, "#7a1010"), (Status.DISMISSED, "#2f6f3e"))
SPIKE_DAYS = 7  # the recent spikes listed (monitor/spikes.py records them)


def _zero_counts() -> dict[str, int]:
    """One zero per series: a day, category or source with no activity still has every bar."""
    return {series: 0 for series, _colour in SERIES}


def daily_counts(database, since: str, until: str) -> dict:
    """Per UTC day: items flagged (by fetch day), decisions confirming and dismissing (by decision day)."""
    days: dict[str, dict[str, int]] = defaultdict(_zero_counts)
    by_category: dict[str, dict[str, int]] = defaultdict(_zero_counts)
    by_source: dict[str, dict[str, int]] = defaultdict(_zero_counts)
    for row in db.activity.flagged_per_day(database, since, until):
        days[row["day"]][Status.FLAGGED] += row["n"]
        by_source[row["source"]][Status.FLAGGED] += row["n"]
        for category in Category:
            if f'"{category}"' in (row["reasons"] or ""):
                by_category[category][Status.FLAGGED] += row["n"]
    for row in db.activity.closing_decisions_per_day(database, since, until):
        days[row["day"]][row["status"]] += row["n"]
        by_source[row["source"]][row["status"]] += row["n"]
        if row["action"] in CONFIRMED_CATEGORY:
            by_category[CONFIRMED_CATEGORY[row["action"]]][Status.CONFIRMED] += row["n"]
    return {"days": dict(days), "by_category": dict(by_category), "by_source": dict(by_source)}


def bar_chart(days: list[str], counts: dict[str, dict[str, int]], title: str) -> Markup:
    """Grouped bars per day for the three series, as an inline SVG with a text legend."""
    width, height, pad = 760, 240, 36
    peak = max([1] + [counts.get(d, {}).get(s, 0) for d in days for s, _c in SERIES])
    slot = (width - 2 * pad) / max(len(days), 1)
    bar = max(slot / 4, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="chart" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#888"/>',
             f'<text x="4" y="{pad - 8}" font-size="11">{peak}</text>']
    for i, day in enumerate(days):
        x0 = pad + i * slot
        for j, (series, colour) in enumerate(SERIES):
            value = counts.get(day, {}).get(series, 0)
            h = (height - 2 * pad) * value / peak
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{height - pad - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{escape(day)} {escape(label(series))}: {value}</title></rect>')
        if len(days) <= 16 or i % max(len(days) // 8, 1) == 0:
            parts.append(f'<text x="{x0:.1f}" y="{height - pad + 14}" font-size="10">{escape(day[5:])}</text>')
    for j, (series, colour) in enumerate(SERIES):
        parts.append(f'<rect x="{pad + j * 110}" y="{height - 12}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{pad + j * 110 + 14}" y="{height - 3}" font-size="11">{escape(label(series))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


@bp.get("/dashboard")
@roles(*READ)
def index():
    span = min(max(int_arg(request.args, "days", default=30), 1), 366)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=span - 1)
    days = [(start + timedelta(days=i)).isoformat() for i in range(span)]
    data = daily_counts(get_db(), f"{start.isoformat()}T00:00:00Z",
                        f"{(today + timedelta(days=1)).isoformat()}T00:00:00Z")
    chart = bar_chart(days, data["days"], _("per day, last %(n)s days", n=span))
    spikes = describe_spikes(db.spikes.recent_spikes(get_db().conn, db.to_iso(datetime.now(UTC) - timedelta(days=SPIKE_DAYS)), 20))
    return render_template("dashboard.html", chart=chart, span=span, by_category=data["by_category"],
                           spikes=spikes, spike_kinds=SPIKE_KINDS, spike_days=SPIKE_DAYS,
                           by_source=sorted(data["by_source"].items(), key=lambda kv: -sum(kv[1].values())),
                           totals={s: sum(d.get(s, 0) for d in data["days"].values()) for s, _c in SERIES})


def register(app: Flask) -> None:
    app.register_blueprint(bp)


