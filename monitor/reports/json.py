"""JSON: every figure of the Report, tables as lists of objects keyed by column.

JSON is for programs: keys and stored values stay keys. Each table also carries its title and note in the
report's language and `labels`, its columns' headings, so a program can show it to people; meta has `lang`."""

from __future__ import annotations

import json

from monitor.reports.display import Wording, wording
from monitor.reports.model import Report, Table


def table_json(table: Table, w: Wording) -> dict:
    return {"title": table.title, "columns": table.columns, "labels": w.labels(table.columns),
            "rows": table.as_dicts(), "admin_only": table.admin_only, "note": table.note}


def as_dict(report: Report) -> dict:
    w = wording(report.lang)
    return {"meta": report.meta(), "tables": {table.name: table_json(table, w) for table in report.tables},
            "items": table_json(report.items, w)}


def render(report: Report) -> bytes:
    """Compact JSON: with `indent`, the json module falls back to its pure-Python encoder (~5× slower on a
    busy week's item rows); pipe through `python -m json.tool` to read it."""
    return json.dumps(as_dict(report), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
