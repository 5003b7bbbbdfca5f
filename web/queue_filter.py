"""The queue's request parameters, parsed once for the web UI (/queue) and the API (/api/v1/queue).

Each filter is one `Param` in FILTERS: the query-string name, the QueueFilter field it fills and how its
value is parsed and validated (through web/params.py, so a bad value is a 400 naming the parameter, which
the API answers as JSON). The SQL each field stands for is on the field itself, in db/queue.py. Adding a
filter: a field with its condition in db/queue.py's QueueFilter, a Param here, its control in
templates/queue.html and its label in the catalog; tests/test_queue_filter.py fails if the two halves
disagree. The keyset cursor (`after`) is here too, because both surfaces page the same way.

Where the two parsers disagreed before issue 16, the stricter documented behaviour was kept: an unknown
`status` is a 400 on both surfaces (the API's, documented by openapi.yaml's enum; the web UI used to show
the flagged items instead). An empty parameter means "not given" everywhere, as in web/params.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_login import current_user

from db.queue import QueueFilter
from monitor.domain import Category, Status
from web.params import BadParameter, int_arg, local_day_to_utc, shown, to_int

MAX_LANGUAGE = 8  # language codes are 2 letters (BCP 47 tags a few more); a longer value matches nothing


def choice(values: Iterable[str], *, strict: bool = True) -> Callable[[Any, str], str | None]:
    """A parser for one of `values`: an unknown value is a 400 naming them, or ignored when not `strict`."""
    allowed = tuple(values)

    def parse(args, name: str) -> str | None:
        value = args.get(name)
        if not value or value in allowed:
            return value or None
        if not strict:
            return None
        raise BadParameter(name, _("Parameter “%(name)s” must be one of %(values)s (got “%(value)s”).",
                                   name=name, values=", ".join(allowed), value=shown(value)))
    return parse


def language(args, name: str) -> str | None:
    """A language code as typed: surrounding spaces dropped, at most MAX_LANGUAGE characters."""
    return (args.get(name) or "").strip()[:MAX_LANGUAGE] or None


def day_start(args, name: str) -> str | None:
    """A day in the user's zone as the UTC instant it starts (an inclusive lower bound)."""
    return local_day_to_utc(args, name)


def day_end(args, name: str) -> str | None:
    """A day in the user's zone as the UTC instant the next day starts (an exclusive upper bound)."""
    return local_day_to_utc(args, name, end=True)


def flag(args, name: str) -> int | None:
    """A checkbox: `1` turns the filter on, `0` or nothing leaves it off; anything else (`2`, `true`) is a 400,
    not a filter silently dropped (an API client asking `local=true` got every item as if "about us")."""
    value = args.get(name)
    if not value or value == "0":
        return None
    if value == "1":
        return 1
    raise BadParameter(name, _("Parameter “%(name)s” must be one of %(values)s (got “%(value)s”).",
                               name=name, values="0, 1", value=shown(value)))


def mine(args, name: str) -> int | None:
    """`1` means "claimed by me": the signed-in user's id (the token's user on the API)."""
    return current_user.id if args.get(name) == "1" else None


@dataclass(frozen=True)
class Param:
    """One queue filter as a request parameter: its `name` in the query string, the QueueFilter `field`
    it fills, and `parse(args, name)`, which returns the field's value or None and raises BadParameter."""

    name: str
    field: str
    parse: Callable[[Any, str], Any]


FILTERS: tuple[Param, ...] = (
    Param("status", "status", choice(s.value for s in Status)),
    Param("category", "category", choice((c.value for c in Category), strict=False)),  # unknown: every category
    Param("language", "language", language),
    Param("source", "source_id", int_arg),
    Param("from", "date_from", day_start),
    Param("to", "date_to", day_end),
    Param("mine", "claimed_by", mine),
    Param("local", "about_jurisdiction", flag),  # "Về địa bàn" (issue 11)
)


def parse_filters(args) -> QueueFilter:
    """The QueueFilter a query string asks for; a parameter not given keeps the field's default."""
    values = {param.field: param.parse(args, param.name) for param in FILTERS}
    return QueueFilter(**{field: value for field, value in values.items() if value is not None})


def parse_after(token: str | None) -> tuple[float, int] | None:
    """The keyset cursor "priority:id" of a `next` link; absent means the first page, malformed is a 400."""
    if not token:
        return None
    priority, _colon, item_id = token.rpartition(":")
    try:
        value, number = float(priority), to_int(item_id, "after")
    except (ValueError, BadParameter):
        value, number = math.nan, None
    if number is None or not math.isfinite(value):  # SQLite cannot order by nan, and inf is no page
        raise BadParameter("after", _("Parameter “after” must be the cursor of a “next” link (got “%(value)s”).",
                                      value=shown(token)))
    return value, number


def format_after(after: tuple[float, int] | None) -> str | None:
    """The `next` cursor of a page's last row (the inverse of parse_after); None on the last page."""
    return f"{after[0]!r}:{after[1]}" if after else None
