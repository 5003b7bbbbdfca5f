"""The `monitor` command: thin wiring of config, database, crawler, classifier, web and reports.

Each area adds its sub-commands from its own module (`monitor/commands/*.py`, registered in
`build_parser`) so this file stays a table of contents rather than a second implementation.
"""

from __future__ import annotations

import argparse
import errno
import getpass
import ipaddress
import json
import logging
import os
import shlex
import signal
import sqlite3
import sys
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

from monitor import __version__
from monitor.logs import configure

EXIT_USAGE = 2  # usage and environment errors: a bad option, a missing database, a busy database, a full disk

log = logging.getLogger("monitor.cli")


class CliError(Exception):
    """A usage or environment error a command cannot go on with: main() prints it as one line, exit 2."""


def default_data_dir() -> Path:
    """$MONITOR_HOME, else $XDG_DATA_HOME/vi-misinfo-monitor, else ~/.local/share/vi-misinfo-monitor."""
    if os.environ.get("MONITOR_HOME"):
        return Path(os.environ["MONITOR_HOME"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "vi-misinfo-monitor"


def default_db() -> str:
    return os.environ.get("MONITOR_DB") or str(default_data_dir() / "monitor.db")


def default_feeds() -> str:
    return os.environ.get("MONITOR_FEEDS") or "feeds.yaml"


def read_password(env_name: str, prompt: str, from_stdin: bool = False) -> str:
    """The password from one line of stdin (--password-stdin), else the environment variable, else asked
    twice on the terminal. Only the line break is stripped: spaces may be part of a password."""
    if from_stdin:
        value = _stdin_line("--password-stdin").rstrip("\r\n")
        if not value:
            raise CliError("--password-stdin: the first line of standard input is empty; pipe the password, "
                           "e.g. `printf '%s\\n' \"$PASSWORD\" | monitor ... --password-stdin`")
        return value
    value = os.environ.get(env_name)
    if value:
        try:
            value.encode("utf-8")  # bytes that are not UTF-8 arrive as lone surrogates
        except UnicodeEncodeError:
            raise CliError(f"{env_name} is not UTF-8 text") from None
        return value
    if not sys.stdin.isatty():
        raise CliError(f"no password: set {env_name}, pipe it with --password-stdin, or run in a terminal to be "
                       "asked for it")
    first = getpass.getpass(prompt)
    if first != getpass.getpass("Repeat: "):
        raise CliError("the passwords differ")
    return first


def _stdin_line(option: str) -> str:
    """The first line of standard input as UTF-8 text, or a CliError naming `option`.

    Under the C and C.UTF-8 locales Python decodes stdin with surrogateescape: bytes that are not UTF-8
    arrive as lone surrogates instead of raising, so the text is also checked by encoding it back.
    """
    try:
        line = sys.stdin.readline()
        line.encode("utf-8")
    except UnicodeError:
        raise CliError(f"{option}: standard input is not UTF-8 text") from None
    except (AttributeError, OSError, ValueError):  # sys.stdin is None (fd 0 closed), or the file is closed
        raise CliError(f"{option}: standard input is closed; pipe the password into it") from None
    return line


def require_database(path: str) -> None:
    """Only `monitor init` creates a database: every other command stops on a missing file, so a mistyped
    --db or MONITOR_DB is an error instead of a new, empty database that answers "none". An empty file
    is no database either (SQLite would quietly make one in it): `touch`ed, or the wrong file.
    On PostgreSQL the same holds for a database that `monitor init` has not set up (no schema yet)."""
    import db

    if db.is_url(path):
        _require_postgres_schema(path)
        return
    if not Path(path).exists():
        raise CliError(f"no database at {path}; create it with `monitor init --db {shlex.quote(path)} --admin NAME`"
                       " (or check --db / MONITOR_DB)")
    if empty_file(path):
        raise CliError(f"{path} is an empty file (0 bytes), not a database made by `monitor init`; create one "
                       f"with `monitor init --db {shlex.quote(path)} --admin NAME` (or check --db / MONITOR_DB)")


def _require_postgres_schema(url: str) -> None:
    import db
    from db import postgres

    database = postgres.connect(url, migrate_schema=False)
    try:
        made = db.schema_version(database) if postgres.has_schema(database) else 0
    finally:
        database.close()
    if not made:
        shown = postgres.redacted(url)
        raise CliError(f"the PostgreSQL database {shown} has no monitor schema yet; create it with "
                       f"`monitor init --db {shlex.quote(shown)} --admin NAME` (or check --db / MONITOR_DB)")


def empty_file(path: str | Path) -> bool:
    """True for a regular file of 0 bytes with no write-ahead log holding its first pages."""
    file, wal = Path(path), Path(f"{path}-wal")
    return file.is_file() and file.stat().st_size == 0 and not (wal.is_file() and wal.stat().st_size > 0)


def port_number(text: str) -> int:
    """argparse type of --port: 1 to 65535, or 0 for any free port (the server prints the one it got).
    A plain int would pass 99999 on, and the socket layer would quietly listen on 99999 - 65536."""
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535, or 0 for any free port)")
    return number


def count_argument(text: str) -> int:
    """argparse type of a count option (--limit, --hours): a whole number from 1 to 1,000,000. A plain int
    passes 0, negatives and integers past 64 bits, which SQLite then refuses with a traceback."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"must be from 1 to 1000000, got {value}")
    return value


def host_name(text: str) -> str:
    """argparse type of --host: an IP address, or a name (resolved when the server starts). Digits and dots,
    or a colon, mean an address, so 256.1.1.1 is refused here rather than looked up as a name."""
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError("empty; give an address such as 127.0.0.1, 0.0.0.0 or ::, or a host name")
    if ":" in text or text.replace(".", "").isdigit():
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None
    return text


def print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="Misinformation and harmful-content monitoring: crawl sources, score items, review, report.",
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument("--db", default=None, help="SQLite database path, or a postgresql://… URL (env MONITOR_DB; "
                        "default $MONITOR_HOME/monitor.db or ~/.local/share/vi-misinfo-monitor/monitor.db)")
    parser.add_argument("--feeds", default=None, help="sources file (env MONITOR_FEEDS; default ./feeds.yaml)")
    parser.add_argument("--log-level", default=None, metavar="LEVEL",
                        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (env MONITOR_LOG_LEVEL; default WARNING)")
    parser.add_argument("--log-json", action="store_true", default=os.environ.get("MONITOR_LOG_JSON") == "1",
                        help="log one JSON object per line (env MONITOR_LOG_JSON=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Imported here, not at the top: the command modules import their helpers from this module.
    from monitor.commands import audit, claims, core, crawl, distributed, migrate, models, ops, reports, spikes

    for commands in (core, crawl, distributed, models, reports, ops, migrate, audit, claims, spikes):  # `--help` order
        commands.register(subparsers)
    return parser


def log_level(args: argparse.Namespace) -> str:
    """--log-level, else MONITOR_LOG_LEVEL, else WARNING; a name logging does not know is a CliError
    naming where it came from (the option or the variable)."""
    given, origin = (args.log_level, "--log-level") if args.log_level else (
        os.environ.get("MONITOR_LOG_LEVEL"), "MONITOR_LOG_LEVEL")
    if not given:
        return "WARNING"
    if given.upper() not in logging.getLevelNamesMapping():
        raise CliError(f"{origin} {given!r}: unknown log level (expected one of DEBUG, INFO, WARNING, ERROR, "
                       "CRITICAL)")
    return given.upper()


def setup_logging(level: str, as_json: bool) -> None:
    """Configure the root logger once per command (text or JSON lines, see monitor/logs.py)."""
    configure(level=level, json_lines=as_json)


_SQLITE_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_NO_PERMISSION = {errno.EACCES, errno.EPERM}
# A path that names nothing usable (missing, a folder where a file was meant or the other way round, too
# long): a mistyped path, reported with its name. Without a name it could be anything, so it stays a bug.
_BAD_PATH = {errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG}


def environment_error(exc: BaseException, db_path: str) -> str | None:
    """The one-line message for an error the machine caused (the database busy or full, a full or
    read-only disk, a file not allowed, an unknown time zone); None for anything else, which is a bug
    and keeps its traceback. What counts as storage refusing writes is `monitor.storage`'s one rule."""
    from monitor import storage  # imported when needed: `monitor classify` starts without the database layers

    if storage.cannot_write(exc):
        if isinstance(exc, OSError):  # os.write() and friends know no path: then it is a file of this database
            where = exc.filename if exc.filename is not None else f"a file of the database {db_path}"
            return f"{storage.REASON} {where}: {exc.strerror or os.strerror(exc.errno)}"
        return storage.describe(db_path, exc)
    if isinstance(exc, sqlite3.DatabaseError):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # extended codes keep the primary in the low byte
        if code == sqlite3.SQLITE_NOTADB:
            return f"{db_path} is not a SQLite database ({exc}); check --db / MONITOR_DB"
        if not isinstance(exc, sqlite3.OperationalError):
            return None
        if code in _SQLITE_BUSY:
            import db

            return (f"the database {db_path} is locked by another process (waited {db.BUSY_TIMEOUT_MS / 1000:g} s "
                    "for it); try again when that process has finished")
        if code == sqlite3.SQLITE_CANTOPEN:
            return f"cannot use the database {db_path}: {exc}"
        return None
    if _is_postgres_error(exc):
        return _postgres_message(exc, db_path)
    if isinstance(exc, ZoneInfoNotFoundError):
        return f"{exc.args[0] if exc.args else exc} (expected a zone name such as Asia/Ho_Chi_Minh)"
    if isinstance(exc, OSError) and exc.errno in _NO_PERMISSION:
        reason = exc.strerror or os.strerror(exc.errno)
        if exc.filename is None:
            return f"not allowed to use a file: {reason} (database {db_path})"
        return f"not allowed to use {exc.filename}: {reason}"
    if isinstance(exc, OSError) and exc.errno in _BAD_PATH and exc.filename is not None:
        return f"cannot use {os.fsdecode(exc.filename)}: {exc.strerror or os.strerror(exc.errno)}"
    return None


def _is_postgres_error(exc: BaseException) -> bool:
    pg = sys.modules.get("psycopg")
    return pg is not None and isinstance(exc, pg.OperationalError)


def _postgres_message(exc: BaseException, url: str) -> str:
    """A server that cannot be reached, refuses the login, or gave up waiting for a lock: one line naming
    the database (without its password) and the server's own first line."""
    from db.postgres import redacted

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"cannot use the PostgreSQL database {redacted(url)}: {first}"


def _printable(text: str) -> str:
    """A message as one line: control characters (a newline in a file name or a value) shown escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def main(argv: list[str] | None = None) -> int:
    """Parse and run one command; callable in-process (tests) without touching process-wide signals.

    Usage and environment errors (CliError, and those environment_error() recognises) end as one line on
    stderr and exit code 2; the traceback of an environment error is logged at DEBUG (--log-level DEBUG).
    Any other exception is a bug and propagates with its traceback, so it is seen and reported.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    args.db = args.db or default_db()
    args.feeds = args.feeds or default_feeds()
    try:
        return _run(parser, args)
    except CliError as exc:
        message = str(exc)
    except (OSError, sqlite3.DatabaseError, ZoneInfoNotFoundError) as exc:
        message = environment_error(exc, args.db)
        if message is None:
            raise
        log.debug("environment error", exc_info=True)
    except Exception as exc:  # psycopg's errors, when a postgresql:// database was opened (db.DatabaseError)
        message = environment_error(exc, args.db) if _is_postgres_error(exc) else None
        if message is None:
            raise
        log.debug("environment error", exc_info=True)
    print(f"error: {_printable(message)}", file=sys.stderr)  # one line, whatever a path or value holds
    return EXIT_USAGE


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    setup_logging(log_level(args), args.log_json)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    if getattr(args, "needs_db", True):
        require_database(args.db)
    return int(args.func(args) or 0)


def console() -> None:
    """The `monitor` console script: like a Unix tool, end quietly when the reader of a pipe goes away.
    Process-wide settings go here, not in main() (which tests call in-process): the pipe signal, and
    the malloc arena cap (classifiers.heap), set before any thread starts."""
    from classifiers.heap import limit_arenas

    limit_arenas()
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `monitor status | head`
    sys.exit(main())


if __name__ == "__main__":
    # `python -m monitor.cli` runs this file as __main__, a second copy of the module: the commands raise
    # monitor.cli.CliError, which this copy's main() would not catch (a traceback for every usage error).
    from monitor.cli import console as _console

    _console()
