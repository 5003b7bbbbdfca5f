"""`monitor audit verify` and `monitor audit export`: check and hand over the decision log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="verify or export the decision log",
                                  description="The decision log is append-only and hash-chained.")
    sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    p = sub.add_parser("verify", help="check the hash chain",
                       description="Recompute every decision's hash; exit 1 and list the rows if any was edited, "
                                   "inserted or deleted.")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("export", help="export the log as CSV or JSON Lines",
                       description="Export decisions (oldest first, with their hashes) to a file or stdout.")
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--out", metavar="PATH", help="output file (default: stdout)")
    p.add_argument("--user", help="only this user's decisions")
    p.add_argument("--action", help="only this action")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="from this UTC date (inclusive)")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="to this UTC date (exclusive)")
    p.set_defaults(func=cmd_export)


def cmd_verify(args: argparse.Namespace) -> int:
    import db
    from db.decisions import verify_chain

    database = db.connect(args.db)
    try:
        count = database.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
        problems = verify_chain(database)
    finally:
        database.conn.close()
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"audit log BROKEN: {len(problems)} problem(s) in {count} decision(s)")
        return 1
    print(f"audit log OK: {count} decision(s), hash chain intact")
    return 0


def _day(value: str | None, flag: str) -> str | None:
    if not value:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(value).strftime("%Y-%m-%dT00:00:00Z")
    except ValueError:
        raise SystemExit(f"error: {flag} must be YYYY-MM-DD, got '{value}'") from None


def cmd_export(args: argparse.Namespace) -> int:
    import db
    from db.audit import AuditFilter, export

    filters = AuditFilter(user=args.user, action=args.action, date_from=_day(args.since, "--since"),
                          date_to=_day(args.until, "--until"))
    database = db.connect(args.db)
    try:
        text = export(database, filters, args.format)
    finally:
        database.conn.close()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
