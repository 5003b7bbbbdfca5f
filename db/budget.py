"""What the daily flag budget (monitor.pipeline.flag_budget) reads: recent score ranks and today's score flags.

Both come from one statement per ingest batch, inside the batch's write transaction, so the day's
count cannot move between reading it and storing the batch. The rank reads the covering index of
migration 053 (fetched_at, score_misinformation, score_harm) and never touches the rows; the count
reads items_report_scan (fetched_at, …, flag_reasons) and visits only the day's flagged rows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from db import dialect
from vocab import Category

# The categories a budget can govern: the ones with a score column. Column names come from this
# mapping only, never from input, so they are safe to place in the SQL text.
SCORE_COLUMNS = {Category.MISINFORMATION.value: "score_misinformation", Category.HARM.value: "score_harm"}


@dataclass(frozen=True)
class CategoryState:
    rank_score: float | None  # the rank-th highest score in the window; None when fewer items were scored
    flagged_today: int  # items of the local day flagged for the category by their score


def _rank_sql(column: str, since: str, offset: int) -> tuple[str, list[object]]:
    return (f"(SELECT {column} FROM items WHERE fetched_at >= ? AND {column} IS NOT NULL"
            f" ORDER BY {column} DESC LIMIT 1 OFFSET ?)", [since, offset])


def _flagged_sql(kind: str, category: str, column: str, day_start: str, day_end: str) -> tuple[str, list[object]]:
    """Items of the day whose flags include the category and whose score reached the threshold stored
    with them: flagged by score, whether or not a watchlist rule hit too. Rule-only flags score below
    their stored threshold, and items stored after the day's budget ran out carry an unreachable one.

    SQLite skips an explanation that is not JSON (json_valid); PostgreSQL 15 has no such test, and its
    cast fails on one — only a hand edit writes one, since every write of the service is json.dumps."""
    if kind == "postgresql":
        found, threshold = "strpos(flag_reasons, ?) > 0", f"CAST(explanation AS jsonb) #>> '{{thresholds,{category}}}'"
        condition = f"{column} >= CAST({threshold} AS DOUBLE PRECISION)"
        path: list[object] = []
    else:
        found, condition = "instr(flag_reasons, ?) > 0", f"json_valid(explanation) AND {column} >= json_extract(explanation, ?)"
        path = [f"$.thresholds.{category}"]
    return (f"(SELECT COUNT(*) FROM items WHERE fetched_at >= ? AND fetched_at < ?"
            f" AND flag_reasons <> '[]' AND {found} AND {condition})",
            [day_start, day_end, json.dumps(category), *path])


def budget_state(conn: sqlite3.Connection, categories: list[str], *, since: str, rank: int,
                 day_start: str, day_end: str) -> dict[str, CategoryState]:
    """Per category: the `rank`-th highest score among items fetched since `since`, and how many items
    fetched in [day_start, day_end) were flagged for it by score. Times are stored UTC text."""
    chosen = [c for c in categories if c in SCORE_COLUMNS]
    if not chosen:
        return {}
    parts, params = [], []
    for category in chosen:
        column = SCORE_COLUMNS[category]
        for sql, values in (_rank_sql(column, since, max(rank, 1) - 1),
                            _flagged_sql(dialect(conn), category, column, day_start, day_end)):
            parts.append(sql)
            params += values
    row = conn.execute("SELECT " + ", ".join(parts), params).fetchone()
    return {c: CategoryState(None if row[2 * i] is None else float(row[2 * i]), int(row[2 * i + 1]))
            for i, c in enumerate(chosen)}
