"""Operations commands: `sources list|pause|resume`, `backup`, `restore`.

They work while `monitor run` is running (except restore): the scheduler reads pause state from
the database before each crawl, and notices a resume within seconds and polls that source at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.cli import CliError, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    sources = subparsers.add_parser("sources", help="list, pause and resume sources",
                                    description="Show each source's schedule and health; pause a source or resume "
                                                "one the crawler paused after repeated failures.")
    sources_sub = sources.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    p = sources_sub.add_parser("list", help="each source's state, failures, last success/error, next run")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_sources_list)
    p = sources_sub.add_parser("pause", help="stop polling a source until resumed")
    p.add_argument("name")
    p.set_defaults(func=cmd_sources_pause)
    p = sources_sub.add_parser("resume", help="poll a paused source again (failure count reset)")
    p.add_argument("name")
    p.set_defaults(func=cmd_sources_resume)

    p = subparsers.add_parser("backup", help="online backup of the database (SQLite backup API)",
                              description="Copy the live database consistently (safe while `monitor run` is "
                                          "running), verify it, and keep only the newest --keep copies.")
    p.add_argument("--dir", help="backup folder (default: settings.backups_dir, else <data dir>/backups)")
    p.add_argument("--keep", type=int, help="how many backups to keep (default: settings.backups_keep, 7)")
    p.set_defaults(func=cmd_backup)

    p = subparsers.add_parser("restore", help="replace the database with a backup (service stopped)",
                              description="Verify a backup and copy it over the database. Refuses while a "
                                          "`monitor run` holds the database; the current database is first "
                                          "saved beside it as <db>.before-restore-<time>.")
    p.add_argument("backup", help="backup file to restore")
    p.set_defaults(func=cmd_restore, needs_db=False)  # may recreate a lost database, in an existing folder


def _source_id(database, name: str) -> int | None:
    from db.sources import source_id

    return source_id(database, name)


def _unknown(database, name: str) -> int:
    from db.sources import source_names

    names = ", ".join(source_names(database)) or "none"
    print(f"error: no source named '{name}' in the database (sources: {names})", file=sys.stderr)
    return 1


def cmd_sources_list(args: argparse.Namespace) -> int:
    import db
    from monitor.crawl.health import sources_overview

    rows = sources_overview(db.connect(args.db))
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        line = (f"{row['name']}: {row['state']}, failures {row['consecutive_failures']}, "
                f"24h {row['items_24h']}, 7d {row['items_7d']}, "
                f"last success {row['last_success_at'] or '-'}, next run {row['next_run_at'] or '-'}")
        if row["last_error"] and row["state"] in ("failing", "paused"):
            line += f"\n    last error: {row['last_error']}"
        print(line)
    return 0


def cmd_sources_pause(args: argparse.Namespace) -> int:
    return _set_paused(args, True, f"paused; `monitor sources resume {args.name}` to poll it again")


def cmd_sources_resume(args: argparse.Namespace) -> int:
    return _set_paused(args, False, "resumed (failure count reset); a running scheduler polls it within seconds")


def _set_paused(args: argparse.Namespace, paused: bool, done: str) -> int:
    import db
    from db.sources import set_paused

    database = db.connect(args.db)
    source_id = _source_id(database, args.name)
    if source_id is None:
        return _unknown(database, args.name)
    set_paused(database, source_id, paused)
    print(f"{args.name}: {done}")
    return 0


def _settings(args: argparse.Namespace):
    from monitor.config import ConfigError, Settings, load

    try:
        return load(args.feeds).settings
    except ConfigError:
        return Settings()


def cmd_backup(args: argparse.Namespace) -> int:
    from monitor.backup import BackupError, backup, postgresql_refusal
    from monitor.schedule.housekeeping import backups_dir

    refusal = postgresql_refusal(args.db)
    if refusal is not None:  # before a backup folder is worked out from a URL, or made
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    settings = _settings(args)
    folder = Path(args.dir) if args.dir else backups_dir(settings, args.db)
    keep = args.keep if args.keep is not None else settings.backups_keep
    in_the_way = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if in_the_way is not None and not in_the_way.is_dir():  # the folder, or a folder it would be made in
        origin = "--dir" if args.dir else "the backup folder (settings.backups_dir)"
        raise CliError(f"{origin} {folder}: {in_the_way} is a file, not a folder; choose another folder")
    try:
        path = backup(args.db, folder, keep=keep)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from monitor.backup import BackupError, postgresql_refusal, restore
    from monitor.schedule.locks import SchedulerLock

    refusal = postgresql_refusal(args.db)
    if refusal is not None:  # before the lock file beside "the database" is made
        print(f"error: {refusal}", file=sys.stderr)
        return 1

    if not Path(args.backup).is_file():  # before the lock file beside the database is made
        raise CliError(f"{args.backup}: no such backup")
    if not Path(args.db).parent.is_dir():  # a lost database is restored in place; a mistyped folder is not made
        raise CliError(f"no folder {Path(args.db).parent} for the database {args.db}; check --db / MONITOR_DB")
    lock = SchedulerLock(args.db)
    if lock.is_held_elsewhere():
        print(f"error: a `monitor run` is using {args.db}; stop it (systemctl stop monitor) before restoring",
              file=sys.stderr)
        return 3
    try:
        with lock:
            saved = None
            if Path(args.db).exists():
                from monitor.backup import backup

                saved = backup(args.db, Path(args.db).parent, keep=10_000)
                saved = saved.rename(Path(f"{args.db}.before-restore-{saved.stem.rsplit('-', 1)[1]}"))
            restore(args.backup, args.db)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"restored {args.db} from {args.backup}" + (f" (previous database saved as {saved})" if saved else ""))
    return 0
