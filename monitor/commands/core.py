"""Core commands: init, users, crawl, status, classify, serve, run, demo.

Imports that only some commands need stay inside those commands: every command pays for what this
module imports at the top (the parser imports it to list the commands).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from monitor.cli import empty_file, host_name, port_number, print_json, read_password
from monitor.domain import ROLES

CLASSIFY_BATCH = 256  # lines scored per model call when input arrives faster than it is scored


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("init", help="create the database and the first admin",
                              description="Create (or migrate) the database and the first admin account; the "
                                          "only command that creates a database (it says where). The password "
                                          "comes from --password-stdin, MONITOR_ADMIN_PASSWORD or a prompt.")
    p.add_argument("--admin", required=True, metavar="NAME", help="name of the first admin")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.set_defaults(func=cmd_init, needs_db=False)

    users = subparsers.add_parser("users", help="manage user accounts")
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    p = users_sub.add_parser("add", help="add a user",
                             description="Add a user. The password comes from --password-stdin, MONITOR_PASSWORD "
                                         "or a prompt.")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.set_defaults(func=cmd_users_add)
    p = users_sub.add_parser("list", help="list users")
    p.set_defaults(func=cmd_users_list)

    p = subparsers.add_parser("crawl", help="one crawl pass over the sources",
                              description="Fetch every enabled source once, store new items, print a summary per "
                                          "source. A failing source never stops the others; exit code 1 only when "
                                          "every source failed, 2 when the configuration is invalid, --source names "
                                          "no source, or the database is missing, locked by another process or "
                                          "cannot be written.")
    p.add_argument("--source", metavar="NAME", help="crawl only this source")
    p.add_argument("--json", action="store_true", help="one JSON object per source")
    p.set_defaults(func=cmd_crawl)

    p = subparsers.add_parser("status", help="item counts and source health",
                              description="Item counts by status and category, and each source's health.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_status)

    p = subparsers.add_parser("classify", help="score texts from standard input",
                              description="Score texts read from stdin: one text per line (kind post), or JSONL "
                                          "objects with a 'text' field and an optional 'kind' (post, article or "
                                          "comment; default post). Prints one result per line, in batches as the "
                                          "input arrives; a bad line stops with an error naming it (exit 2), after "
                                          "the results of the batches before it.")
    p.add_argument("--json", action="store_true", help="print one JSON object per line")
    p.add_argument("--model", metavar="PATH", help="a .skops model file (default: the promoted/shipped model)")
    p.set_defaults(func=cmd_classify, needs_db=False)

    p = subparsers.add_parser("serve", help="the web UI only", description="Serve the web UI (no scheduler).")
    p.add_argument("--host", type=host_name, default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=8080)
    p.set_defaults(func=cmd_serve)

    p = subparsers.add_parser("run", help="scheduler and web UI in one process (the main job)",
                              description="Run the scheduler (every source on its interval) and the web UI in one "
                                          "process on the embedded SQLite database.")
    p.add_argument("--host", type=host_name, default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=8080)
    p.set_defaults(func=cmd_run)

    p = subparsers.add_parser("demo", help="run the main job against bundled sample feeds, offline",
                              description="Serve the bundled sample feeds (Vietnamese, English, French) on "
                                          "127.0.0.1, and run the main job against them with a demo database, so "
                                          "flagged items appear in the queue within a minute with no internet.")
    p.add_argument("--host", type=host_name, default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=8080)
    p.add_argument("--feed-port", type=port_number, default=0, help="port for the sample-feed server (default: any free)")
    p.set_defaults(func=cmd_demo, needs_db=False)  # its own database under the data directory


def load_config(args: argparse.Namespace) -> Any:
    from monitor import config

    return config.load(args.feeds)


def cmd_init(args: argparse.Namespace) -> int:
    """The one command that creates a database. A new database is created only once the password is in
    hand and the account rules accept it, so a missing, empty or refused password leaves no empty file."""
    import db
    from db.users import UserError, check_account, find_user

    path = args.db if db.is_url(args.db) else Path(args.db)
    shown = _shown(path)
    created = _is_new(path)
    if not created:
        database = db.connect(path)  # migrates an older schema
        try:
            if find_user(database, args.admin):
                _sync_models(database)
                print(f"database {shown} ready; user '{args.admin}' already exists")
                return 0
        finally:
            database.conn.close()
    password = read_password("MONITOR_ADMIN_PASSWORD", f"Password for admin '{args.admin}': ", args.password_stdin)
    try:
        check_account(args.admin, password, "admin")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    database = db.connect(path)
    try:
        _sync_models(database)
        return _create_admin(database, args.admin, password,
                             f"created the database {shown}" if created else f"database {shown} ready")
    finally:
        database.conn.close()


def _is_new(path: Path | str) -> bool:
    """No database yet: a missing or empty file (`touch monitor.db` becomes the database), or a PostgreSQL
    database whose schema was never made (the server's database itself is made by its administrator)."""

    if isinstance(path, str):
        from db import postgres

        database = postgres.connect(path, migrate_schema=False)
        try:
            return not postgres.has_schema(database)
        finally:
            database.close()
    return not path.exists() or empty_file(path)


def _shown(path: Path | str) -> str:
    import db

    if isinstance(path, str) and db.is_url(path):
        from db.postgres import redacted

        return redacted(path)
    return os.path.abspath(path)


def _sync_models(database: Any) -> None:
    from monitor.scoring import sync_models_table

    sync_models_table(database)


def _create_admin(database: Any, name: str, password: str, where: str) -> int:
    from db.users import UserError, count_users, create_user

    try:
        create_user(database, None, name, password, "admin")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{where}; admin '{name}' created ({count_users(database)} users)")
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    import db
    from db.users import UserError, create_user

    password = read_password("MONITOR_PASSWORD", f"Password for '{args.name}': ", args.password_stdin)
    database = db.connect(args.db)
    try:
        create_user(database, None, args.name, password, args.role)  # recorded in user_changes (actor: CLI)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        database.conn.close()
    print(f"user '{args.name}' added as {args.role}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    import db
    from db.users import list_users

    database = db.connect(args.db)
    for row in list_users(database):
        print(f"{row['name']:<20} {row['role']:<10} {'active' if row['active'] else 'disabled':<9} {row['created_at']}")
    return 0


def cmd_crawl(args: argparse.Namespace) -> int:
    import db
    from monitor.config import ConfigError
    from monitor.crawl.crawler import crawl_sources
    from monitor.scoring import load_scorer

    try:
        config = load_config(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    database = db.connect(args.db)
    try:
        with _beating_on_postgresql(args.db):
            results = crawl_sources(database, config, load_scorer(), only=args.source)
    except KeyError as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    for result in results:
        if args.json:
            print_json(result.to_dict())
        else:
            line = f"{result.source}: {result.status}, new {result.new}, seen {result.seen}"
            if result.error:
                line += f", error: {result.error}"
            print(line)
    if not args.json:
        failed = sum(r.status == "error" for r in results)
        print(f"{len(results)} sources, {sum(r.new for r in results)} new items, {failed} failed")
    if results and all(r.status == "error" for r in results):
        return 1
    return 0


def _beating_on_postgresql(target: str):
    """On PostgreSQL a `monitor crawl` beats like a worker while it runs, so the active scheduler does not take
    its open crawl runs for a dead process's and close them as interrupted; on SQLite the file lock does that."""
    import contextlib

    import db

    if not db.is_url(target):
        return contextlib.nullcontext()
    from monitor.distributed.worker import heartbeat

    return heartbeat(target, kind="crawl")


def delivery_line(summary: dict) -> str:
    """The last week's report e-mail in one line: "2026-W49: 3 sent, 1 retrying (next …); last error: …"."""
    counts = {status: n for status, n in summary["counts"].items() if n}
    text = f"{summary['week']}: " + ", ".join(f"{n} {'retrying' if status == 'pending' else status}"
                                              for status, n in counts.items())
    if summary.get("next_attempt_at"):
        text += f" (next attempt {summary['next_attempt_at']})"
    if summary.get("last_error") and set(counts) - {"sent"}:
        text += f"; last error: {summary['last_error'][:120]}"
    if counts.get("failed") or counts.get("uncertain"):
        text += "; see `monitor deliveries`"
    return text


def alerts_line(summary: dict) -> str:
    """The last day's alerts in one line: "4 sent, 1 retrying (next …); last error: …; see /alerts/"."""
    counts = {status: n for status, n in summary["counts"].items() if n}
    text = ", ".join(f"{n} {'waiting' if status == 'pending' else status}" for status, n in counts.items())
    if summary.get("next_attempt_at"):
        text += f" (next retry {summary['next_attempt_at']})"
    if summary.get("last_error"):
        text += f"; last error: {summary['last_error'][:120]}"
    if counts.get("failed") or counts.get("uncertain"):
        text += "; see the alerts log (/alerts/)"
    return text


def cmd_status(args: argparse.Namespace) -> int:
    import db
    from monitor.status import status_report

    report = status_report(db.connect(args.db))
    if args.json:
        print_json(report)
        return 0
    print("Items by status: " + (", ".join(f"{k} {v}" for k, v in sorted(report["items"].items())) or "none"))
    print("Flagged by category: "
          + (", ".join(f"{k} {v}" for k, v in sorted(report["flagged_by_category"].items())) or "none"))
    scheduler = report["scheduler"]
    age = scheduler.get("heartbeat_age")
    print("Scheduler: " + ("not running (no heartbeat)" if age is None else
                           f"running, heartbeat {age:.0f} s ago" if scheduler.get("healthy") else
                           f"stopped or stalled: last heartbeat {age:.0f} s ago"))
    if report["storage"]:
        print(f"Storage: {report['storage']['error']}; crawling backs off until writes succeed again")
    if report["report_delivery"]:
        print("Report e-mail: " + delivery_line(report["report_delivery"]))
    if report["alerts"]:
        print("Alerts (24 h): " + alerts_line(report["alerts"]))
    print()
    print(f"{'source':<32} {'state':<9} {'items':>6} {'24h':>5} {'last success':<21} {'fails':>5}  last error")
    for s in report["sources"]:
        print(f"{s['name'][:32]:<32} {s['state']:<9} {s['items_total']:>6} {s['items_24h']:>5} "
              f"{s.get('last_success_at') or '-':<21} {s.get('consecutive_failures', 0):>5}  "
              f"{(s.get('last_error') or '')[:80]}")
    return 0


def _input_waiting(stream: TextIO) -> bool:
    """True when more input can be read at once. A batch is scored as soon as the producer pauses,
    so a slow producer (or someone typing) gets each answer without waiting for a full batch; small
    batches happen only while the producer is the slower side, so they cost no throughput."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # in-memory input (tests): all of it is there
        return True
    return bool(select.select([fd], [], [], 0)[0])


def _line_batches(stream: TextIO, size: int, first: int = 8) -> Iterator[list[tuple[int, str]]]:
    """(line number, line) pairs in batches of at most `size`, each handed on when full or when no
    more input is waiting: the first results print while a long input is still being read. Batches
    start at `first` lines and double: posts the second stage re-scores cost ~0.2 s each, so a first
    batch of 256 would keep the first line waiting for most of a minute."""
    batch: list[tuple[int, str]] = []
    limit = min(first, size)
    for number, line in enumerate(stream, start=1):
        batch.append((number, line))
        if len(batch) >= limit or not _input_waiting(stream):
            yield batch
            batch, limit = [], min(limit * 2, size)
    if batch:
        yield batch


def _read_texts(lines: Iterable[tuple[int, str]]) -> list[tuple[str, str]]:
    """(text, kind) for each non-blank line: a JSONL object with 'text' and an optional 'kind', or
    plain text (kind post). ValueError naming the stdin line (and field) on the first bad line."""
    from classifiers.model import DEFAULT_KIND, KINDS

    texts = []
    for number, raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        if not line.lstrip().startswith("{"):
            texts.append((line, DEFAULT_KIND))
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"stdin line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise ValueError(f"stdin line {number}: JSON object has no 'text' string field")
        kind = record.get("kind", DEFAULT_KIND)
        if kind not in KINDS:
            raise ValueError(f"stdin line {number}: field 'kind': unknown kind {json.dumps(kind, ensure_ascii=False)}"
                             f" (expected one of: {', '.join(KINDS)})")
        texts.append((record["text"], kind))
    return texts


def _result_line(text: str, kind: str, scores: Any, as_json: bool) -> str:
    """One output line: the JSON object (text, kind and every score field), or the short summary."""
    if as_json:
        return json.dumps({"text": text, **scores.to_dict(), "kind": kind}, ensure_ascii=False, default=str)

    def term(entry: Any) -> str:  # {"term", "contribution"} (current models) or a bare string
        return str(entry["term"]) if isinstance(entry, dict) else str(entry)

    flags = ",".join(scores.flagged) or "-"
    terms = "; ".join(f"{cat}: {', '.join(term(w) for w in words[:5])}"
                      for cat, words in scores.explanations.items() if words)
    rules = "; ".join(f"rule {hit['rule']}" for hit in scores.rule_hits)
    return (f"misinformation={scores.misinformation:.3f} harm={scores.harm:.3f} flagged={flags}"
            f"{' | ' + terms if terms else ''}{' | ' + rules if rules else ''}")


def _load_classifier(model_path: str | None) -> Any:
    """The model to score with; a file that cannot be read or is refused is a one-line error."""
    from monitor.scoring import load_scorer

    try:
        return load_scorer(model_path)
    except FileNotFoundError as exc:
        raise ValueError(f"no such model file: {exc.filename or model_path}") from None
    except (OSError, ValueError) as exc:  # UntrustedModelError (refused or damaged file) is a ValueError
        raise ValueError(f"cannot load the model: {exc}") from None


def cmd_classify(args: argparse.Namespace) -> int:
    """Score stdin batch by batch, printing and flushing each batch's results before reading on. The
    model is loaded at the first good batch, so a bad first line costs no model load."""
    from monitor.scoring import score_texts

    scorer = None
    try:
        for batch in _line_batches(sys.stdin, CLASSIFY_BATCH):
            records = _read_texts(batch)
            if not records:
                continue
            if scorer is None:
                scorer = _load_classifier(args.model)
            texts, kinds = [text for text, _ in records], [kind for _, kind in records]
            for (text, kind), scores in zip(records, score_texts(scorer, texts, kinds), strict=True):
                print(_result_line(text, kind, scores, args.json))
            sys.stdout.flush()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from monitor.service import run

    return run(args.db, args.feeds, args.host, args.port, start_scheduler=False)


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.service import run

    return run(args.db, args.feeds, args.host, args.port, start_scheduler=True)


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    return run_demo(args)
