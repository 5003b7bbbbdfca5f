"""Request parameters parsed in one place, so a hostile value gets a 400 or 404 with a message, never a 500.

SQLite stores integers in 64 bits (binding a larger Python int raises OverflowError) and date arithmetic
overflows near the years 1 and 9999; a hostile probe turned both into 26 different 500s (issue 15 item 11).
Every id, count, version and day a route reads goes through `to_int`, `int_arg`, `id_list` or `day_arg`;
`<int:...>` URL parts go through BoundedIntConverter, which `init_app` installs as the app's "int"
converter, so an id no row can have is a 404 on every route, present and future.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from flask import Flask, abort, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter, Map

import db
import db.items
from monitor.reports.period import MAX_DAY, MIN_DAY, Period, PeriodError, parse_day, parse_period
from web.render import user_zone

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


def shown(value: str, limit: int | None = 40) -> str:
    """A user's value quoted back in a message: short, and without control characters.

    "Not printable" includes the format characters (Unicode Cf) such as U+202E RIGHT-TO-LEFT OVERRIDE, which
    would make the rest of the message read backwards. `limit=None` keeps the whole text (the `shown` filter
    for text that is not a parameter, such as account names in the audit log's problems).
    """
    text = "".join(ch if ch.isprintable() else "?" for ch in value[:limit])
    return text + ("…" if limit is not None and len(value) > limit else "")


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
    except PeriodError as error:
        raise BadParameter(name, period_message(error)) from None


def local_day_to_utc(args, name: str, *, end: bool = False) -> str | None:
    """The day parameter `name` (YYYY-MM-DD in the user's zone) → the UTC instant starting (or ending) that day,
    the form in which times are stored, so a date filter compares text with text."""
    day = day_arg(args, name)
    if day is None:
        return None
    if end:
        day += timedelta(days=1)
    return db.to_iso(datetime.combine(day, time(0), tzinfo=user_zone()))


def period_arg(values, zone: str) -> Period:
    """The report period a query string asks for: `week`, `quarter`, or `from` and `to` (default: last week)."""
    try:
        return parse_period(values.get("week") or None, values.get("quarter") or None, values.get("from") or None,
                            values.get("to") or None, zone=zone)
    except PeriodError as error:
        raise BadParameter(error.field or "week", period_message(error)) from None


def period_message(error: PeriodError) -> str:
    """A PeriodError worded for the web: translated, naming the web parameter (the CLI's message names its
    --flags) and quoting the value through shown()."""
    name, value, details = shown(error.field or ""), shown(error.value or ""), error.details
    if error.problem in ("day", "day_range"):
        return _("Parameter “%(name)s” must be a date like 2026-11-16 from %(low)s to %(high)s (got “%(value)s”).",
                 name=name, low=MIN_DAY.isoformat(), high=MAX_DAY.isoformat(), value=value)
    if error.problem == "week":
        return _("Parameter “%(name)s” must be an ISO week like 2026-W47 (got “%(value)s”).", name=name, value=value)
    if error.problem == "no_such_week":
        return _("Parameter “%(name)s”: %(year)s has no ISO week %(number)s (got “%(value)s”).", name=name,
                 year=details["year"], number=details["number"], value=value)
    if error.problem == "quarter":
        return _("Parameter “%(name)s” must be a quarter like 2026-Q4 (got “%(value)s”).", name=name, value=value)
    if error.problem == "year":
        return _("Parameter “%(name)s” must be in the years %(low)s to %(high)s (got “%(value)s”).", name=name,
                 low=details["low"], high=details["high"], value=value)
    if error.problem == "order":
        return _("The day “to” (%(last)s) is before the day “from” (%(first)s).", last=details["last"],
                 first=details["first"])
    if error.problem == "several":
        return _("Give only one of “week”, “quarter”, or “from” and “to”.")
    if error.problem == "unpaired":
        return _("Parameters “from” and “to” must be given together.")
    if error.problem == "zone":
        return _("The time zone “%(value)s” is unknown (expected an IANA name such as Asia/Ho_Chi_Minh).",
                 value=value)
    return shown(str(error), limit=200)  # a rule added to period.py without a web wording yet


def init_app(app: Flask) -> None:
    """Install the bounded "int" URL converter (before any route is added), the 400 page for BadParameter and
    the `shown` template filter."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.jinja_env.filters["shown"] = lambda text: shown(str(text), limit=None)

    @app.errorhandler(BadParameter)
    def bad_parameter(error: BadParameter):
        return render_template("error.html", title="400", message=error.description), 400


def item_or_404(database, item_id: int) -> dict:
    """The item an id in the URL names, or a 404: the one check every per-item route starts with."""
    item = db.items.get_item(database, item_id)
    if item is None:
        abort(404)
    return item
