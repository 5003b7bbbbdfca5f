"""Logging for an unattended service: plain or one JSON object per line, optionally to a rotated file.

Log calls pass ids as `extra=` (`log.info("stored item", extra={"source": name, "item_id": 42})`);
the JSON formatter puts every such field on the line, so `jq 'select(.source == "vnexpress")'`
answers "what happened to this source" without parsing prose.

Environment: MONITOR_LOG_FILE (path; rotated), MONITOR_LOG_MAX_BYTES (default 10 MB),
MONITOR_LOG_BACKUPS (default 5), MONITOR_LOG_JSON=1, MONITOR_LOG_LEVEL.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """Human-readable lines that still show the extra fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")]
        if extras:
            head, _, tail = line.partition("\n")
            line = head + " " + " ".join(extras) + (("\n" + tail) if tail else "")
        return line


def configure(level: str = "WARNING", json_lines: bool = False, file: str | Path | None = None,
              max_bytes: int | None = None, backups: int | None = None) -> logging.Handler:
    """Install one handler on the root logger (replacing earlier ones from this function)."""
    file = file or os.environ.get("MONITOR_LOG_FILE") or None
    json_lines = json_lines or os.environ.get("MONITOR_LOG_JSON") == "1"
    if file:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            file, maxBytes=max_bytes or int(os.environ.get("MONITOR_LOG_MAX_BYTES", 10 * 1024 * 1024)),
            backupCount=backups if backups is not None else int(os.environ.get("MONITOR_LOG_BACKUPS", 5)),
            encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter())
    handler._monitor = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_monitor", False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(str(level).upper())
    # Chatty libraries stay at WARNING unless asked for DEBUG.
    if str(level).upper() != "DEBUG":
        for name in ("apscheduler", "httpx", "httpcore", "waitress"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return handler
