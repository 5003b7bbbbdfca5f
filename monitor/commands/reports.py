"""`monitor report`: build a weekly, quarterly or custom-range report and write it in one format.

Nothing of monitor.reports is imported until the command runs: the package pulls in the database
layer, and every other command (`monitor classify` above all) would pay for it at start-up.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.config import ReportSettings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="write the weekly/quarterly report (html, xlsx, csv, json, pdf, docx)",
        description="Build the report for one period and write it. Periods are local calendar days in "
                    "the report zone (default Asia/Ho_Chi_Minh). Without a period, the previous full ISO week. "
                    "CSV writes the items and decisions of the period, plus <stem>.figures.csv with every figure. "
                    "DOCX is the administrative document (Nghị định 30/2020/NĐ-CP) to number, sign and send "
                    "upward; its issuing body, place, signer and recipients come from feeds.yaml's "
                    "settings: report: (placeholders where absent).")
    period = p.add_argument_group("period (one of)")
    period.add_argument("--week", metavar="YYYY-Www", help="ISO week, e.g. 2026-W47 (Monday–Sunday)")
    period.add_argument("--quarter", metavar="YYYY-Qn", help="calendar quarter, e.g. 2026-Q4")
    period.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first day of a custom range")
    period.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day of a custom range (inclusive)")
    p.add_argument("--format", default="html", metavar="FORMAT",
                   help="output format: html (default), xlsx, csv, json, pdf or docx")
    p.add_argument("--out", metavar="PATH",
                   help="output file (default report-<period>.<format> in the current directory)")
    p.add_argument("--redact", action="store_true",
                   help="replace phone numbers, e-mail addresses and citizen ID numbers (CCCD/CMND) in the output")
    p.add_argument("--zone", default=None, help="time zone of the calendar days (default Asia/Ho_Chi_Minh)")
    p.add_argument("--lang", default="vi", metavar="LANG",
                   help="language of the report's words, numbers and dates: vi (default) or en")
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser(
        "deliveries", help="the weekly report's e-mails: who got which week, what failed; --retry ID",
        description="The weekly report's e-mail deliveries (settings: report: recipients, smtp:), newest week "
                    "first. A week goes to each address at most once; a failure the server reported is retried "
                    "by the scheduler with a growing delay, up to smtp.max_attempts. 'failed' (attempts used up, "
                    "or refused for good) and 'uncertain' (the connection broke while the message was handed "
                    "over, so it may have arrived) are only sent again with --retry.")
    p.add_argument("--week", metavar="YYYY-Www", help="only this ISO week")
    p.add_argument("--retry", type=int, metavar="ID",
                   help="send this failed or uncertain delivery again (the running scheduler sends it within "
                        "5 minutes)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_deliveries)


def cmd_report(args: argparse.Namespace) -> int:
    import time

    import db
    from monitor.cli import CliError
    from monitor.domain import DEFAULT_TIMEZONE
    from monitor.reports.build import build_report
    from monitor.reports.period import LONG_PERIOD_DAYS, PeriodError, parse_period
    from monitor.reports.render import FORMATS, output_problem, write_report
    from vocab.i18n import LANGUAGES

    if args.format not in FORMATS:
        print(f"error: unknown format '{args.format}' (expected one of: {', '.join(FORMATS)})", file=sys.stderr)
        return 2
    if args.lang not in LANGUAGES:
        print(f"error: --lang: unknown language '{args.lang}' (expected one of: {', '.join(LANGUAGES)})",
              file=sys.stderr)
        return 2
    try:
        period = parse_period(args.week, args.quarter, args.date_from, args.date_to, zone=args.zone or DEFAULT_TIMEZONE)
    except PeriodError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(f"report-{period.label.replace('..', '_')}.{args.format}")
    problem = output_problem(out, args.format, args.db)
    if problem:
        raise CliError(f"--out {out}: {problem}")
    settings = _report_settings(args.feeds) if args.format == "docx" else None
    database = db.connect(args.db)  # that it exists was checked before the command ran (cli.require_database)
    started = time.monotonic()
    long = period.day_count > LONG_PERIOD_DAYS
    if long:
        print(_long_period_note(database, period, args.format), file=sys.stderr)
    report = build_report(database, period, redact=args.redact, lang=args.lang)
    for path in write_report(report, args.format, out, settings=settings):
        print(f"wrote {path}")
    if long:
        print(f"took {_duration(time.monotonic() - started)}", file=sys.stderr)
    if report.empty:
        print(f"note: {report.notes[0]}")
    return 0


def _report_settings(feeds: str | None) -> ReportSettings:
    """feeds.yaml's `settings: report:` for the DOCX (defaults, i.e. placeholders, without a feeds file). A feeds
    file that does not validate is a one-line error naming its line, not a document with placeholders."""
    from monitor.cli import CliError
    from monitor.config import ConfigError, ReportSettings, load

    if not feeds or not Path(feeds).exists():
        return ReportSettings()
    try:
        return load(feeds).settings.report
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _long_period_note(database, period, fmt: str) -> str:
    """Before a long report starts: its size and roughly how long it will take, so an analyst can choose."""
    from monitor.reports.build import items_scanned
    from monitor.reports.render import estimate_seconds

    items = items_scanned(database, period)
    seconds = estimate_seconds(items, period.day_count, fmt)
    return (f"note: {period.label} is {period.day_count:,} days with {items:,} items to read (this period and the "
            f"one before); the {fmt} report has a row{' and a chart bar' if fmt in ('html', 'pdf', 'docx') else ''} per "
            f"day and takes roughly {_duration(seconds)} to write")


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def cmd_deliveries(args: argparse.Namespace) -> int:
    import db
    from db.deliveries import deliveries, retry
    from monitor.cli import CliError, print_json

    week = _delivery_week(args.week)
    if args.retry is not None and not 0 < args.retry < 2**63:  # beyond SQLite's integers: no such row
        raise CliError(f"--retry {args.retry}: not a delivery id (see `monitor deliveries`)")
    database = db.connect(args.db)
    if args.retry is not None:
        if not retry(database, args.retry):
            raise CliError(f"--retry {args.retry}: no failed or uncertain delivery with that id "
                           "(see `monitor deliveries`)")
        print(f"delivery {args.retry} queued again; the scheduler sends it within 5 minutes")
        return 0
    rows = deliveries(database, week)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no report e-mails yet" + (f" for {week}" if week else ""))
        return 0
    print(f"{'id':>5} {'week':<9} {'recipient':<36} {'status':<9} {'tries':>5}  sent at / next attempt / last error")
    for row in rows:
        detail = row["sent_at"] if row["status"] == "sent" else " ".join(
            filter(None, [row["next_attempt_at"] and f"next {row['next_attempt_at']}", row["last_error"]]))
        print(f"{row['id']:>5} {row['week']:<9} {row['recipient'][:36]:<36} {row['status']:<9} {row['attempts']:>5}"
              f"  {(detail or '')[:100]}")
    return 0


def _delivery_week(text: str | None) -> str | None:
    """--week as the label the deliveries are stored under ("2026-w9" → "2026-W09"); a week that cannot exist is
    a one-line error, not an empty listing that reads as "nothing was sent that week"."""
    from monitor.cli import CliError
    from monitor.reports.period import PeriodError, iso_week

    if text is None:
        return None
    try:
        return iso_week(text).label
    except PeriodError as exc:
        raise CliError(f"--week: {exc}") from None
