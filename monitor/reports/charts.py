"""The report's charts, described once (ChartSpec) and drawn by each format its own way.

HTML and PDF draw them with matplotlib (SVG inline / PNG embedded); XLSX makes native Excel
charts over the same table cells. A spec only names a table and its columns, so a chart can
never show a number the tables do not.

Every chart is drawn inside `_plain_text()`: labels come from source names and feeds, and matplotlib
would read text between two "$" as a formula (drawn as maths, or failing the whole report on one it
cannot parse, issue 15 item 16).
"""

from __future__ import annotations

import io
import re
import textwrap
from dataclasses import dataclass
from datetime import date

from monitor.reports.display import Wording, wording
from monitor.reports.model import Report, Table
from vocab.i18n import N_


@dataclass(frozen=True)
class ChartSpec:
    name: str
    title: str  # an English msgid, written in the report's language by `title()`
    table: str  # source table name
    series: tuple[str, ...]  # numeric columns drawn
    kind: str = "bar"  # "bar" (vertical) | "barh" (horizontal)
    limit: int | None = None  # first N rows only


CHARTS = (
    ChartSpec("daily", N_("Daily volumes: crawled and flagged"), "daily", ("crawled", "flagged")),
    ChartSpec("categories", N_("Flagged items by category"), "flagged_by_category", ("items", "previous")),
    ChartSpec("decisions", N_("Decisions by outcome"), "decisions", ("decisions", "previous")),
    ChartSpec("top_sources", N_("The ten sources with the most items crawled"), "crawled_by_source", ("items",),
              "barh", 10),
)


def title(spec: ChartSpec, w: Wording) -> str:
    return w.gettext(spec.title)


def tick_labels(report: Report, spec: ChartSpec, labels: list[str]) -> list[str]:
    """The category axis in the report's language: days as day/month, keys ("confirmed_misinformation") as
    wrapped words so neighbours never overlap, names (sources) as they are."""
    w = wording(report.lang)
    if spec.table == "daily":
        return [w.day_month(date.fromisoformat(label)) for label in labels]
    first_column = report.table(spec.table).columns[0]
    if spec.kind == "barh":
        return [w.cell(label, first_column) for label in labels]
    return [textwrap.fill(w.cell(label, first_column), 14) for label in labels]


def chart_data(report: Report, spec: ChartSpec) -> tuple[list[str], dict[str, list[float]]]:
    table: Table = report.table(spec.table)
    rows = table.rows[: spec.limit] if spec.limit else table.rows
    labels = [str(row[0]) for row in rows]
    series = {name: [float(row[table.columns.index(name)] or 0) for row in rows] for name in spec.series}
    return labels, series


def _figure(report: Report, spec: ChartSpec):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    labels, series = chart_data(report, spec)
    w = wording(report.lang)
    height = 3.0 if spec.kind == "bar" else max(2.2, 0.32 * len(labels) + 1.0)
    fig = Figure(figsize=(7.0, height), dpi=100)
    ax = fig.add_subplot()
    positions = list(range(len(labels)))
    width = 0.8 / max(1, len(series))
    colours = ("#2b6cb0", "#c53030", "#718096")
    for index, (name, values) in enumerate(series.items()):
        offset = [p - 0.4 + width * (index + 0.5) for p in positions]
        if spec.kind == "barh":
            ax.barh(offset, values, height=width, label=w.heading(name), color=colours[index % 3])
        else:
            ax.bar(offset, values, width=width, label=w.heading(name), color=colours[index % 3])
    ticks = tick_labels(report, spec, labels)
    if spec.kind == "barh":
        ax.set_yticks(positions, ticks)
        ax.invert_yaxis()
    else:
        ax.set_xticks(positions, ticks, rotation=0 if len(labels) <= 8 else 45)
    ax.set_title(title(spec, w), fontsize=10)
    ax.tick_params(labelsize=8)
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    counts = ax.xaxis if spec.kind == "barh" else ax.yaxis
    counts.set_major_locator(MaxNLocator(integer=True))
    counts.set_major_formatter(FuncFormatter(lambda value, _pos: w.number(value)))  # 1.234 in Vietnamese
    if len(series) > 1:
        top = max((max(values) for values in series.values() if values), default=0)
        if top > 0 and spec.kind == "bar":
            ax.set_ylim(0, top * 1.3)  # headroom: the legend sits above the bars, not on them
        ax.legend(fontsize=8, loc="upper right", ncol=len(series), frameon=False)
    if not labels or not any(any(values) for values in series.values()):
        ax.text(0.5, 0.5, w.gettext("Nothing in this period."), transform=ax.transAxes, ha="center", va="center", color="#718096")
        (ax.set_xlim if spec.kind == "barh" else ax.set_ylim)(0, 1)  # counts: no negative axis around nothing
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def _plain_text(**settings):
    """matplotlib settings for drawing a chart: every text (titles, tick labels, legends) drawn as typed,
    never parsed as mathtext. Text objects read the setting when created, and tick labels are created
    while saving, so both the figure and its savefig run inside."""
    import matplotlib

    return matplotlib.rc_context({"text.parse_math": False, **settings})


def svg(report: Report, spec: ChartSpec) -> str:
    """The chart as an inline <svg> element (text kept as text: small, selectable, printable), styled by
    presentation attributes only (see `without_styles`)."""
    buffer = io.StringIO()
    with _plain_text(**{"svg.fonttype": "none", "svg.hashsalt": "report"}):
        _figure(report, spec).savefig(buffer, format="svg")
    text = _METADATA.sub("", buffer.getvalue())  # the RDF block: when and by what, not part of the chart
    return without_styles(text[text.index("<svg"):])


_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)


_STYLE_SHEET = re.compile(r"<style[^>]*>\s*\*\s*\{([^}]*)\}\s*</style>\s*")
_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')
_TAG = re.compile(r"<[^<>]+>")


def _attributes(declarations: str) -> str:
    """`fill: #fff; stroke-width: 0.8` as ` fill="#fff" stroke-width="0.8"` (matplotlib writes only properties
    that are also SVG presentation attributes: fill, stroke*, opacity, font-size, font-family, text-anchor)."""
    pairs = (part.split(":", 1) for part in declarations.split(";") if ":" in part)
    return "".join(f' {name.strip()}="{value.strip().replace(chr(34), "&quot;")}"' for name, value in pairs)


def without_styles(svg_text: str) -> str:
    """matplotlib's SVG with its style attributes and its one `<style>` sheet turned into presentation
    attributes: a page whose CSP says `style-src 'self'` blocks inline styles, which drew the charts as
    black rectangles (issue 12). Only markup inside tags is rewritten, never the text of a label."""
    sheet = _STYLE_SHEET.search(svg_text)
    svg_text = _STYLE_SHEET.sub("", svg_text)
    svg_text = _TAG.sub(lambda tag: _STYLE_ATTRIBUTE.sub(lambda m: _attributes(m.group(1)), tag.group(0)), svg_text)
    if sheet:  # `* { stroke-linejoin: round; ... }`: inherited properties, so set once on the root element
        svg_text = svg_text.replace("<svg", "<svg" + _attributes(sheet.group(1)), 1)
    return svg_text


def png(report: Report, spec: ChartSpec, dpi: int = 150) -> bytes:
    buffer = io.BytesIO()
    with _plain_text():
        _figure(report, spec).savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
