"""`monitor migrate-to-postgres SQLITE_PATH POSTGRES_URL`: move an installation onto PostgreSQL.

The SQLite file is opened read-only and copied whole into an empty PostgreSQL database (db/transfer.py), in
one transaction. The decision log is then verified on PostgreSQL with the installation's audit key: the copy
is only reported done when the chain that verified on SQLite verifies there too. The audit key itself is not
copied into PostgreSQL (a secret never lives in the database it protects): the command says where to put it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from pathlib import Path

from monitor.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "migrate-to-postgres", help="copy a SQLite installation into an empty PostgreSQL database",
        description="Copy every table of the SQLite file (read only) into the PostgreSQL database, which must be "
                    "empty, in one transaction; then verify the decision log there with the installation's audit "
                    "key. Stop `monitor run` first so nothing is written during the copy.")
    p.add_argument("sqlite_path", metavar="SQLITE_PATH")
    p.add_argument("postgres_url", metavar="POSTGRES_URL")
    p.set_defaults(func=cmd_migrate_to_postgres, needs_db=False)


def cmd_migrate_to_postgres(args: argparse.Namespace) -> int:
    import db
    from db import keys, transfer
    from db.decisions import verify
    from db.postgres import redacted
    from monitor.schedule.locks import SchedulerLock

    source_path = Path(args.sqlite_path)
    if not source_path.is_file():
        raise CliError(f"{source_path}: no such SQLite database")
    if not db.is_url(args.postgres_url):
        raise CliError(f"{args.postgres_url!r} is not a PostgreSQL URL (postgresql://user@host/dbname)")
    if SchedulerLock(str(source_path)).is_held_elsewhere():
        raise CliError(f"a `monitor run` is using {source_path}; stop it before migrating")
    key = _audit_key_of(source_path)

    source = db.connect(source_path, readonly=True)
    target = db.connect(args.postgres_url)
    try:
        checkpoints_to = _checkpoint_files(source, target)
        report = transfer.copy_all(source.conn, target, progress=_progress)
        if checkpoints_to:
            shutil.copy2(*checkpoints_to)
        with _audit_key_set(key):  # verify signs nothing: it reads with the installation's key
            result = verify(target)
    except transfer.TransferError as exc:
        print(file=sys.stderr)  # end the progress line: the error is a line of its own
        raise CliError(f"nothing was copied: {exc}") from None
    except keys.KeyFileError as exc:
        raise CliError(str(exc)) from None
    finally:
        source.conn.close()
        target.close()
    print(f"\ncopied {sum(report.rows.values()):,} rows in {len(report.rows)} tables and "
          f"{report.search_entries:,} search entries into {redacted(args.postgres_url)}", file=sys.stderr)
    if result.problems:
        for problem in result.problems:
            print(f"audit: {problem}", file=sys.stderr)
        print("error: the decision log does not verify on PostgreSQL; keep using the SQLite file", file=sys.stderr)
        return 1
    print(f"decision log verified on PostgreSQL: {result.decisions} decisions. Give every process the audit key "
          f"of {source_path} as {keys.AUDIT_KEY_ENV} (or the file named by {keys.AUDIT_KEY_FILE_ENV}).")
    return 0


@contextlib.contextmanager
def _audit_key_set(key: str):
    from db import keys

    before = os.environ.get(keys.AUDIT_KEY_ENV)
    os.environ[keys.AUDIT_KEY_ENV] = key
    try:
        yield
    finally:
        if before is None:
            del os.environ[keys.AUDIT_KEY_ENV]
        else:
            os.environ[keys.AUDIT_KEY_ENV] = before


def _checkpoint_files(source, target) -> tuple[Path, Path] | None:
    """(SQLite's signed checkpoint file, where PostgreSQL's goes): the file that lets verify notice decisions
    deleted from the end of the log moves with the log. None when the installation has none yet."""
    from db import checkpoints

    there = checkpoints.path_for(target)  # a one-line KeyFileError without MONITOR_STATE_DIR
    here = checkpoints.path_for(source)
    if here is None or not here.exists():
        return None
    if there.exists():
        raise CliError(f"{there} exists already; move it away (it belongs to another installation) and run again")
    return here, there


def _audit_key_of(path: Path) -> str:
    """The SQLite installation's audit key: MONITOR_AUDIT_KEY if set, else the key file beside it."""
    from db import keys

    if os.environ.get(keys.AUDIT_KEY_ENV):
        return os.environ[keys.AUDIT_KEY_ENV]
    try:
        key = keys.secret_beside(Path(str(path) + keys.AUDIT_KEY_SUFFIX), what="audit key", create=False)
    except keys.KeyFileError as exc:
        raise CliError(str(exc)) from None
    if key is None:
        raise CliError(f"no audit key for {path}: neither {keys.AUDIT_KEY_ENV} nor {path}{keys.AUDIT_KEY_SUFFIX}; "
                       "without it the decision log cannot be verified after the copy")
    return key


def _progress(table: str, copied: int) -> None:
    print(f"\r{table}: {copied:,} rows", end="", file=sys.stderr, flush=True)
