"""A throw-away PostgreSQL cluster for the tests: `initdb` in a temporary folder, a server listening on a Unix
socket in that folder only (no TCP port, so parallel sessions and xdist workers never collide), removed when
the session ends. tests/conftest.py wraps it in fixtures; the logic lives here so it can be tested directly.

Why each choice:

* Server binaries: PATH first, then the highest `/usr/lib/postgresql/N/bin` — Debian's `postgresql` package
  (which scripts/test.sh installs) does not put `initdb` or `postgres` on PATH.
* Root: PostgreSQL refuses to run as root, and CI containers run as root. Then initdb and the server run as
  Debian's `postgres` account (or `nobody` where there is none) through subprocess's user/group switch, on a
  folder made in the system temporary directory (pytest's own tmp folders are mode 0700 under
  /tmp/pytest-of-root, which another account cannot reach) and handed to that account. Root's clients reach
  the socket anyway, so the tests and the processes they start connect as usual.
* Speed, not durability: fsync, synchronous_commit and full_page_writes off, `initdb --no-sync`. Start-up
  (initdb + server ready) takes about a second.
* Locale C.UTF-8: text sorts by code point, as SQLite's default BINARY collation does, while lower()/upper()
  still handle Vietnamese letters.
* Clean-up: `stop()` (the session fixture's finaliser, and an atexit hook for Ctrl-C and early exits) stops
  the server and removes the folder. The server runs in its own session, so a Ctrl-C in the terminal reaches
  pytest (which then tears down) rather than killing the server under a running teardown; where util-linux's
  `setpriv` is present the server also gets SIGINT (a fast shutdown) when the test process dies without
  cleaning up (SIGKILL, a CI timeout), and the folder such a run leaves is removed by the next `start()`.
"""

from __future__ import annotations

import atexit
import copy
import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import psycopg
from psycopg import sql

PREFIX = "monitor-test-pg-"  # the cluster folder: <tmp>/monitor-test-pg-<pid of the test process>-<random>
PORT = 5432  # only names the socket file (.s.PGSQL.5432): each cluster has a folder of its own
SUPERUSER = "postgres"
SETTINGS = {
    "listen_addresses": "",  # the Unix socket only
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes with the terminating NUL
NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")

T = TypeVar("T")


class Unavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine: the message says how to get them, in one line."""


def find_bin_dir(debian: Path = Path("/usr/lib/postgresql")) -> Path | None:
    """The folder holding `initdb` and `postgres`: from PATH, else Debian's highest-numbered version."""
    on_path = shutil.which("initdb")
    if on_path:
        for folder in (Path(on_path).parent, Path(on_path).resolve().parent):
            if _has_server(folder):
                return folder
    versions = []
    for folder in debian.glob("*/bin"):
        if folder.parent.name.replace(".", "").isdigit() and _has_server(folder):
            versions.append((tuple(int(n) for n in folder.parent.name.split(".")), folder))
    return max(versions)[1] if versions else None


def _has_server(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in ("initdb", "postgres"))


def unavailable_message() -> str:
    """Why the PostgreSQL tests cannot run here, and what to do (one line)."""
    where = "no initdb on PATH or in /usr/lib/postgresql/*/bin"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        return (f"PostgreSQL server binaries not found ({where}) although CI=true: scripts/test.sh should have "
                "installed Debian's postgresql package")
    return f"PostgreSQL server binaries not found ({where}): run scripts/test.sh, which installs Debian's postgresql"


def _account() -> dict[str, Any]:
    """subprocess arguments that run initdb and the server as an unprivileged account when we are root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise Unavailable("running as root and there is neither a 'postgres' nor a 'nobody' account to run PostgreSQL as")


def _base_folder() -> Path:
    """A new folder for data and socket, short enough for the socket's path limit."""
    parent = tempfile.gettempdir()
    if len(parent) + len(PREFIX) + 40 + len(f"/.s.PGSQL.{PORT}") > SOCKET_PATH_MAX:
        parent = "/tmp"
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(parent: Path | None = None) -> list[Path]:
    """Remove the cluster folders of earlier test processes that died without cleaning up: their process is
    gone and their server has shut down (no postmaster.pid). A folder whose server still runs is left alone.
    Returns what was removed."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        owner = folder.name[len(PREFIX):].split("-", 1)[0]
        if not owner.isdigit() or _alive(int(owner)) or (folder / "data" / "postmaster.pid").exists():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
    return removed


class Server:
    """One running cluster: its URLs, databases made for tests, template copies, and stop()."""

    def __init__(self, base: Path, process: subprocess.Popen) -> None:
        self.base = base  # holds data/, the socket and server.log
        self.process = process
        self.started_in = 0.0  # seconds from initdb to ready, for the record
        self._admin: psycopg.Connection | None = None
        self._names = itertools.count(1)
        self._templates: dict[str, tuple[str, Any]] = {}
        self._stopped = False

    def url(self, dbname: str = "postgres") -> str:
        """A libpq URL for a database on this cluster, usable from any process on the machine."""
        return f"postgresql://{SUPERUSER}@/{dbname}?host={quote(str(self.base), safe='/')}&port={PORT}"

    def admin(self) -> psycopg.Connection:
        """The session's autocommit connection to the `postgres` database (CREATE/DROP DATABASE)."""
        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.url(), autocommit=True)
        return self._admin

    def create_database(self, template: str | None = None) -> str:
        """A new database (t_1, t_2, ...; empty, or a copy of `template`); returns its URL."""
        name = f"t_{next(self._names)}"
        self._create(name, template)
        return self.url(name)

    def _create(self, name: str, template: str | None = None) -> None:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self.admin().execute(statement)

    def drop_database(self, url_or_name: str) -> None:
        """Drop a database (by URL or name), ending any connection a test left open to it."""
        name = urlsplit(url_or_name).path.lstrip("/") if "://" in url_or_name else url_or_name
        self.admin().execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def copy_of(self, name: str, build: Callable[[str], T]) -> tuple[str, T]:
        """A fresh copy of the database `build(url)` makes, built once per session (per xdist worker) under
        `name`: (copy's URL, a deep copy of what build returned). PostgreSQL's `CREATE DATABASE ... TEMPLATE`
        copies files, so a copy costs about as much as an empty database, whatever the builder did."""
        if not NAME.fullmatch(name):
            raise ValueError(f"template name {name!r}: lower-case letters, digits and _ only")
        if name not in self._templates:
            template = f"template_{name}"
            self._create(template)
            try:
                value = build(self.url(template))
            except BaseException:
                self.drop_database(template)
                raise
            self._seal(template)
            self._templates[name] = (template, value)
        template, value = self._templates[name]
        return self.create_database(template), copy.deepcopy(value)

    def _seal(self, template: str) -> None:
        """No one connects to a built template again: a copy needs it idle, and a write would leak into
        every later copy. Connections the builder left open are ended."""
        admin = self.admin()
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(template)))
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                      "pg_backend_pid()", (template,))

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are ended) and remove its folder. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._admin is not None:
            self._admin.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()  # SIGKILL to the server we started: it may leave shared memory behind
                self.process.wait(STOP_TIMEOUT)
        shutil.rmtree(self.base, ignore_errors=True)


