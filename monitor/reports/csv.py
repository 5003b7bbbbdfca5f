"""CSV: the items and decisions in the period (one row per decision), plus a long-format figures file.

Analysts open CSV in spreadsheet software, so the file is UTF-8 with a BOM (Excel then reads
Vietnamese correctly) and cells starting with = + - @ are prefixed with ' to defuse formula injection
from crawled titles.
"""

from __future__ import annotations

import csv
import io

from monitor.reports.model import Report, Table

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def table_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_safe(cell) for cell in row])
    return buffer.getvalue()


def render_items(report: Report) -> bytes:
    """The per-item/decision CSV (the "weekly export")."""
    return ("\ufeff" + table_csv(report.items)).encode("utf-8")


def render_figures(report: Report) -> bytes:
    """Every figure in long format: table, row key, column, value — one line per cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["table", "row", "column", "value"])
    for key, value in report.meta().items():
        writer.writerow(["meta", "", key, _safe(value if not isinstance(value, list) else " | ".join(value))])
    for table in report.tables:
        for row in table.rows:
            for column, cell in zip(table.columns[1:], row[1:], strict=False):
                writer.writerow([table.name, _safe(row[0]), column, _safe(cell)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
