"""JSON: every figure of the Report, tables as lists of objects keyed by column."""

from __future__ import annotations

import json

from monitor.reports.model import Report, Table


def table_json(table: Table) -> dict:
    return {"title": table.title, "columns": table.columns, "rows": table.as_dicts(),
            "admin_only": table.admin_only, "note": table.note}


def as_dict(report: Report) -> dict:
    return {"meta": report.meta(), "tables": {table.name: table_json(table) for table in report.tables},
            "items": table_json(report.items)}


def render(report: Report) -> bytes:
    """Compact JSON: with `indent`, the json module falls back to its pure-Python encoder (~5× slower on a
    busy week's item rows); pipe through `python -m json.tool` to read it."""
    return json.dumps(as_dict(report), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
