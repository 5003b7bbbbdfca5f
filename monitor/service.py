"""`monitor run`: the scheduler and the web UI in one process, on embedded SQLite.

Signals: SIGTERM / SIGINT stop taking new work and finish (or abandon, i.e. roll back) in-flight
crawls within the shutdown grace; SIGHUP reloads feeds.yaml. A lock file beside the database makes
a second `monitor run` on the same database refuse instead of double-crawling.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

import db
from db import keys
from db.sources import crawl_summary, failing_names, paused_names
from db.state import delete_state, get_state
from monitor import config as config_module
from monitor.config import ConfigError
from monitor.schedule.locks import AlreadyRunning, SchedulerLock
from monitor.schedule.scheduler import CONFIG_ERROR_KEY, HEARTBEAT_KEY, STATUS_KEY, FirstPass, Scheduler

log = logging.getLogger("monitor.service")

SHUTDOWN_GRACE_SECONDS = 7.0
HEARTBEAT_STALE_SECONDS = 60.0
# /health says "nothing stored recently" after this many of the shortest enabled poll interval with no new item:
# 3 tolerates a quiet spell (a source polled every 10 minutes may have nothing new for half an hour) and
# adaptive intervals grow while sources are quiet, so the window widens with them.
STORED_INTERVALS = 3
EXIT_CONFIG = 2
EXIT_LOCKED = 3


class ServiceError(Exception):
    """Something in the environment that stops start-up (a busy port, a bad setting): one line, exit 2."""


SECRET_KEY_ENV = "MONITOR_SECRET_KEY"
SECRET_KEY_FILE_ENV = "MONITOR_SECRET_KEY_FILE"
LEGACY_SECRET_STATE = "web_secret_key"  # where versions before issue 15 kept the session key (in the database)
PROXY_HEADERS = ("x-forwarded-for", "x-forwarded-proto")


def secret_key(db_path: str | Path) -> str:
    """MONITOR_SECRET_KEY, else the file MONITOR_SECRET_KEY_FILE names, else (SQLite only) the key in
    `<database>.secret`, made on the first start (mode 0600).

    Never in the database: anyone who can read it (Datasette, a backup) could sign an admin session.
    On PostgreSQL every web process must sign with the same key and there is no file beside the database,
    so one of the two variables is required (a ServiceError otherwise). Files are made and checked by
    `db.keys`, the one place for secrets; the variable is held to the same length (db.keys.MIN_SECRET_CHARS)
    and must be text: bytes that are not UTF-8 would fail every request that signs a session (500).
    """
    try:
        value = keys.secret_from_environment(SECRET_KEY_ENV, SECRET_KEY_FILE_ENV, what="session key")
        if value is not None:
            return value
        if db.is_url(str(db_path)):
            raise keys.required_on_postgresql(SECRET_KEY_ENV, SECRET_KEY_FILE_ENV, what="web session key")
        return str(keys.secret_beside(Path(f"{db_path}.secret"), what="session key", create=True))
    except keys.KeyFileError as exc:
        raise ServiceError(str(exc)) from None


def proxy_options(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """waitress options for MONITOR_BEHIND_PROXY=1: believe X-Forwarded-For (last hop) and -Proto only
    from the proxy's address (MONITOR_TRUSTED_PROXY, default 127.0.0.1); from anyone else they are dropped.

    waitress itself then sets the client address (rate limits key on it) and the scheme (https makes
    the session cookie Secure). X-Forwarded-Host is not believed: nginx passes a client's copy through.
    """
    if environ.get("MONITOR_BEHIND_PROXY") != "1":
        return {}
    value = (environ.get("MONITOR_TRUSTED_PROXY") or "127.0.0.1").strip()
    try:
        address = str(ipaddress.ip_address(value))
    except ValueError:
        raise ServiceError(f"MONITOR_TRUSTED_PROXY: not one IP address: {value!r} "
                           "(the address nginx connects from, e.g. 127.0.0.1)") from None
    return {"trusted_proxy": address, "trusted_proxy_count": 1, "trusted_proxy_headers": set(PROXY_HEADERS),
            "clear_untrusted_proxy_headers": True}


def web_server(app: Any, host: str, port: int, *, proxy: dict[str, Any]) -> Any:
    """The waitress server, listening; a host that is no address of this machine, or a port that is taken
    or forbidden, is a ServiceError (waitress itself says only "Invalid host/port specified")."""
    from waitress.server import create_server

    threads = _web_threads()
    listen_addresses(host, port)
    try:
        return create_server(app, host=host, port=port, threads=threads, ident="monitor", **proxy)
    except OSError as exc:
        raise listen_error(host, port, exc) from None


def _web_threads() -> int:
    value = os.environ.get("MONITOR_WEB_THREADS", "6")
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ServiceError(f"MONITOR_WEB_THREADS: {value!r} is not a whole number of threads, at least 1")
    return threads


def listen_addresses(host: str, port: int) -> list[tuple]:
    """getaddrinfo's answer for listening on host:port; a ServiceError naming the host when there is none
    (`--host 256.1.1.1`, an unknown name). The port is checked by the CLI's --port type (monitor.cli.port_number)."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ServiceError(f"cannot listen on host {host!r}: not an IP address or a host name that resolves "
                           f"({reason})") from None


