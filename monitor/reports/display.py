"""How a figure is written as text — shared by HTML, PDF and the tests that compare formats."""

from __future__ import annotations

from monitor.reports.model import Cell

NONE = "—"


def display(value: Cell, column: str = "") -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        text = "0" if text in ("-0", "") else text
    else:
        text = str(value)
    if column == "change" and isinstance(value, int | float) and value > 0:
        text = "+" + text
    return text


def label(name: str) -> str:
    """A column or figure key as a heading: "items_crawled" → "Items crawled"."""
    return name.replace("_", " ").capitalize()
