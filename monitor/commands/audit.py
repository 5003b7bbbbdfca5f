"""`monitor audit verify|checkpoint|rekey|export`: check, anchor and hand over the decision log."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="verify, anchor or export the decision log",
                                  description="The decision log is append-only, hash-chained under the audit key "
                                              "and anchored by signed checkpoints beside the database.")
    sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    p = sub.add_parser("verify", help="check the log against the audit key and the signed checkpoints",
                       description="Recompute every decision's keyed hash, check the signed checkpoints beside the "
                                   "database (rows deleted from the end, a wiped log), names at the time and items "
                                   "whose status contradicts the log, and re-hash every evidence capture's WARC "
                                   "file; exit 1 and list what is wrong.")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("checkpoint", help="sign the log's current head now",
                       description="Append a signed checkpoint (count, head, time) to <database>.audit-checkpoints"
                                   ".jsonl and the log; re-keys the decisions hashed the old way first if nothing "
                                   "was signed yet (after that, `monitor audit rekey` does, by hand).")
    p.set_defaults(func=cmd_checkpoint)
    p = sub.add_parser("rekey", help="anchor the decisions written before the keyed log (once, after upgrading)",
                       description="Verify the decisions hashed the old, unkeyed way (before migration 054) and "
                                   "anchor them with a signed re-key checkpoint; refuses, exit 1, if they fail, "
                                   "disagree with a signed checkpoint, or came after one (forged).")
    p.set_defaults(func=cmd_rekey)
    p = sub.add_parser("export", help="export the log as CSV or JSON Lines",
                       description="Export decisions (oldest first, with their hashes) to a file or stdout.")
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--out", metavar="PATH", help="output file (default: stdout)")
    p.add_argument("--user", help="only this user's decisions")
    p.add_argument("--action", help="only this action")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="from this UTC date (inclusive)")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="to this UTC date (exclusive)")
    p.set_defaults(func=cmd_export)


def _open(path: str):
    import db

    return db.connect(path)


def _error(message: str) -> int:
    """An environment error (the audit key cannot be read, the checkpoint file cannot be written): one line."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def cmd_verify(args: argparse.Namespace) -> int:
    from db.decisions import verify
    from monitor import evidence

    database = _open(args.db)
    try:
        report = verify(database)
        captures, evidence_problems = evidence.verify(database)
    finally:
        database.conn.close()
    for problem in evidence_problems:
        print(problem, file=sys.stderr)
    if evidence_problems:
        print(f"evidence BROKEN: {len(evidence_problems)} problem(s) in {captures} capture(s)")
    elif captures:
        print(f"evidence OK: {captures} capture(s) match their sha256")
    if report.problems:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        print(f"audit log BROKEN: {len(report.problems)} problem(s) in {report.decisions} decision(s)")
        return 1
    if evidence_problems:
        return 1
    legacy = f", {report.legacy} from before the keyed log anchored by its re-key checkpoint" if report.legacy else ""
    print(f"audit log OK: {report.decisions} decision(s), hash chain intact{legacy}, "
          f"{report.checkpoints} signed checkpoint(s) agree")
    return 0


def _print_refusal(refused) -> None:
    for problem in refused.problems:
        print(problem, file=sys.stderr)
    print("refusing to re-key: anchoring the decisions hashed the old way now could vouch for a tampered log "
          "(see `monitor audit verify`)", file=sys.stderr)


def _signing(args: argparse.Namespace, work: Callable[[Any], int]) -> int:
    """`work(database)` on the command's database, which it closes either way. The commands that sign
    (rekey, checkpoint) share their environment errors: an audit key that cannot be read, or a checkpoint
    file that cannot be written, ends as one line and exit 2."""
    from db.keys import KeyFileError

    database = _open(args.db)
    try:
        return work(database)
    except KeyFileError as error:
        return _error(str(error))
    except OSError as error:
        return _error(f"cannot write the checkpoint file: {error.strerror or error}")
    finally:
        database.conn.close()


def cmd_rekey(args: argparse.Namespace) -> int:
    return _signing(args, _rekey)


def _rekey(database) -> int:
    from db.checkpoints import path_for
    from db.decisions import RekeyRefused, rekey

    try:
        anchored = rekey(database)
    except RekeyRefused as refused:
        _print_refusal(refused)
        return 1
    if anchored is None:
        print("nothing to re-key: every decision is signed with the audit key")
    else:
        print(f"re-keyed at decision {anchored.n}: decisions 1–{anchored.n} verified the old way and anchored "
              f"(head {anchored.head[:16]}…) in {path_for(database)}")
    return 0


def cmd_checkpoint(args: argparse.Namespace) -> int:
    return _signing(args, _checkpoint)


def _checkpoint(database) -> int:
    """Re-key first when the log still starts the old way (refusing is exit 1 but still signs), then sign."""
    from db.checkpoints import path_for
    from db.decisions import DecisionError, RekeyRefused, checkpoint, rekey

    status = 0
    try:
        try:
            rekey(database, automatic=True)
        except RekeyRefused as refused:
            _print_refusal(refused)
            status = 1
        signed = checkpoint(database)
    except DecisionError as error:
        print(f"{error}", file=sys.stderr)
        return 1
    print(f"checkpoint: {signed.n} decision(s), head {signed.head[:16]}…, signed at {signed.at} in "
          f"{path_for(database)}")
    return status


def _day(value: str | None, flag: str) -> str | None:
    if not value:
        return None
    import datetime as dt

    from monitor.cli import CliError

    try:
        return dt.date.fromisoformat(value).strftime("%Y-%m-%dT00:00:00Z")
    except ValueError:
        raise CliError(f"{flag} must be a date YYYY-MM-DD, got {value!r}") from None


def cmd_export(args: argparse.Namespace) -> int:
    """The log to --out or stdout. The file is checked before the database is read, by the rule the
    report uses: an existing folder, no database file, nothing but a regular file (a usage error, exit 2)."""
    from db.audit import AuditFilter, export
    from monitor.cli import CliError
    from monitor.reports.render import output_problem

    filters = AuditFilter(user=args.user, action=args.action, date_from=_day(args.since, "--since"),
                          date_to=_day(args.until, "--until"))
    if args.out:
        problem = output_problem(Path(args.out), args.format, args.db, example="audit")
        if problem:
            raise CliError(f"--out {args.out}: {problem}")
    database = _open(args.db)
    try:
        text = export(database, filters, args.format)
    finally:
        database.conn.close()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
