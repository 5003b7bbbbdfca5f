"""`monitor spikes check|list`: evaluate the spike rules once (what the scheduler does every minute), and
list the spikes fired recently (monitor/spikes.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.cli import CliError, count_argument, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    spikes = subparsers.add_parser("spikes", help="check the spike rules now, list recent spikes",
                                   description="Spike rules (settings.spikes in feeds.yaml; defaults when absent) "
                                               "notice a story gaining many sources fast, or a watchlist rule or "
                                               "a place far above its usual hourly rate. `monitor run` checks "
                                               "them every minute.")
    spikes_sub = spikes.add_subparsers(dest="spikes_command", metavar="ACTION", required=True)
    p = spikes_sub.add_parser("check", help="evaluate the rules once and record what fires (idempotent)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_spikes_check)
    p = spikes_sub.add_parser("list", help="spikes fired recently, newest first")
    p.add_argument("--hours", type=count_argument, default=24 * 7, help="how far back (default 168: a week)")
    p.add_argument("--limit", type=count_argument, default=100, help="at most this many (default 100)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_spikes_list)


def _rules(feeds: str | None) -> list:
    """feeds.yaml's spike rules (the defaults without a feeds file); a file that does not validate is a
    one-line error naming its line."""
    from monitor.config import ConfigError, Settings, load

    if not feeds or not Path(feeds).exists():
        return Settings().spikes
    try:
        return load(feeds).settings.spikes
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _line(spike: dict) -> str:
    expected = f", usual {spike['expected']:g}/h" if spike.get("expected") is not None else ""
    title = f" — {spike['title']}" if spike.get("title") else ""
    return (f"{spike['fired_at']} {spike['rule']} ({spike['kind']}) {spike['subject']}: {spike['observed']:g}"
            f" since {spike['window_start']}{expected}, {spike['items']} items{title}")


def cmd_spikes_check(args: argparse.Namespace) -> int:
    import db
    from monitor.spikes import check

    rules = _rules(args.feeds)
    fired = check(db.connect(args.db), rules) if rules else []
    if args.json:
        print_json(fired)
    elif not rules:
        print("no spike rules (settings.spikes is empty)")
    else:
        for spike in fired:
            print(_line(spike))
        print(f"{len(fired)} spike(s) fired, {len(rules)} rule(s) checked")
    return 0


def cmd_spikes_list(args: argparse.Namespace) -> int:
    import db
    from monitor.spikes import recent

    rows = recent(db.connect(args.db), hours=args.hours, limit=args.limit)
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        print(_line(row))
    if not rows:
        print(f"no spikes in the last {args.hours} hours")
    return 0
