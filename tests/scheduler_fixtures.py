"""Helpers for the scheduler / service / crash tests and the soak bench: generated feeds and a
subprocess running `monitor.service.run` that reports its web address."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]

WORDS = ("Tỉnh ủy Thanh Hóa họp bàn chuyển đổi số", "Nghệ An triển khai nền tảng an ninh mạng",
         "Ban chỉ đạo 35 cảnh báo thông tin sai lệch", "Người dân phản ánh giá điện tăng",
         "Provincial committee reviews digital transformation", "Le comité provincial examine la transformation")


def rss(channel: str, items: list[tuple[str, str]], *, ttl_minutes: int | None = None) -> bytes:
    """An RSS 2.0 document with (guid, title) items, newest first, each with a distinct body."""
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    parts = [f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{escape(channel)}</title>"
             f"<link>http://example.org/{escape(channel)}</link><description>test</description>"]
    if ttl_minutes:
        parts.append(f"<ttl>{ttl_minutes}</ttl>")
    for index, (guid, title) in enumerate(items):
        published = format_datetime(now - timedelta(minutes=index))
        parts.append(f"<item><guid isPermaLink='false'>{escape(guid)}</guid><title>{escape(title)}</title>"
                     f"<link>http://example.org/{escape(channel)}/{escape(guid)}</link>"
                     f"<description>{escape(title)} — bài số {escape(guid)} của {escape(channel)}.</description>"
                     f"<pubDate>{published}</pubDate></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def items_for(channel: str, numbers: range | list[int]) -> list[tuple[str, str]]:
    return [(f"{channel}-{n}", f"{WORDS[n % len(WORDS)]} ({channel} #{n})") for n in numbers]


def feeds_yaml(sources: list[dict], settings: dict | None = None) -> str:
    lines = ["settings:"]
    for key, value in {"host_delay": 0, "workers": 4, "max_failures": 5, "respect_robots": False,
                       **(settings or {})}.items():
        lines.append(f"  {key}: {json.dumps(value)}")
    lines.append("sources:")
    for source in sources:
        lines.append(f"  - name: {source['name']}")
        for key, value in source.items():
            if key != "name":
                lines.append(f"    {key}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"


class ServiceProcess:
    """`monitor.service.run(...)` in a child process (its own process group), its address parsed from stdout."""

    def __init__(self, db_path: Path, feeds_path: Path, *, scheduler_options: dict | None = None,
                 log_path: Path | None = None):
        options = {"first_run_spread": 0.2, "heartbeat_seconds": 0.5, "reconcile_seconds": 0.5,
                   "housekeeping": False, **(scheduler_options or {})}
        code = ("import sys, json; from monitor.service import run; "
                f"sys.exit(run({str(db_path)!r}, {str(feeds_path)!r}, '127.0.0.1', 0, "
                f"scheduler_options=json.loads({json.dumps(options)!r})))")
        env = dict(os.environ, MONITOR_ALLOW_PRIVATE_NETWORKS="1", PYTHONUNBUFFERED="1")
        self.log_path = log_path or db_path.with_suffix(".log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                     stderr=self._log)
        self.address: str | None = None

    def wait_address(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode("utf-8", "replace")
            if not line:
                break
            match = re.search(r"serving (http://\S+/)", line)
            if match:
                self.address = match.group(1)
                return self.address
        raise AssertionError(f"service did not start: rc={self.proc.poll()} log={self.read_log()}")

    def read_log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def get_json(self, path: str) -> tuple[int, dict]:
        assert self.address
        try:
            with urllib.request.urlopen(self.address.rstrip("/") + path, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 15) -> int:
        stop_process(self.proc, timeout)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate, timeout: float = 20, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy; return it (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds; the one stop of the tests' and the
    benches' child processes."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class ChildProcess:
    """A child process whose stdout lines are collected as they come (stderr to a log file): the distributed
    tests' schedulers, workers and web processes."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.log = log
        self.process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=open(log, "wb"))
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.decode("utf-8", "replace").strip())

    def said(self, pattern: str) -> re.Match | None:
        """The first stdout line so far matching `pattern` (a regular expression), or None."""
        for line in self.lines:
            match = re.search(pattern, line)
            if match:
                return match
        return None

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        stop_process(self.process, 20)


def query_url(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of one query on the database at `url` (a path or a postgresql:// URL), on a connection of its own."""
    import db

    database = db.connect(url, migrate_schema=False)
    try:
        return [tuple(row) for row in database.conn.execute(sql, params).fetchall()]
    finally:
        database.conn.close()
