"""Evidence on the item page: "Lưu bằng chứng" (capture now), the download of a capture, and the capture
that follows a confirmation or an escalation (queued after the decision is saved; monitor.evidence)."""

from __future__ import annotations

import hashlib
import io

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

import db
import db.evidence
import db.items
from monitor import evidence
from web import get_db
from web.access import MODERATE, READ, roles
from web.intake import fetch_settings
from web.params import item_or_404

bp = Blueprint("evidence", __name__)
MANUAL_DEADLINE = 30.0  # seconds a moderator waits for "Save evidence" at most (the crawler's own may be longer)


def capture_after(item_ids: list[int], action: str) -> None:
    """After a decision is committed: queue a capture of each decided item when the action calls for one
    (confirm, escalate). Never raises into the decision: it is already saved, and evidence is extra."""
    why = evidence.reason_for(action)
    if why is None or not item_ids or not current_app.config.get("EVIDENCE_ON_DECIDE", True):
        return
    try:
        jobs = db.evidence.urls_of(get_db(), list(item_ids))
        evidence.capture_later(current_app.config["DATABASE"], fetch_settings(), jobs, user_id=current_user.id,
                               why=why)
    except Exception:  # noqa: BLE001 - a broken feeds.yaml or a full queue must not turn a saved decision into a 500
        current_app.logger.exception("evidence capture not queued for items %s", item_ids)


@bp.post("/items/<int:item_id>/evidence")
@roles(*MODERATE)
def capture(item_id: int):
    """Capture the item's page now and come back to the item page, which lists the result (or its failure)."""
    database = get_db()
    item = item_or_404(database, item_id)
    if not item.get("url"):
        flash(_("This item has no link to capture."), "error")
        return redirect(url_for("items.show", item_id=item_id)), 303
    settings = fetch_settings()
    capture_id = evidence.capture(database, settings, item_id=item_id, url=item["url"], user_id=current_user.id,
                                  why="manual", deadline=min(settings.deadline, MANUAL_DEADLINE))
    row = db.evidence.get(database, capture_id)
    if row and row["error"]:
        flash(_("The page could not be captured: %(reason)s", reason=row["error"]), "error")
    else:
        flash(_("Evidence saved."), "ok")
    return redirect(url_for("items.show", item_id=item_id) + "#evidence"), 303


@bp.get("/evidence/<int:capture_id>")
@roles(*READ)
def download(capture_id: int):
    """The capture's WARC file as an attachment, only while it still matches its recorded sha256."""
    row = db.evidence.get(get_db(), capture_id)
    if row is None or not row["path"]:
        abort(404)
    target = evidence.file_of(current_app.config["DATABASE"], row["path"])
    if target is None or not target.is_file():
        return render_template("error.html", title="410", message=_("The evidence file is missing.")), 410
    data = target.read_bytes()
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        return render_template("error.html", title="409", message=_(
            "The evidence file was changed after it was saved; it is not served. See monitor audit verify.")), 409
    response = send_file(io.BytesIO(data), mimetype="application/warc", as_attachment=True,
                         download_name=f"item{row['item_id']}-{target.name}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def register(app: Flask) -> None:
    app.register_blueprint(bp)
