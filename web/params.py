"""Request parameters parsed in one place, so a hostile value gets a 400 or 404 with a message, never a 500.

SQLite stores integers in 64 bits (binding a larger Python int raises OverflowError) and date arithmetic
overflows near the years 1 and 9999; a hostile probe turned both into 26 different 500s (issue 15 item 11).
Every id, count, version and day a route reads goes through `to_int`, `int_arg`, `id_list` or `day_arg`;
`<int:...>` URL parts go through BoundedIntConverter, which `init_app` installs as the app's "int"
converter, so an id no row can have is a 404 on every route, present and future.
"""

from __future__ import annotations

import re
from datetime import date

from flask import Flask, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter, Map

from monitor.reports.period import MAX_DAY, MIN_DAY, PeriodError, parse_day

INT64_MAX = 2**63 - 1  # SQLite's largest INTEGER
# ASCII digits only: str.isdigit() also accepts "²", which int() refuses; 19 digits bound int() to int64 size.
_DIGITS = re.compile(r"[0-9]{1,19}")


class BadParameter(BadRequest):
    """A query or form parameter that cannot be used; the description names it and says what was expected.

    A BadRequest, so a blueprint's own 400 handler (the API's JSON one) answers it in its own format.
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(description=message)
        self.parameter = parameter


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` limited to SQLite's INTEGER range: a larger id cannot exist, so it is a 404."""

    regex = r"[0-9]{1,19}"

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002 - werkzeug's names
                 max: int | None = INT64_MAX, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def shown(value: str, limit: int = 40) -> str:
    """A user's value quoted back in a message: short, and without control characters."""
    text = "".join(ch if ch.isprintable() else "?" for ch in value[:limit])
    return text + ("…" if len(value) > limit else "")


def to_int(value: str | None, name: str, *, low: int = 0, high: int = INT64_MAX) -> int | None:
    """`value` as a whole number in [low, high]; None when absent or empty; anything else is a BadParameter."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _DIGITS.fullmatch(text) and low <= int(text) <= high:
        return int(text)
    raise BadParameter(name, _("Parameter “%(name)s” must be a whole number from %(low)s to %(high)s "
                               "(got “%(value)s”).", name=shown(name), low=low, high=high, value=shown(value)))


def int_arg(values, name: str, *, default: int | None = None, low: int = 0, high: int = INT64_MAX) -> int | None:
    """The parameter `name` of a query string or form (a MultiDict) as a bounded whole number, else `default`."""
    number = to_int(values.get(name), name, low=low, high=high)
    return default if number is None else number


MAX_IDS = 1000  # a page shows 50 items; a SQL "IN (...)" takes at most 32,766 values


def id_list(values, name: str) -> list[int]:
    """The distinct ids of a repeated parameter (item_id=1&item_id=2), sorted; one bad id refuses them all."""
    given = values.getlist(name)
    if len(given) > MAX_IDS:
        raise BadParameter(name, _("Parameter “%(name)s” is given %(n)s times; at most %(max)s are accepted.",
                                   name=name, n=len(given), max=MAX_IDS))
    return sorted({number for value in given if (number := to_int(value, name, low=1)) is not None})


def day_arg(values, name: str) -> date | None:
    """The parameter `name` as a calendar day (YYYY-MM-DD) within the range reports and filters support."""
    text = values.get(name)
    if not text:
        return None
    try:
        return parse_day(text, name)
    except PeriodError:
        raise BadParameter(name, _("Parameter “%(name)s” must be a date like 2026-11-16 from %(low)s to %(high)s "
                                   "(got “%(value)s”).", name=name, low=MIN_DAY.isoformat(),
                                   high=MAX_DAY.isoformat(), value=shown(text))) from None


def init_app(app: Flask) -> None:
    """Install the bounded "int" URL converter (before any route is added) and the 400 page for BadParameter."""
    app.url_map.converters["int"] = BoundedIntConverter

    @app.errorhandler(BadParameter)
    def bad_parameter(error: BadParameter):
        return render_template("error.html", title="400", message=error.description), 400
