"""Small shared pieces of the report's arithmetic: changes, ratios, percentiles, local times, and the
period-dependent SQL expressions (built by db/reports.py from the period's offset and day starts)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from db import reports as reports_db
from monitor.reports.period import Period, day_start_utc


def change(current: float | int | None, previous: float | int | None) -> float | int | None:
    """current − previous, or None when either side is undefined (e.g. precision with no decisions)."""
    if current is None or previous is None:
        return None
    delta = current - previous
    return round(delta, 4) if isinstance(delta, float) else delta


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def nearest_rank(values: list[float], fraction: float) -> float | None:
    """The smallest value such that at least `fraction` of the values are ≤ it (nearest-rank percentile)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def local_time(period: Period, stored: str | None) -> str | None:
    """A stored UTC time as local "YYYY-MM-DD HH:MM" in the period's zone."""
    if not stored:
        return None
    offset = fixed_offset(period)
    if offset is not None:  # the common case: plain arithmetic, no zone look-up per row
        moment = datetime.fromisoformat(stored.replace("Z", "+00:00")) + timedelta(seconds=offset)
    else:
        moment = datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone(ZoneInfo(period.zone))
    return moment.strftime("%Y-%m-%d %H:%M")


@lru_cache(maxsize=64)
def fixed_offset(period: Period) -> int | None:
    """The zone's UTC offset in seconds if it is the same throughout the period (and a day either side)."""
    zone = ZoneInfo(period.zone)
    moments = [period.start - timedelta(days=1), period.end + timedelta(days=1)]
    moments += [datetime.combine(day, datetime.min.time(), tzinfo=UTC) for day in period.days]
    offsets = {moment.astimezone(zone).utcoffset() for moment in moments}
    return int(offsets.pop().total_seconds()) if len(offsets) == 1 else None


def local_time_sql(period: Period, column: str, sql_dialect: str) -> str:
    """SQL (in `sql_dialect`, db.dialect's name) for the local "YYYY-MM-DD HH:MM" of a stored time, or NULL
    when the offset varies (then Python)."""
    return reports_db.local_time_expr(column, fixed_offset(period), sql_dialect)


@lru_cache(maxsize=4096)
def flag_reasons(text: str | None) -> tuple[str, ...]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(str(reason) for reason in value) if isinstance(value, list) else ()


def day_index_sql(period: Period, column: str, sql_dialect: str) -> tuple[str, list]:
    """SQL giving the 0-based local-day index of `column` (−1 before the period), exact in any zone.

    With one UTC offset throughout, every local day is 86,400 s and the index is arithmetic: constant work
    per row (a CASE over every day made a long report cost rows × days: hours for decades, issue 15 item
    12). A zone whose offset changes in the period (daylight saving) gets the CASE over the days' local
    midnights, whose work per row grows with the days.
    """
    if fixed_offset(period) is not None:
        return reports_db.day_index_expr(column, period.start_utc, start_timestamp=int(period.start.timestamp()),
                                         sql_dialect=sql_dialect)
    return reports_db.day_index_expr(column, period.start_utc,
                                     day_starts=[day_start_utc(day, period.zone) for day in period.days[1:]],
                                     sql_dialect=sql_dialect)