def start(bin_dir: Path | None = None) -> Server:
    """initdb a new cluster in a temporary folder and start its server; returns once it accepts connections.
    Raises Unavailable when no server binaries are found."""
    bin_dir = bin_dir or find_bin_dir()
    if bin_dir is None:
        raise Unavailable(unavailable_message())
    account = _account()
    sweep_stale()
    began = time.monotonic()
    base = _base_folder()
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    try:
        if account:
            os.chown(base, account["user"], account["group"])
        initdb = subprocess.run(
            [bin_dir / "initdb", "-D", base / "data", "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
             "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, env=env, **account)
        if initdb.returncode:
            raise RuntimeError(f"initdb failed ({initdb.returncode}): {initdb.stderr.strip()[-2000:]}")
        settings = [arg for key, value in SETTINGS.items() for arg in ("-c", f"{key}={value}")]
        # setpriv --pdeathsig: the server gets SIGINT if this process dies without stopping it
        guard = ["setpriv", "--pdeathsig", "INT", "--"] if shutil.which("setpriv") else []
        with open(base / "server.log", "wb") as log:
            process = subprocess.Popen(
                [*guard, bin_dir / "postgres", "-D", base / "data", "-k", base, "-p", str(PORT), *settings],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                **account)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    server = Server(base, process)
    atexit.register(server.stop)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    server.started_in = time.monotonic() - began
    return server


def _wait_ready(server: Server) -> None:
    """Until postmaster.pid's status line says "ready" (PostgreSQL 10+), or the server exits, or times out."""
    pid_file = server.base / "data" / "postmaster.pid"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited ({server.process.returncode}) on start: {_log_tail(server)}")
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return
        time.sleep(0.01)
    raise RuntimeError(f"PostgreSQL not ready after {START_TIMEOUT:.0f} s: {_log_tail(server)}")


def _log_tail(server: Server) -> str:
    try:
        return (server.base / "server.log").read_text(errors="replace")[-2000:]
    except OSError:
        return "(no server log)"