def check_port(host: str, port: int) -> None:
    """Raise ServiceError now if the web server could not listen on host:port later (the demo crawls
    first; a taken port found only after that would waste the wait). Binds as waitress does, then lets go."""
    family, kind, proto, _name, address = listen_addresses(host, port)[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise listen_error(host, port, exc) from None


def listen_error(host: str, port: int, exc: OSError) -> ServiceError:
    """The one line an operator sees when a port cannot be listened on."""
    if exc.errno == errno.EADDRINUSE:
        return ServiceError(f"port {port} on {host} is already in use")
    return ServiceError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def run(db_path: str | Path, feeds_path: str | Path, host: str = "127.0.0.1", port: int = 8080, *,
        start_scheduler: bool = True, scheduler_options: dict[str, Any] | None = None,
        app_config: dict[str, Any] | None = None) -> int:
    """Run until SIGTERM/SIGINT; return the process exit code.

    Nothing starts when the configuration is invalid (exit 2) or another scheduler holds the
    database (exit 3).
    """
    try:
        feeds = config_module.load(feeds_path)
    except ConfigError as exc:
        print(f"monitor: configuration error: {exc}", file=sys.stderr)
        print("monitor: nothing started; fix the file and start again", file=sys.stderr)
        return EXIT_CONFIG

    lock = None
    if start_scheduler and not db.is_url(db_path):  # on PostgreSQL: leader election (monitor.distributed)
        try:
            lock = SchedulerLock(db_path).acquire()
        except AlreadyRunning as exc:
            print(f"monitor: {exc}", file=sys.stderr)
            return EXIT_LOCKED

    try:
        return _serve(db_path, feeds_path, feeds, host, port, start_scheduler, scheduler_options or {},
                      app_config or {})
    finally:
        if lock is not None:
            lock.release()


def _serve(db_path: str | Path, feeds_path: str | Path, feeds: config_module.FeedsConfig, host: str, port: int,
           start_scheduler: bool, scheduler_options: dict[str, Any], app_config: dict[str, Any]) -> int:
    """Serve until SIGTERM/SIGINT: the web server in a thread, the scheduler (when asked for) beside it, and
    SIGHUP reloading feeds.yaml in this thread (signal handlers only set events; the work happens here)."""
    try:
        server = _start_web(db_path, feeds_path, host, port, start_scheduler, app_config)
    except ServiceError as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    address = f"http://{server.effective_host}:{server.effective_port}/"

    stop = threading.Event()
    reload_requested = threading.Event()
    previous = _install_signal_handlers(stop, reload_requested)

    scheduler = None
    if start_scheduler:
        scheduler = _start_scheduler(db_path, feeds_path, feeds, scheduler_options)

    web_thread = threading.Thread(target=_run_server, args=(server,), name="waitress", daemon=True)
    web_thread.start()
    print(f"monitor: serving {address} ({'scheduler running' if scheduler else 'web only'})", flush=True)

    try:
        while not stop.wait(0.25):
            if reload_requested.is_set():
                reload_requested.clear()
                if scheduler is not None:
                    _reload_feeds(scheduler)
    finally:
        finished = _shut_down(scheduler, server, previous)
    print("monitor: stopped" + ("" if finished else " (an unfinished crawl was rolled back)"), flush=True)
    if not finished:
        _leave_stuck_workers()
    return 0


def _start_scheduler(db_path: str | Path, feeds_path: str | Path, feeds: config_module.FeedsConfig,
                     options: dict[str, Any]) -> Any:
    """The in-process scheduler on SQLite; on PostgreSQL the leader election, which runs the scheduler that
    queues crawls for `monitor worker`s while this process is the active one (monitor.distributed.leader)."""
    if db.is_url(db_path):
        from monitor.distributed.leader import DistributedScheduler, Leadership

        url = str(db_path)
        return Leadership(url, lambda: DistributedScheduler(url, feeds_path, **options),
                          announce=lambda line: print(f"monitor: {line}", flush=True)).start()
    scheduler = Scheduler(db_path, feeds_path, config=feeds, on_first_pass=warn_if_no_source_reached, **options)
    scheduler.start()
    return scheduler


def warn_if_no_source_reached(outcome: FirstPass) -> None:
    """One line on stderr when the first crawl of every source failed: without it a machine with no network
    looks healthy and the queue just says there is nothing to moderate. In Vietnamese, as the UI is by default."""
    if not outcome.all_failed:
        return
    first = " ".join((outcome.first_error or "").split())[:200]
    print(f"monitor: cảnh báo: không kết nối được nguồn nào: {outcome.failed} nguồn lỗi ({first})",
          file=sys.stderr, flush=True)


def _install_signal_handlers(stop: threading.Event, reload_requested: threading.Event) -> dict[int, Any]:
    """SIGTERM/SIGINT set `stop`, SIGHUP sets `reload_requested`; returns the handlers they replace."""

    def on_stop(signum: int, _frame: Any) -> None:
        log.info("signal received; stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    def on_hup(_signum: int, _frame: Any) -> None:
        reload_requested.set()

    previous = {sig: signal.signal(sig, on_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hup)
    return previous


def _reload_feeds(scheduler: Scheduler) -> None:
    """Reload feeds.yaml into the running scheduler and say what changed, or why the old one is kept."""
    outcome = scheduler.reload()
    if outcome.ok:
        print(f"monitor: feeds reloaded (added {outcome.added}, removed {outcome.removed}, "
              f"changed {outcome.changed})", flush=True)
    else:
        print(f"monitor: feeds reload rejected, running configuration kept: {outcome.error}",
              file=sys.stderr, flush=True)


def _shut_down(scheduler: Scheduler | None, server: Any, previous: dict[int, Any]) -> bool:
    """Stop the scheduler (within the grace period) and the web server, and put the old signal handlers
    back; False when a crawl was still running past the grace."""
    finished = True
    if scheduler is not None:
        finished = scheduler.stop(timeout=SHUTDOWN_GRACE_SECONDS)
    try:
        server.task_dispatcher.shutdown(timeout=1)
    except Exception:  # noqa: BLE001 - shutting down regardless
        pass
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    return finished


def _leave_stuck_workers() -> None:
    """Worker threads are stuck in a fetch past the grace: leave without joining them. Their
    uncommitted transactions are rolled back by SQLite; the next start crawls again."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _start_web(db_path: str | Path, feeds_path: str | Path, host: str, port: int, start_scheduler: bool,
               app_config: dict[str, Any]) -> Any:
    """The web app under a listening waitress server (not yet serving); ServiceError if it cannot be."""
    from web import create_app

    proxy = proxy_options()
    config = {"DATABASE": str(db_path), "FEEDS": str(feeds_path), "SECRET_KEY": secret_key(db_path)}
    if start_scheduler or not db.is_url(str(db_path)):
        # On PostgreSQL the scheduler is a process of its own: `serve` expects one once one has beaten.
        config["SCHEDULER_EXPECTED"] = start_scheduler
    config.update(app_config)
    database = db.connect(db_path)
    try:
        check_shared_keys(database)
        delete_state(database, LEGACY_SECRET_STATE)  # retire the key an older version kept in the database
        try:
            from monitor.scoring import sync_models_table

            sync_models_table(database)
        except (ImportError, OSError, ValueError) as exc:  # a missing model must not stop the web UI
            log.warning("model versions not recorded", extra={"error": str(exc)})
    finally:
        database.conn.close()
    return web_server(create_app(config), host, port, proxy=proxy)


def check_shared_keys(database: sqlite_utils.Database) -> None:
    """On PostgreSQL, a ServiceError now when the audit key is not set: the first decision would otherwise
    be refused, and a key made up per process would split the decision log between web processes."""
    if db.dialect(database) != "postgresql":
        return
    try:
        keys.audit_key(database)
    except keys.KeyFileError as exc:
        raise ServiceError(str(exc)) from None


def _run_server(server: Any) -> None:
    try:
        server.run()
    except Exception:  # noqa: BLE001 - a dead web server must be visible in the log
        log.exception("web server stopped")


# --------------------------------------------------------------------------- what operators see


def heartbeat_age(database: sqlite_utils.Database, now: datetime | None = None) -> float | None:
    value = get_state(database, HEARTBEAT_KEY)
    if not value:
        return None
    try:
        moment = db.from_iso(value)
    except ValueError:
        return None
    return max(((now or datetime.now(UTC)) - moment).total_seconds(), 0.0)


def scheduler_health(database: sqlite_utils.Database, *, stale_after: float = HEARTBEAT_STALE_SECONDS,
                     now: datetime | None = None) -> dict:
    """What `/health` adds about the scheduler: heartbeat age, queue depth, failing and paused sources,
    whether every enabled source failed its last run, and whether anything was stored lately.

    `healthy` is False when the heartbeat is missing or older than `stale_after` seconds.
    `nothing_stored` is True when no item was stored for STORED_INTERVALS times the shortest enabled
    poll interval, counted from the later of the last stored item and the scheduler's start (a fresh
    start gets that long to store its first item); /health reports it only while a scheduler is expected.
    """
    now = now or datetime.now(UTC)
    age = heartbeat_age(database, now)
    raw_status = get_state(database, STATUS_KEY)
    try:
        status = json.loads(raw_status) if raw_status else {}
    except ValueError:
        status = {}
    failing = failing_names(database)
    paused = paused_names(database, enabled_only=True)
    stopped = bool(status.get("stopped"))
    crawling = crawl_summary(database)
    return {
        **_stored_lately(crawling, status.get("started_at"), now),
        "sources_enabled": crawling["enabled"],
        "all_sources_failing": crawling["enabled"] > 0 and crawling["failed"] == crawling["enabled"],
        "healthy": age is not None and age <= stale_after and not stopped,
        "heartbeat_age": None if age is None else round(age, 1),
        "heartbeat_stale_after": stale_after,
        "queue_depth": status.get("queue_depth"),
        "running": status.get("running"),
        "sources_failing": failing,
        "sources_paused": paused,
        "config_error": get_state(database, CONFIG_ERROR_KEY),
    }


def _stored_lately(crawling: dict, started_at: str | None, now: datetime) -> dict:
    """The "nothing stored for N intervals" part of scheduler_health (see there)."""
    shortest = crawling.get("shortest_interval")
    window = STORED_INTERVALS * int(shortest) if shortest else None
    moments = [moment for moment in map(_moment, (crawling.get("last_stored_at"), started_at)) if moment]
    quiet = max((now - max(moments)).total_seconds(), 0.0) if moments else None
    return {"last_stored_at": crawling.get("last_stored_at"),
            "nothing_stored_for": None if quiet is None else round(quiet),
            "nothing_stored_after": window,
            "nothing_stored": bool(window and quiet is not None and quiet > window)}


def _moment(value: str | None) -> datetime | None:
    """A stored UTC time, or None when there is none or it does not parse."""
    try:
        return db.from_iso(value) if value else None
    except (TypeError, ValueError):
        return None


def process_health(database: sqlite_utils.Database) -> dict | None:
    """What `/health` adds on PostgreSQL about the scheduler and worker processes, from their heartbeats
    (db.workers): per kind, how many beat within db.workers.STALE_SECONDS, the latest beat, whether any
    ever beat (so a missing one is expected), and each process's row. None on SQLite, where the scheduler
    runs inside `monitor run` and no worker exists (its heartbeat is in scheduler_health)."""
    if db.dialect(database) != "postgresql":
        return None
    from db import workers

    rows = workers.beats(database)
    summary: dict[str, Any] = {"stale_after": workers.STALE_SECONDS}
    for kind in ("scheduler", "worker"):
        mine = [row for row in rows if row["kind"] == kind]
        alive = [row for row in mine if row["alive"]]
        summary[kind + "s"] = {
            "count": len(alive),
            "last_beat": max((row["last_beat"] for row in mine), default=None),
            "expected": bool(mine),
            "processes": [{key: row[key] for key in ("id", "state", "started_at", "last_beat", "age_seconds",
                                                      "alive")} for row in mine],
        }
    summary["schedulers"]["leader"] = next((row["id"] for row in rows if row["kind"] == "scheduler"
                                            and row["alive"] and row["state"] == "leader"), None)
    return summary
