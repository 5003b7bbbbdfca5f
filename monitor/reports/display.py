"""How a figure is written as text, in the reader's language — shared by every format and the tests
that compare formats.

A Report holds keys (figure names, column names, statuses, actions) and numbers; `Wording` turns
them into words and localised numbers at render time, through the service's one set of catalogs
(`vocab/translations`: a key is its own msgid, and the English catalog gives its English wording).
So every format says the same thing in the same language, and a missing translation shows up as
the catalog test failing rather than as a raw key in a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import format_decimal

from monitor.reports.model import Cell
from vocab.i18n import DEFAULT_LANGUAGE, check_language, translations

NONE = "—"


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

    def number(self, value: int | float) -> str:
        """Grouped and with the language's decimal sign; at most four decimals (ratios, shares)."""
        return format_decimal(round(value, 4), format="#,##0.####", locale=self.lang)

    def cell(self, value: Cell, column: str = "", *, coded: bool = False) -> str:
        """One table cell as text: None → "—", numbers localised (a positive change gets "+"), and a
        stored key (a status, an action) translated when the column holds keys (`coded`)."""
        if value is None:
            return NONE
        if isinstance(value, bool):
            return self.gettext("yes") if value else self.gettext("no")
        if isinstance(value, int | float):
            text = self.number(value)
            text = "0" if text == "-0" else text
            return "+" + text if column == "change" and value > 0 else text
        return self.label(value) if coded else str(value)

    def date(self, day: date) -> str:
        """A short date: 07/12/2026 in Vietnamese, 2026-12-07 in English."""
        return format_date(day, "dd/MM/yyyy", locale=self.lang) if self.lang == "vi" else day.isoformat()

    def long_date(self, day: date) -> str:
        """The date line of a document: "ngày 07 tháng 12 năm 2026" (as Nghị định 30/2020 writes it)."""
        if self.lang == "vi":
            return f"ngày {day:%d} tháng {day:%m} năm {day:%Y}"
        return format_date(day, format="long", locale=self.lang)


@lru_cache(maxsize=4)
def wording(lang: str = DEFAULT_LANGUAGE) -> Wording:
    return Wording(check_language(lang))


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
