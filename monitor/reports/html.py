"""HTML: the printable report page (standalone document for exports, body fragment for the web UI).

Rendered with Jinja2 autoescaping: titles and terms come from crawled content and are never markup.
The charts are matplotlib SVG, whose text matplotlib itself escapes. Every word is written in the
report's language through `Wording` (the template's `_`, `label` and `cell`).
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from monitor.reports import charts
from monitor.reports.display import wording
from monitor.reports.model import Report
from vocab.i18n import N_

ITEM_ROWS_SHOWN = 200
ITEM_COLUMNS_SHOWN = ("item_id", "first_seen_local", "source", "title", "status_now", "flag_reasons", "decided_by",
                      "decided_at_local", "action", "note")

# What each section answers, in the order a committee reads it (English msgids; see Wording.gettext).
SECTIONS = (
    (N_("What did we watch?"), ("daily", "crawled_by_source", "crawled_by_kind", "crawled_by_language")),
    (N_("What was flagged and decided?"), ("flagged_by_category", "decisions", "backlog")),
    (N_("How well did the model do, and how fast did we act?"),
     ("precision_by_category", "precision_by_model", "time_to_decision")),
    (N_("What did we do about it?"),
     ("response_actions", "takedown_outcomes", "referrals_by_agency", "time_to_action", "followups_open")),
    (N_("What spread?"), ("top_clusters", "top_terms", "most_flagged_sources")),
    (N_("What concerned our jurisdiction, and what came back?"),
     ("early_warning", "places_mentioned", "claims_matched")),
    (N_("Where are we blind?"), ("coverage_sources", "coverage_by_language")),
    (N_("Who did the work?"), ("moderator_throughput",)),
)


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=PackageLoader("monitor.reports", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True))


def items_note(report: Report, shown: int = ITEM_ROWS_SHOWN) -> str:
    """How many item rows there are and how many a page shows, then the table's own note."""
    w = wording(report.lang)
    count = len(report.items.rows)
    text = w.ngettext("%(num)s row", "%(num)s rows", count)
    if count > shown:
        text += w.gettext("; the first %(shown)s are shown — the CSV and XLSX exports hold them all",
                          shown=w.number(shown))
    return f"{text}. {report.items.note}"


def heading_lines(report: Report) -> tuple[str, str]:
    """The report's title and the line under it (period, zone, comparison, when made), in its language."""
    w = wording(report.lang)
    title = w.gettext("Monitoring report: %(period)s", period=w.period(report.period))
    line = w.gettext("Time zone %(zone)s · compared with %(previous)s · made %(made)s UTC",
                     zone=report.period.zone, previous=w.period(report.previous_period),
                     made=w.moment(report.generated_at))
    if report.redacted:
        line += " · " + w.gettext("personal data redacted")
    return title, line


def context(report: Report, *, show_admin: bool = True, with_charts: bool = True) -> dict:
    w = wording(report.lang)
    tables = {table.name: table for table in report.tables}
    sections = [(w.gettext(title), [tables[name] for name in names if name in tables
                                    and (show_admin or not tables[name].admin_only)]) for title, names in SECTIONS]
    sections = [(title, found) for title, found in sections if found]
    chart_svgs = ([(charts.title(spec, w), Markup(charts.svg(report, spec))) for spec in charts.CHARTS]
                  if with_charts else [])
    title, line = heading_lines(report)
    return {"report": report, "meta": report.meta(), "summary": report.table("summary"), "sections": sections,
            "charts": chart_svgs, "items": report.items, "item_rows": report.items.as_dicts()[:ITEM_ROWS_SHOWN],
            "item_columns": ITEM_COLUMNS_SHOWN, "items_note": items_note(report), "show_admin": show_admin,
            "title": title, "subtitle": line, "_": w.gettext, "heading": w.heading, "cell": w.cell}


def render_body(report: Report, *, show_admin: bool = True, with_charts: bool = True) -> Markup:
    """The report's content, for embedding in a page (the web UI wraps it in its own layout)."""
    return Markup(_env().get_template("report_body.html").render(
        **context(report, show_admin=show_admin, with_charts=with_charts)))


def render_document(report: Report, *, show_admin: bool = True, with_charts: bool = True) -> str:
    """A complete, self-contained HTML document (inline CSS and SVG) that prints cleanly."""
    return _env().get_template("report_document.html").render(
        body=render_body(report, show_admin=show_admin, with_charts=with_charts), lang=report.lang,
        title=heading_lines(report)[0], css=report_css())


def report_css() -> str:
    from importlib import resources
    return (resources.files("monitor.reports") / "templates" / "report.css").read_text(encoding="utf-8")
