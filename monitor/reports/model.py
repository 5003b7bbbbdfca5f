"""The Report: one plain data object holding every figure, so renderers never query.

Every figure lives in a `Table` (name, title, columns, rows). Renderers walk the same tables,
which is what makes "every format renders the same figures" true by construction and testable.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from monitor.reports.period import Period
from vocab.i18n import DEFAULT_LANGUAGE

Cell = str | int | float | None


@dataclass
class Table:
    """One table of figures: `rows` are lists aligned with `columns`."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    admin_only: bool = False
    note: str = ""

    def as_dicts(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]

    def column(self, name: str) -> list[Cell]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def lookup(self, key: Cell, column: str) -> Cell:
        """The value in `column` of the row whose first cell is `key` (None when absent)."""
        index = self.columns.index(column)
        for row in self.rows:
            if row[0] == key:
                return row[index]
        return None


@dataclass
class Report:
    """Everything a renderer needs: the period, headline figures, tables and the item/decision rows.

    Titles and notes are already in `lang`; names, columns and stored keys stay keys, which each renderer
    words with `monitor.reports.display.wording(report.lang)`."""

    period: Period
    previous_period: Period
    generated_at: str
    tables: list[Table]
    items: Table
    empty: bool
    redacted: bool = False
    notes: list[str] = field(default_factory=list)
    lang: str = DEFAULT_LANGUAGE  # the language of its titles and notes; renderers write every word in it

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def headline(self, figure: str, column: str = "value") -> Cell:
        return self.table("summary").lookup(figure, column)

    def without_admin_tables(self) -> Report:
        """A copy without admin-level tables (moderator throughput), for people who are not admins."""
        return dataclasses.replace(self, tables=[t for t in self.tables if not t.admin_only])

    def meta(self) -> dict[str, Any]:
        """Period and provenance, as every format prints it at the top."""
        return {
            "period": self.period.label,
            "kind": self.period.kind,
            "first_day": self.period.first_day.isoformat(),
            "last_day": self.period.last_day.isoformat(),
            "zone": self.period.zone,
            "start_utc": self.period.start_utc,
            "end_utc": self.period.end_utc,
            "previous_period": self.previous_period.label,
            "generated_at": self.generated_at,
            "empty": self.empty,
            "redacted": self.redacted,
            "notes": list(self.notes),
            "lang": self.lang,
        }
