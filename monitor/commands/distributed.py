"""Commands of the distributed crawl on PostgreSQL: worker, scheduler.

On SQLite `monitor run` crawls in its own threads and these commands refuse to start: the queue, the
shared politeness and the leader election need a PostgreSQL database (monitor.distributed).
"""

from __future__ import annotations

import argparse
import signal
import threading

from monitor.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("worker", help="crawl the sources the scheduler queues (PostgreSQL)",
                              description="Take crawl jobs from the queue the active scheduler fills and run them: "
                                          "fetch, parse, score and store, with per-host politeness shared with "
                                          "every other worker. Start any number, on any number of machines, with "
                                          "the same --db (a postgresql:// URL) and feeds file. SIGTERM lets the "
                                          "running crawls finish; a worker killed outright has its job done "
                                          "again by another.")
    p.add_argument("--concurrency", type=_positive, default=2, metavar="N",
                   help="crawls run at the same time by this worker (default 2)")
    p.set_defaults(func=cmd_worker)

    p = subparsers.add_parser("scheduler", help="the scheduler without the web UI (PostgreSQL)",
                              description="Queue each source's crawls on its schedule and run the housekeeping "
                                          "jobs, as `monitor run` does, without serving the web UI. Several may "
                                          "run: one is active, the others stand by and take over within seconds "
                                          "when it stops. Needs a postgresql:// --db.")
    p.set_defaults(func=cmd_scheduler)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _require_url(args: argparse.Namespace, command: str) -> str:
    import db

    if not db.is_url(args.db):
        raise CliError(f"`monitor {command}` needs a PostgreSQL database (--db postgresql://...); on SQLite "
                       "`monitor run` crawls in its own process")
    return str(args.db)


def _check_feeds(path: str) -> None:
    """Stop at start with one line on a bad feeds file, rather than in every job later."""
    from monitor import config

    try:
        config.load(path)
    except config.ConfigError as exc:
        raise CliError(f"configuration error: {exc}") from None


def cmd_worker(args: argparse.Namespace) -> int:
    from monitor.distributed.worker import run_worker

    url = _require_url(args, "worker")
    _check_feeds(args.feeds)
    return run_worker(url, args.feeds, args.concurrency)


def cmd_scheduler(args: argparse.Namespace) -> int:
    from monitor.distributed.leader import run_scheduler

    url = _require_url(args, "scheduler")
    _check_feeds(args.feeds)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_scheduler(url, args.feeds, stop, announce=lambda line: print(f"monitor: {line}", flush=True))
    print("monitor: stopped", flush=True)
    return 0
