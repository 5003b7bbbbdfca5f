"""HTML: the printable report page (standalone document for exports, body fragment for the web UI).

Rendered with Jinja2 autoescaping: titles and terms come from crawled content and are never markup.
The charts are matplotlib SVG, whose text matplotlib itself escapes.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from monitor.reports import charts
from monitor.reports.display import display, label
from monitor.reports.model import Report

ITEM_ROWS_SHOWN = 200

# What each section answers, in the order a committee reads it.
SECTIONS = (
    ("What did we watch?", ("daily", "crawled_by_source", "crawled_by_kind", "crawled_by_language")),
    ("What was flagged and decided?", ("flagged_by_category", "decisions", "backlog")),
    ("How well did the model do, and how fast did we act?",
     ("precision_by_category", "precision_by_model", "time_to_decision")),
    ("What did we do about it?",
     ("response_actions", "takedown_outcomes", "referrals_by_agency", "time_to_action", "followups_open")),
    ("What spread?", ("top_clusters", "top_terms", "most_flagged_sources")),
    ("Where are we blind?", ("coverage_sources", "coverage_by_language")),
    ("Who did the work?", ("moderator_throughput",)),
)


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=PackageLoader("monitor.reports", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["display"] = display
    env.filters["label"] = label
    return env


def context(report: Report, *, show_admin: bool = True, with_charts: bool = True) -> dict:
    tables = {table.name: table for table in report.tables}
    sections = [(title, [tables[name] for name in names if name in tables
                         and (show_admin or not tables[name].admin_only)]) for title, names in SECTIONS]
    sections = [(title, found) for title, found in sections if found]
    chart_svgs = [(spec.title, Markup(charts.svg(report, spec))) for spec in charts.CHARTS] if with_charts else []
    return {"report": report, "meta": report.meta(), "summary": report.table("summary"), "sections": sections,
            "charts": chart_svgs, "items": report.items, "item_rows": report.items.as_dicts()[:ITEM_ROWS_SHOWN],
            "item_limit": ITEM_ROWS_SHOWN, "show_admin": show_admin}


def render_body(report: Report, *, show_admin: bool = True, with_charts: bool = True) -> Markup:
    """The report's content, for embedding in a page (the web UI wraps it in its own layout)."""
    return Markup(_env().get_template("report_body.html").render(
        **context(report, show_admin=show_admin, with_charts=with_charts)))


def render_document(report: Report, *, show_admin: bool = True, with_charts: bool = True) -> str:
    """A complete, self-contained HTML document (inline CSS and SVG) that prints cleanly."""
    return _env().get_template("report_document.html").render(
        body=render_body(report, show_admin=show_admin, with_charts=with_charts), meta=report.meta(),
        css=report_css())


def report_css() -> str:
    from importlib import resources
    return (resources.files("monitor.reports") / "templates" / "report.css").read_text(encoding="utf-8")
