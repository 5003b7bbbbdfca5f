"""`monitor claims import FILE` and `monitor claims list`: the library of debunked claims (issue 11)."""

from __future__ import annotations

import argparse
import sys

from monitor.cli import count_argument, print_json


def register(subparsers) -> None:
    claims = subparsers.add_parser(
        "claims", help="the library of debunked claims: import, list",
        description="Claims already debunked (by fact-checkers, rebuttal sources or the committee's own "
                    "confirmed decisions). Every new item is matched against them; a match flags it.")
    sub = claims.add_subparsers(dest="claims_command", metavar="ACTION", required=True)
    p = sub.add_parser(
        "import", help="add claims from a CSV or JSONL file",
        description="Each row needs `claim` (the claim's text), `url` (the rebuttal, http or https) and "
                    "`verdict`; optional: `language` (vi, en, ...), `date` (ISO 8601 or dd/mm/yyyy), "
                    "`publisher`. Rows that cannot be read are listed with their line and field; the others "
                    "are imported. A claim already in the library (same text and url) is not added twice.")
    p.add_argument("file", help="path to a .csv or .jsonl file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_claims_import)
    p = sub.add_parser("list", help="the claims, newest first, with how many items repeated each")
    p.add_argument("--search", metavar="TEXT", help="only claims containing TEXT (tone marks and case ignored)")
    p.add_argument("--origin", choices=("decision", "claimreview", "rebuttal", "import"),
                   help="only claims from this origin")
    p.add_argument("--limit", type=count_argument, default=100, help="at most this many (default 100)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_claims_list)


def cmd_claims_import(args: argparse.Namespace) -> int:
    import db
    import db.known_claims
    from monitor.known_claims.files import NotClaimsFile, read_claims

    try:
        rows = read_claims(args.file)
    except FileNotFoundError:
        print(f"error: no such file: {args.file}", file=sys.stderr)
        return 2
    except NotClaimsFile as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    new, known = db.known_claims.add_many(db.connect(args.db), rows.claims) if rows.claims else (0, 0)
    if args.json:
        print_json({"rows": rows.rows, "new": new, "already_known": known, "errors": rows.errors})
    else:
        print(f"{args.file}: {rows.rows} rows, {new} new claims, {known} already known, "
              f"{len(rows.errors)} rejected")
        for error in rows.errors:
            print(f"  {error}", file=sys.stderr)
    return 1 if rows.errors and not rows.claims else 0


def cmd_claims_list(args: argparse.Namespace) -> int:
    import db
    import db.known_claims

    rows = db.known_claims.list_claims(db.connect(args.db), args.search, origin=args.origin, limit=args.limit)
    if args.json:
        print_json([{k: row[k] for k in ("id", "text", "verdict", "language", "claim_date", "url", "publisher",
                                         "origin", "item_id", "created_at", "matched_items")} for row in rows])
        return 0
    for row in rows:
        print(f"#{row['id']} [{row['origin']}] {row['verdict']}: {row['text'][:120]}\n"
              f"    {row['url'] or '(no rebuttal link)'}"
              f"{' · ' + row['publisher'] if row['publisher'] else ''} · {row['matched_items']} item(s) matched")
    if not rows:
        print("no claims" + (" matching the search" if args.search else ""))
    return 0
