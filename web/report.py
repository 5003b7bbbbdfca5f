""""Report a suspicious link or text": a form that feeds monitor.intake, i.e. the same ingest pipeline."""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from web.access import READ, roles

bp = Blueprint("report", __name__)

MAX_TEXT = 20_000


@bp.get("/report")
@roles(*READ)
def form():
    return render_template("report.html", url="", text="")


@bp.post("/report")
@roles(*READ)
def submit():
    url = (request.form.get("url") or "").strip() or None
    text = (request.form.get("text") or "").strip() or None
    if not url and not text:
        flash(_("Give a link or paste the text."), "error")
        return render_template("report.html", url="", text=""), 400
    if text and len(text) > MAX_TEXT:
        flash(_("The text is too long (at most %(n)s characters).", n=MAX_TEXT), "error")
        return render_template("report.html", url=url or "", text=""), 400
    if url and not url.lower().startswith(("http://", "https://")):
        flash(_("Only http and https links can be reported."), "error")
        return render_template("report.html", url=url, text=text or ""), 400
    try:
        intake = importlib.import_module("monitor.intake")
    except ModuleNotFoundError:
        flash(_("Reporting is not available on this installation yet."), "error")
        return render_template("report.html", url=url or "", text=text or ""), 503
    try:
        result = intake.submit(current_app.config["DATABASE"], url=url, text=text, submitted_by=current_user.name,
                               settings=current_app.config.get("SETTINGS"), scorer=current_app.config.get("SCORER"))
    except Exception as exc:  # noqa: BLE001 - the reporter gets the reason, the page does not 500
        current_app.logger.warning("report intake failed: %s", exc)
        flash(_("The report could not be processed: %(reason)s", reason=str(exc)[:300]), "error")
        return render_template("report.html", url=url or "", text=text or ""), 422
    item_id = (result or {}).get("item_id") or next(iter((result or {}).get("new_ids") or []), None)
    flash(_("Thank you, the report was received."), "ok")
    if item_id:
        return redirect(url_for("items.show", item_id=item_id)), 303
    return redirect(url_for("report.form")), 303


def register(app: Flask) -> None:
    app.register_blueprint(bp)
