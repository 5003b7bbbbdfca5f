"""Report periods: ISO weeks, quarters and custom date ranges, as local calendar days → UTC bounds.

A committee's week is Monday–Sunday on the wall clock in Asia/Ho_Chi_Minh, but every time in the
database is UTC text ("YYYY-MM-DDTHH:MM:SSZ"). A Period carries both: the local days people read,
and the half-open UTC interval [start_utc, end_utc) that queries compare stored text against
(the fixed-width format sorts lexically in time order, so plain string comparison is exact).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from db import reports as reports_db
from monitor.domain import DEFAULT_TIMEZONE

# The days a user may ask for: every stored time is from a crawl, so nothing predates 1970, and the bounds keep
# all date arithmetic (the previous period, a day either side, local midnights in any zone) far from the
# year 1 and 9999 where Python's dates overflow (issue 15 item 11).
MIN_DAY = date(1970, 1, 1)
MAX_DAY = date(2100, 12, 31)
# A report's cost grows with its days (a table row each, and a chart bar in html and pdf): a year takes seconds,
# a century held a web server thread at 80 % CPU for minutes (issue 15 item 12). The web UI refuses periods
# longer than this; `monitor report` writes them after saying how long they will take.
LONG_PERIOD_DAYS = 366

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


class PeriodError(ValueError):
    """A period the user typed cannot be understood; the message (the CLI's: it names --flags) says what was
    expected.

    The web words its own, translated message from the parts (web/params.py period_message): `problem` is the
    rule broken ("week", "no_such_week", "year", "quarter", "day", "day_range", "order", "several", "unpaired",
    "zone"), `field` the input at fault without the CLI's dashes ("week", "quarter", "from", "to", a web
    parameter's name; None for "several"), `value` what was typed and `details` the numbers the message needs.
    """

    def __init__(self, message: str, problem: str = "", field: str | None = None, value: str | None = None,
                 **details: object) -> None:
        super().__init__(message)
        self.problem, self.field, self.value, self.details = problem, field, value, details


@dataclass(frozen=True)
class Period:
    """Local days [first_day, last_day] (inclusive) in `zone`, with the matching UTC bounds."""

    kind: str  # "week" | "quarter" | "custom"
    label: str  # "2026-W47", "2026-Q4", "2026-11-01..2026-11-10"
    first_day: date
    last_day: date
    zone: str = DEFAULT_TIMEZONE

    @property
    def start(self) -> datetime:
        """Local midnight at the start of the first day, as an aware UTC datetime."""
        return _local_midnight_utc(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        """Local midnight after the last day (exclusive), as an aware UTC datetime."""
        return _local_midnight_utc(self.last_day + timedelta(days=1), self.zone)

    @property
    def start_utc(self) -> str:
        return _iso(self.start)

    @property
    def end_utc(self) -> str:
        return _iso(self.end)

    @property
    def day_count(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=offset) for offset in range(self.day_count)]

    def previous(self) -> Period:
        """The period just before this one, of the same kind and length (for "change from last week")."""
        if self.kind == "week":
            return week_of(self.first_day - timedelta(days=7), self.zone)
        if self.kind == "quarter":
            year, number = self.first_day.year, (self.first_day.month - 1) // 3 + 1
            year, number = (year - 1, 4) if number == 1 else (year, number - 1)
            return quarter(f"{year}-Q{number}", self.zone)
        length = (self.last_day - self.first_day).days + 1
        return custom(self.first_day - timedelta(days=length), self.first_day - timedelta(days=1), self.zone)

    def local_day(self, stored: str) -> date:
        """The local calendar day of a stored UTC time."""
        moment = datetime.fromisoformat(stored.replace("Z", "+00:00"))
        return moment.astimezone(ZoneInfo(self.zone)).date()

    def describe(self) -> str:
        return f"{self.label} ({self.first_day.isoformat()} – {self.last_day.isoformat()}, {self.zone})"


def _local_midnight_utc(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_start_utc(day: date, zone: str = DEFAULT_TIMEZONE) -> str:
    """Stored-format UTC time of local midnight at the start of `day` in `zone`."""
    return _iso(_local_midnight_utc(day, zone))


def iso_week(text: str, zone: str = DEFAULT_TIMEZONE) -> Period:
    """"2026-W47" → Monday 2026-11-16 … Sunday 2026-11-22 in `zone`."""
    match = _WEEK.match(text.strip())
    if not match:
        raise PeriodError(f"week '{text}' is not an ISO week like 2026-W47", "week", "week", text)
    year, number = _year(match.group(1), "week", text), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise PeriodError(f"week '{text}': {year} has no ISO week {number}", "no_such_week", "week", text,
                          year=year, number=number) from None
    return Period("week", f"{year}-W{number:02d}", monday, monday + timedelta(days=6), zone)


def week_of(day: date, zone: str = DEFAULT_TIMEZONE) -> Period:
    """The ISO week containing a local calendar day."""
    year, number, _ = day.isocalendar()
    return iso_week(f"{year}-W{number:02d}", zone)


def previous_full_week(now: datetime | None = None, zone: str = DEFAULT_TIMEZONE) -> Period:
    """The last complete Monday–Sunday week before `now` (default: the current time) in `zone`."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    today = now.astimezone(ZoneInfo(zone)).date()
    return week_of(today - timedelta(days=7), zone)


def current_week(now: datetime | None = None, zone: str = DEFAULT_TIMEZONE) -> Period:
    """The Monday–Sunday week containing `now` (default: the current time) in `zone`."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return week_of(now.astimezone(ZoneInfo(zone)).date(), zone)


def latest_week_with_data(conn: sqlite3.Connection, now: datetime | None = None, zone: str = DEFAULT_TIMEZONE) -> Period:
    """The week a reader is shown first: the most recent full week in which an item was first seen or a
    decision made, or the current week so far when no earlier week has any (a fresh installation).

    The previous full week is where the weekly report is, but on a new or paused installation it is empty,
    and an empty report is no place to start (issue 13 item 4).
    """
    last_full = previous_full_week(now, zone)
    latest = reports_db.latest_activity_before(conn, last_full.end_utc)
    if latest is None:
        return current_week(now, zone)
    return week_of(last_full.local_day(latest), zone)


def quarter(text: str, zone: str = DEFAULT_TIMEZONE) -> Period:
    """"2026-Q4" → 2026-10-01 … 2026-12-31 in `zone`."""
    match = _QUARTER.match(text.strip())
    if not match:
        raise PeriodError(f"quarter '{text}' is not like 2026-Q4", "quarter", "quarter", text)
    year, number = _year(match.group(1), "quarter", text), int(match.group(2))
    first = date(year, 3 * number - 2, 1)
    after = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return Period("quarter", f"{year}-Q{number}", first, after - timedelta(days=1), zone)


def _year(text: str, field: str, value: str) -> int:
    year = int(text)
    if not MIN_DAY.year <= year <= MAX_DAY.year:
        raise PeriodError(f"{field} '{value}': the year must be from {MIN_DAY.year} to {MAX_DAY.year}", "year",
                          field, value, low=MIN_DAY.year, high=MAX_DAY.year)
    return year


def custom(first: date | str, last: date | str, zone: str = DEFAULT_TIMEZONE) -> Period:
    """Local days `first` … `last`, both inclusive ("2026-11-01", "2026-11-10")."""
    first_day, last_day = _day(first, "--from"), _day(last, "--to")
    if last_day < first_day:
        raise PeriodError(f"--to {last_day.isoformat()} is before --from {first_day.isoformat()}", "order", "to",
                          last_day.isoformat(), first=first_day.isoformat(), last=last_day.isoformat())
    return Period("custom", f"{first_day.isoformat()}..{last_day.isoformat()}", first_day, last_day, zone)


def _day(value: date | str, field: str) -> date:
    return parse_day(value, field) if isinstance(value, str) else value


def parse_day(text: str, field: str) -> date:
    """A calendar day typed by a user (YYYY-MM-DD) within MIN_DAY … MAX_DAY; `field` names it in the error."""
    name = field.lstrip("-")
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{field} '{text}' is not a date like 2026-11-16", "day", name, text) from None
    if not MIN_DAY <= day <= MAX_DAY:
        raise PeriodError(f"{field} '{text}' is outside {MIN_DAY.isoformat()} … {MAX_DAY.isoformat()}",
                          "day_range", name, text)
    return day


def check_zone(name: str) -> str:
    """`name` if it is an IANA time zone this machine knows, else a PeriodError naming it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise PeriodError(f"time zone {name!r} is unknown (expected an IANA name such as {DEFAULT_TIMEZONE})", "zone",
                          "zone", name) from None
    return name


def parse_period(week: str | None = None, quarter_text: str | None = None, first: str | None = None,
                 last: str | None = None, zone: str = DEFAULT_TIMEZONE) -> Period:
    """One period from the CLI/web options; exactly one kind must be given."""
    check_zone(zone)
    given = [name for name, value in (("week", week), ("quarter", quarter_text), ("from/to", first or last)) if value]
    if len(given) > 1:
        flags = ", ".join(f"--{name.replace('/', '/--')}" for name in given)
        raise PeriodError(f"give only one of --week, --quarter, --from/--to (got {flags})", "several", None, None,
                          given=given)
    if week:
        return iso_week(week, zone)
    if quarter_text:
        return quarter(quarter_text, zone)
    if first or last:
        if not (first and last):
            raise PeriodError("--from and --to must be given together", "unpaired", "to" if first else "from", None)
        return custom(first, last, zone)
    return previous_full_week(zone=zone)
