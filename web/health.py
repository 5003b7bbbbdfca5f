"""`GET /health`: is the service well — for an uptime monitor anyone may ask, in detail for admins.

Everyone gets `{"status": "ok" | "degraded" | "error", "reasons": [...]}` (HTTP 503 on "error"),
where the reasons are fixed phrases such as "disk full / cannot write": they say what is wrong
without file paths or error texts. "degraded" covers, among others: every enabled source failed its
last run; no item stored for 3 × the shortest enabled poll interval while a scheduler is expected
(monitor.service.STORED_INTERVALS); the scorer refusing the registry's promoted model, or having none.
Logged-in staff see the same verdict as a banner on every page (`banner`, in base.html). A logged-in admin, or a request with an admin's API token
(`Authorization: Bearer …`), also gets the details: item counts, the scheduler's heartbeat, queue
and failing sources, the feeds.yaml error, the storage error naming the file; on PostgreSQL also the
scheduler and worker processes (`processes`: how many beat lately, the last beat, each one's row), and
"scheduler not running" / "no worker running" when processes that used to beat no longer do.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

import db
import db.items
import db.state
from monitor.domain import Role
from monitor.schedule.scheduler import HEARTBEAT_KEY
from vocab.i18n import N_
from web import get_db, storage_problem
from web.access import public

bp = Blueprint("health", __name__)

# The reasons, in English in /health (an uptime monitor matches them) and translated in the banner.
DATABASE_DOWN = N_("database unreachable")
SCHEDULER_DOWN = N_("scheduler not running")
WORKERS_DOWN = N_("no worker running")
SOURCES_FAILING = N_("sources failing")
SOURCES_PAUSED = N_("sources paused")
CONFIG_REJECTED = N_("feeds.yaml change rejected")
ALL_SOURCES_FAILING = N_("every source failed its last run")
NOTHING_STORED = N_("nothing stored recently")
SCORER_REFUSING = N_("scorer refusing its model")
STORAGE_FULL = N_("disk full / cannot write")  # monitor.storage.REASON, here to be translated


@bp.get("/health")
@public
def health():
    details = _details()
    status, reasons = _verdict(details)
    code = 503 if status == "error" else 200
    if _is_admin():
        return jsonify({"status": status, "reasons": reasons, **details}), code
    return jsonify({"status": status, "reasons": reasons}), code


def _details(*, counts: bool = True) -> dict:
    """Everything /health knows; never raises (a health check must report, not crash). Without `counts`
    the item counts are left out: the banner asks on every page, and counting is the one costly query."""
    body: dict = {"ok": False, "database": False, "scheduler_heartbeat_age": None, "items": {}, "storage": None}
    try:
        database = get_db()
        from monitor.service import process_health, scheduler_health

        body["processes"] = process_health(database)  # PostgreSQL: the scheduler and worker processes' beats
        if counts:
            body["items"] = db.items.counts_by_status(database)
        body["database"] = True
        heartbeat = db.state.get_state(database, HEARTBEAT_KEY)
        if heartbeat:
            try:
                age = (datetime.now(UTC) - db.from_iso(heartbeat)).total_seconds()
                body["scheduler_heartbeat_age"] = round(max(age, 0.0), 1)
            except ValueError:
                body["scheduler_heartbeat_age"] = None
        from monitor import storage

        body["storage"] = storage.status(database)
        # SCHEDULER_EXPECTED is set by `monitor run` (True) and `monitor serve` (False); unset, a
        # scheduler counts as expected once it has ever written a heartbeat.
        body["scheduler"] = scheduler_health(database)
        expected = current_app.config.get("SCHEDULER_EXPECTED", heartbeat is not None)
        body["scheduler"]["expected"] = bool(expected)
        body["scorer"] = db.state.scorer_problem(database)
    except Exception as exc:  # noqa: BLE001 - health must report, not crash
        body["error"] = type(exc).__name__
        # No connection, or a read failed: on a full disk under `monitor serve` that is the storage's doing.
        body["storage"] = body["storage"] or storage_problem(exc)
    body["ok"] = bool(body["database"] and not body["storage"]
                      and (not body.get("scheduler", {}).get("expected") or body["scheduler"]["healthy"])
                      and not _processes_down(body.get("processes")))
    return body


def _processes_down(processes: dict | None) -> list[str]:
    """The reasons the scheduler and worker processes give (PostgreSQL): one that ever beat and none
    that beats now. The scheduler counts as running only while one is the leader (the others wait)."""
    if not processes:
        return []
    schedulers, workers = processes["schedulers"], processes["workers"]
    return [reason for reason, down in [
        (SCHEDULER_DOWN, schedulers["expected"] and schedulers["leader"] is None),
        (WORKERS_DOWN, workers["expected"] and workers["count"] == 0),
    ] if down]


def _verdict(details: dict) -> tuple[str, list[str]]:
    """"error" when the service cannot do its job (no database, a full disk, a dead scheduler),
    "degraded" when it runs with faults an operator should look at, else "ok"."""
    scheduler = details.get("scheduler") or {}
    errors = [reason for reason, bad in [
        (DATABASE_DOWN, not details["database"] and not details["storage"]),  # a full disk says why
        (details["storage"]["reason"] if details["storage"] else "", bool(details["storage"])),
        (SCHEDULER_DOWN, bool(scheduler.get("expected")) and not scheduler.get("healthy")),
    ] if bad]
    errors += [reason for reason in _processes_down(details.get("processes")) if reason not in errors]
    if errors:
        return "error", errors
    all_failing = bool(scheduler.get("all_sources_failing"))
    faults = [reason for reason, bad in [
        (ALL_SOURCES_FAILING, all_failing),
        (SOURCES_FAILING, bool(scheduler.get("sources_failing")) and not all_failing),
        (SOURCES_PAUSED, bool(scheduler.get("sources_paused"))),
        (NOTHING_STORED, bool(scheduler.get("expected")) and bool(scheduler.get("nothing_stored"))),
        (SCORER_REFUSING, bool(details.get("scorer"))),
        (CONFIG_REJECTED, bool(scheduler.get("config_error"))),
    ] if bad]
    return ("degraded" if faults else "ok"), faults


@bp.app_context_processor
def banner_context() -> dict:
    """`health_banner()` for base.html: called only for a logged-in user, so anonymous pages pay nothing."""
    return {"health_banner": banner}


def banner() -> dict | None:
    """What the UI banner says: None when all is well, else {"status", "reasons", "details"}. The reasons
    are the fixed phrases of /health (translated in the template); the details, for admins only, name
    the sources and errors behind them (never shown to other roles, as in /health)."""
    details = _details(counts=False)
    status, reasons = _verdict(details)
    if status == "ok":
        return None
    return {"status": status, "reasons": reasons, "details": _banner_details(details) if _is_admin() else []}


def _banner_details(details: dict) -> list[str]:
    """A few lines an admin can act on: which sources fail, how long nothing was stored, what the scorer refused."""
    scheduler = details.get("scheduler") or {}
    lines = []
    failing = scheduler.get("sources_failing") or []
    if failing:
        lines.append(", ".join(failing[:5]) + (" …" if len(failing) > 5 else ""))
    if scheduler.get("expected") and scheduler.get("nothing_stored"):
        lines.append(f"{scheduler.get('last_stored_at') or '—'} (> {scheduler.get('nothing_stored_after')} s)")
    scorer = details.get("scorer") or {}
    for problem in (scorer.get("error"), (scorer.get("refused") or {}).get("error")):
        if problem:
            lines.append(str(problem)[:300])
    if scheduler.get("config_error"):
        lines.append(str(scheduler["config_error"])[:300])
    return lines


def _is_admin() -> bool:
    """A logged-in admin, or an active admin's API token (only /api/ routes load tokens by themselves)."""
    try:
        if current_user.is_authenticated:
            return current_user.role == Role.ADMIN
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        from db import tokens

        row = tokens.user_for_token(get_db(), header[7:].strip())
        return bool(row and row["role"] == Role.ADMIN)
    except Exception:  # noqa: BLE001 - no database, no user: the anonymous answer
        return False
