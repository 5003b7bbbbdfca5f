"""Times: feed date strings to datetimes, and datetimes to UTC in the source's zone.

A time without a zone is taken in the source's zone (`to_utc`), never the machine's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def to_utc(moment: datetime | None, zone: str) -> datetime | None:
    """An aware UTC datetime; naive times are taken in the source's zone."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def parse_time(value: str | None) -> datetime | None:
    """A feed date string as a datetime: aware if it carried a zone, naive if not (then to_utc uses the source zone)."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
        if moment is not None:
            # RFC 822 "-0000" means "zone unknown": treat as naive.
            if value.endswith("-0000"):
                moment = moment.replace(tzinfo=None)
            return moment
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
