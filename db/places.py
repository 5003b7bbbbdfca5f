"""The places an item mentions (issue 11, migration 067) and "about the jurisdiction".

Rows are written by ingest beside the item (monitor.pipeline.signals.record); codes are those of
classifiers.places ('p:<province>', 'c:<commune>'), with the province each unit lies in, so "an item
about province X" is one indexed look-up whether it named the province or a commune in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def record_places(conn: Any, item_id: int, places: Iterable[tuple[str, str, str]]) -> None:
    """Store an item's places, each (code, level, province_code); inside the transaction that stored it."""
    conn.executemany("INSERT INTO item_places (item_id, code, level, province_code) VALUES (?, ?, ?, ?)"
                     " ON CONFLICT DO NOTHING",
                     [(item_id, code, level, province) for code, level, province in places])


def item_places(conn: Any, item_id: int) -> list[dict[str, str]]:
    """An item's places for its page and the API: provinces first, then communes, by code."""
    rows = conn.execute("SELECT code, level, province_code FROM item_places WHERE item_id = ?"
                        " ORDER BY level DESC, code", (item_id,)).fetchall()
    return [{"code": code, "level": level, "province_code": province} for code, level, province in rows]


def remark_jurisdiction(conn: Any, codes: Iterable[str]) -> int:
    """Re-mark items.about_jurisdiction for every item after the jurisdiction changed (one UPDATE over
    item_places; only rows whose mark changes are written, and the priority trigger follows them).
    Returns the number of items whose mark changed. The mark is a 0/1 integer in both backends (a CASE:
    PostgreSQL's IN yields a boolean, which it does not store in an integer column)."""
    codes = sorted(set(codes))
    marks = ", ".join("?" * len(codes))
    about = (f"(CASE WHEN id IN (SELECT item_id FROM item_places WHERE code IN ({marks}) OR province_code"
             f" IN ({marks})) THEN 1 ELSE 0 END)" if codes else "0")
    cursor = conn.execute(f"UPDATE items SET about_jurisdiction = {about} WHERE about_jurisdiction != {about}",
                          [*codes, *codes, *codes, *codes])
    return cursor.rowcount
