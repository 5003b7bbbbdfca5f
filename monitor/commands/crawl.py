"""Crawler commands: `monitor import FILE` (hand-collected posts, CSV or JSONL)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # commands import their dependencies when run: `monitor --help` stays fast
    from monitor.config import Settings


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import", help="import hand-collected posts from a CSV or JSONL file",
        description="Import posts collected by hand. Each row needs `text` (or `title`); optional columns: "
                    "url, author, time (ISO 8601 or dd/mm/yyyy HH:MM, in the --timezone when it has no zone), "
                    "source (rows are grouped into sources of that name), id. Rows that cannot be read are "
                    "listed with their line number; the others are imported.")
    p.add_argument("file", help="path to a .csv or .jsonl file")
    p.add_argument("--source", default="manual-import", metavar="NAME",
                   help="source name for rows without a `source` column (default: manual-import)")
    p.add_argument("--timezone", default=None, help="zone for times without one (default: Asia/Ho_Chi_Minh)")
    p.add_argument("--no-score", action="store_true", help="store without scoring (score later)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_import)


def _feeds_settings(feeds: str | None) -> Settings | None:
    """feeds.yaml's settings, so imported posts are flagged (daily budget) and placed (jurisdiction) like
    crawled ones; none when there is no feeds file (an import needs none). A feeds file that does not
    validate is an error, not "no settings": flags decided under the wrong rule would go unnoticed."""
    from pathlib import Path

    from monitor.config import load

    if not feeds or not Path(feeds).exists():
        return None
    return load(feeds).settings


def cmd_import(args: argparse.Namespace) -> int:
    import db
    from monitor.config import ConfigError
    from monitor.pipeline.flag_budget import from_settings
    from monitor.pipeline.intake import import_file
    from monitor.pipeline.signals import jurisdiction_of

    scorer, settings = None, None
    if not args.no_score:
        from monitor.scoring import load_scorer

        try:
            settings = _feeds_settings(args.feeds)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        scorer = load_scorer()
    try:
        result = import_file(db.connect(args.db), args.file, scorer, default_source=args.source,
                             timezone=args.timezone, flag_budget=from_settings(settings),
                             jurisdiction=jurisdiction_of(settings))
    except FileNotFoundError:
        print(f"error: no such file: {args.file}", file=sys.stderr)
        return 2
    except IsADirectoryError:
        print(f"error: {args.file} is a folder; give a .csv or .jsonl file", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(f"{args.file}: {result.rows} rows, {result.new} new, {result.seen} already known,"
              f" {result.flagged} flagged, {len(result.errors)} rejected")
        for error in result.errors:
            print(f"  {error}", file=sys.stderr)
    if result.rows and len(result.errors) == result.rows:
        return 1
    return 0
