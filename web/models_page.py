"""What the admin's Models page shows of a model version: its card as sanitised HTML and its test
metrics as tables (the page used to show the raw Markdown and one 50,000-pixel line of JSON)."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from web import markdown
from web.render import sanitize


def card_html(card: str | None) -> Markup:
    """The card's Markdown (HTML in it passing, as in CommonMark) through the nh3 allow-list; its `#`
    headings sit under the page's h2."""
    return sanitize(markdown.to_html(card, heading_offset=2, raw_html=True))


def metrics_table(raw: str | None, decimal: str = ".") -> dict[str, Any]:
    """{"columns": [...], "rows": [[name, cell, …], …]} for metrics per dataset (a dict of dicts), or
    {"columns": [], "rows": [[name, value], …]} for a flat dict. Nested values one level down become
    their own columns ("category_at_threshold · precision"); matrices print row by row."""
    try:
        metrics = json.loads(raw or "{}")
    except ValueError:
        return {"columns": [], "rows": [["", str(raw)]]}
    if not isinstance(metrics, dict) or not metrics:
        return {"columns": [], "rows": []}
    if not all(isinstance(value, dict) for value in metrics.values()):
        return {"columns": [], "rows": [[str(name), _cell(value, decimal)] for name, value in metrics.items()]}
    flat = {name: _flatten(values) for name, values in metrics.items()}
    columns: list[str] = []
    for values in flat.values():
        columns.extend(key for key in values if key not in columns)
    rows = [[str(name), *(_cell(values.get(key), decimal) for key in columns)] for name, values in flat.items()]
    return {"columns": columns, "rows": rows}


def _flatten(values: dict) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update({f"{key} · {sub}": inner for sub, inner in value.items()})
        else:
            flat[str(key)] = value
    return flat


def _cell(value: Any, decimal: str) -> str:
    """A number to three decimals in the UI's decimal sign, a matrix as "491 46 / 29 59", else text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3f}".replace(".", decimal)
    if isinstance(value, list):
        if value and all(isinstance(row, list) for row in value):
            return " / ".join(" ".join(_cell(v, decimal) for v in row) for row in value)
        return ", ".join(_cell(v, decimal) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
