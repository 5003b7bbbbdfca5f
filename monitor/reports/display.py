"""How a figure is written as text, in the reader's language — shared by every format and the tests
that compare formats.

A Report holds keys (figure names, column names, statuses, actions) and numbers; `Wording` turns
them into words and localised numbers at render time, through the service's one set of catalogs
(`vocab/translations`: a key is its own msgid, and the English catalog gives its English wording).
So every format says the same thing in the same language, and a missing translation shows up as
the catalog test failing rather than as a raw key in a report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import format_decimal

from monitor.reports.model import Cell
from vocab.i18n import DEFAULT_LANGUAGE, check_language, translations

NONE = "—"

# Columns whose text cells are stored keys (a status, an action, a category…), shown as their words.
CODED_COLUMNS = frozenset({
    "figure", "measure", "category", "outcome", "status", "status_now", "old_status", "new_status", "action",
    "kind", "source_kind", "language", "role", "model_version", "gap", "listed_because", "flag_reasons",
    "problems", "agency", "level", "verdict",
})
# Coded columns holding several keys separated by commas ("misinformation,harm").
LIST_COLUMNS = frozenset({"flag_reasons", "problems"})
# Columns holding a local day ("2026-11-16") or a local time ("2026-11-16 09:00"), shown in the language's format.
DATE_COLUMNS = frozenset({"day"})
TIME_COLUMNS = frozenset({"first_seen_local", "decided_at_local", "last_item_local", "last_success_local"})
# Columns holding an identifier: a number, but never grouped ("#1234", not "1.234").
IDENTIFIER_COLUMNS = frozenset({"item_id", "cluster_id", "decision_id"})


@dataclass(frozen=True)
class Wording:
    """The words and number/date formats of one language; get one with `wording(lang)`."""

    lang: str

    def gettext(self, message: str, **params: object) -> str:
        """`message` translated, then %-formatted with `params` (as Flask-Babel's gettext)."""
        text = translations(self.lang).gettext(message)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        text = translations(self.lang).ngettext(singular, plural, n)
        return text % {"num": self.number(n), **params}

    def label(self, key: str) -> str:
        """A figure, column or stored key as words: "items_crawled" → "Tin thu thập" / "Items crawled"."""
        return translations(self.lang).gettext(key) if key else ""

    def heading(self, key: str) -> str:
        """A key as a column heading: its words with a capital ("Bị gắn cờ")."""
        text = self.label(key)
        return text[:1].upper() + text[1:]

    def labels(self, keys: list[str]) -> list[str]:
        """Column headings (see `heading`)."""
        return [self.heading(key) for key in keys]

    def number(self, value: int | float) -> str:
        """Grouped and with the language's decimal sign; at most four decimals (ratios, shares)."""
        return format_decimal(round(value, 4), format="#,##0.####", locale=self.lang)

    def coded(self, value: Cell, column: str) -> Cell:
        """A cell with its stored key(s) in words when `column` holds keys; anything else unchanged. For the
        formats that keep numbers and times as machine values (CSV, XLSX)."""
        if not isinstance(value, str) or column not in CODED_COLUMNS:
            return value
        if column in LIST_COLUMNS:
            words = ", ".join(self.label(part.strip()) for part in value.split(",") if part.strip())
            return words[:1].upper() + words[1:]
        return self._capitalised(value)

    def coder(self, columns: list[str]) -> Callable[[list[Cell]], list[Cell]]:
        """A function giving a row with `coded` applied to each cell, for the many rows of one table: only
        the coded columns are looked at, each distinct key translated once (a busy week has 100,000s)."""
        coded = [(index, column, {}) for index, column in enumerate(columns) if column in CODED_COLUMNS]
        if not coded:
            return list

        def row_words(row: list[Cell]) -> list[Cell]:
            out = list(row)
            for index, column, seen in coded:
                value = out[index] if index < len(out) else None
                if isinstance(value, str):
                    words = seen.get(value)
                    if words is None:
                        words = seen[value] = self.coded(value, column)
                    out[index] = words
            return out
        return row_words

    def _capitalised(self, key: str) -> str:
        """A key's words with a capital, as a table cell reads ("Đã xác nhận"); text without a translation (a
        model version such as "m1") is left exactly as stored."""
        text = self.label(key)
        return text[:1].upper() + text[1:] if text != key else text

    def cell(self, value: Cell, column: str = "", *, coded: bool | None = None) -> str:
        """One table cell as text: None → "—", numbers localised (a positive change gets "+"), a stored key
        (a status, an action) translated when the column holds keys (`coded`; by default decided by
        `column`, see CODED_COLUMNS), local days and times in the language's format."""
        if value is None:
            return NONE
        if isinstance(value, bool):
            return self.gettext("yes") if value else self.gettext("no")
        if isinstance(value, int) and column in IDENTIFIER_COLUMNS:
            return str(value)
        if isinstance(value, int | float):
            text = self.number(value)
            text = "0" if text == "-0" else text
            return "+" + text if column == "change" and value > 0 else text
        if coded or (coded is None and column in CODED_COLUMNS):
            return str(self.coded(value, column if column in CODED_COLUMNS else "measure"))
        if value and column in DATE_COLUMNS:
            return self.date(date.fromisoformat(value))
        if value and column in TIME_COLUMNS:
            return self.moment(value)
        return str(value)

    def date(self, day: date) -> str:
        """A short date: 07/12/2026 in Vietnamese, 2026-12-07 in English."""
        return format_date(day, "dd/MM/yyyy", locale=self.lang) if self.lang == "vi" else day.isoformat()

    def day_month(self, day: date) -> str:
        """A day within a period, for chart axes: 07/12 in Vietnamese, 12-07 in English."""
        return f"{day:%d/%m}" if self.lang == "vi" else f"{day:%m-%d}"

    def moment(self, text: str) -> str:
        """A stored local ("2026-11-16 09:00") or UTC ("2026-11-16T02:00:00Z") time as date and hh:mm."""
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
        return f"{self.date(moment.date())} {moment:%H:%M}"

    def long_date(self, day: date) -> str:
        """The date line of a document: "ngày 07 tháng 12 năm 2026" (as Nghị định 30/2020 writes it)."""
        if self.lang == "vi":
            return f"ngày {day:%d} tháng {day:%m} năm {day:%Y}"
        return format_date(day, format="long", locale=self.lang)

    def period(self, period) -> str:
        """A report period in words: "tuần 47 năm 2026 (16/11/2026 – 22/11/2026)" / "week 47 of 2026 (…)"."""
        span = f"{self.date(period.first_day)} – {self.date(period.last_day)}"
        if period.kind == "week":
            year, week = period.label.split("-W")
            return self.gettext("week %(week)s of %(year)s (%(span)s)", week=int(week), year=year, span=span)
        if period.kind == "quarter":
            year, number = period.label.split("-Q")
            return self.gettext("quarter %(quarter)s of %(year)s (%(span)s)", quarter=number, year=year, span=span)
        return span


@lru_cache(maxsize=4)
def wording(lang: str = DEFAULT_LANGUAGE) -> Wording:
    return Wording(check_language(lang))
