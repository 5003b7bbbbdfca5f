"""The `monitor` command: thin wiring of config, database, crawler, classifier, web and reports.

Each area adds its sub-commands from its own module (`monitor/commands/*.py`, listed in
COMMAND_MODULES) so this file stays a table of contents rather than a second implementation.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from monitor import __version__

COMMAND_MODULES = [
    "monitor.commands.core",
]
OPTIONAL_COMMAND_MODULES = [
    "monitor.commands.crawl",
    "monitor.commands.models",
    "monitor.commands.reports",
    "monitor.commands.ops",
    "monitor.commands.audit",
]


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


def read_password(env_name: str, prompt: str) -> str:
    """Password from an environment variable, else asked twice on the terminal."""
    value = os.environ.get(env_name)
    if value:
        return value
    if not sys.stdin.isatty():
        raise SystemExit(f"error: set {env_name} or run in a terminal to be asked for the password")
    first = getpass.getpass(prompt)
    if first != getpass.getpass("Repeat: "):
        raise SystemExit("error: the passwords differ")
    return first


def print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="Misinformation and harmful-content monitoring: crawl sources, score items, review, report.",
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument("--db", default=None, help="SQLite database path (env MONITOR_DB; default "
                        "$MONITOR_HOME/monitor.db or ~/.local/share/vi-misinfo-monitor/monitor.db)")
    parser.add_argument("--feeds", default=None, help="sources file (env MONITOR_FEEDS; default ./feeds.yaml)")
    parser.add_argument("--log-level", default=os.environ.get("MONITOR_LOG_LEVEL", "WARNING"),
                        help="log level (env MONITOR_LOG_LEVEL; default WARNING)")
    parser.add_argument("--log-json", action="store_true", default=os.environ.get("MONITOR_LOG_JSON") == "1",
                        help="log one JSON object per line (env MONITOR_LOG_JSON=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for name in OPTIONAL_COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def setup_logging(level: str, as_json: bool) -> None:
    try:
        from monitor.logs import configure
    except ImportError:
        logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
        return
    configure(level=level, json_lines=as_json)


def main(argv: list[str] | None = None) -> int:
    """Parse and run one command; callable in-process (tests) without touching process-wide signals."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.db = args.db or default_db()
    args.feeds = args.feeds or default_feeds()
    setup_logging(args.log_level, args.log_json)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


def console() -> None:
    """The `monitor` console script: like a Unix tool, end quietly when the reader of a pipe goes away."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `monitor status | head`
    sys.exit(main())


if __name__ == "__main__":
    console()
