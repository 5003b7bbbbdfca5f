"""CSV: the items and decisions in the period (one row per decision), plus a long-format figures file.

Analysts open CSV in spreadsheet software, so the file is UTF-8 with a BOM (Excel then reads
Vietnamese correctly) and cells starting with = + - @ are prefixed with ' to defuse formula injection
from crawled titles.

Headers and coded values (statuses, actions, categories) are in the report's language; numbers and times
stay plain machine values (0.25, 2026-11-16 09:00), which spreadsheet software reads as numbers and times.
"""

from __future__ import annotations

import csv
import io

from monitor.reports.display import Wording, wording
from monitor.reports.model import Report, Table

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def table_csv(table: Table, w: Wording) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(w.labels(table.columns))
    words = w.coder(table.columns)
    for row in table.rows:
        writer.writerow([_safe(cell) for cell in words(row)])
    return buffer.getvalue()


def render_items(report: Report) -> bytes:
    """The per-item/decision CSV (the "weekly export")."""
    return ("\ufeff" + table_csv(report.items, wording(report.lang))).encode("utf-8")


FIGURE_COLUMNS = ("table", "row", "column", "value")


def render_figures(report: Report) -> bytes:
    """Every figure in long format: table (its title), row, column, value — one line per cell."""
    w = wording(report.lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(w.labels(list(FIGURE_COLUMNS)))
    about = w.gettext("About this report")
    for key, value in report.meta().items():
        if key in ("kind", "lang"):
            value = w.label(value)
        elif isinstance(value, bool):
            value = w.cell(value)
        writer.writerow([about, "", w.label(key), _safe(value if not isinstance(value, list) else " | ".join(value))])
    for table in report.tables:
        first = table.columns[0] if table.columns else ""
        for row in table.rows:
            for column, cell in zip(table.columns[1:], row[1:], strict=False):
                writer.writerow([table.title, _safe(w.coded(row[0], first)), w.label(column),
                                 _safe(w.coded(cell, column))])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
