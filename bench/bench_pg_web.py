"""Queue, item and search page p95 at 1,000,000 items: PostgreSQL next to SQLite, in one run (issue 14 §5).

The SQLite database is bench_web_data's (built once, ~1M items, half flagged). The same rows are copied into
a throw-away PostgreSQL cluster (tests/pg.py: initdb in a temporary folder, removed afterwards) by the code
`monitor migrate-to-postgres` uses, then bench_web.measure runs the same request mix on both, alternating
SQLite, PostgreSQL, SQLite, PostgreSQL so the machine's noise falls on both sides.

Run: python bench/bench_pg_web.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_web import measure, p  # noqa: E402
from bench_web_data import ensure_db  # noqa: E402

import db  # noqa: E402
from db import transfer  # noqa: E402
from tests import pg  # noqa: E402

TARGETS = {"queue": 100.0, "item": 100.0, "search": 300.0}  # ms, the SQLite figures' targets (bench_web.py)


def _copy_into_postgres(sqlite_path: Path, server: pg.Server) -> str:
    url = server.create_database()
    started = time.perf_counter()
    source = db.connect(sqlite_path, readonly=True)
    target = db.connect(url)
    report = transfer.copy_all(source.conn, target)
    target.conn.execute("ANALYZE")
    target.close()
    print(f"copied {sum(report.rows.values()):,} rows and {report.search_entries:,} search entries into "
          f"PostgreSQL in {time.perf_counter() - started:.0f} s", flush=True)
    return url


def main() -> int:
    sqlite_path = ensure_db()
    server = pg.start()
    try:
        url = _copy_into_postgres(sqlite_path, server)
        times: dict[str, dict[str, list[float]]] = {"sqlite": {}, "postgresql": {}}
        for _round in range(2):
            for backend, target in (("sqlite", str(sqlite_path)), ("postgresql", url)):
                for page, values in measure(target).items():
                    times[backend].setdefault(page, []).extend(values)
    finally:
        server.stop()
    for page, target_ms in TARGETS.items():
        lite, post = times["sqlite"][page], times["postgresql"][page]
        print(f"FIGURE {page} page p95 at 1M items: PostgreSQL {p(post, 0.95):.1f} ms, SQLite {p(lite, 0.95):.1f} ms "
              f"(ratio {p(post, 0.95) / p(lite, 0.95):.2f}; p50 {p(post, 0.5):.1f} / {p(lite, 0.5):.1f} ms; "
              f"n={len(post)}) (target: <= {target_ms:.0f} ms on both)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
