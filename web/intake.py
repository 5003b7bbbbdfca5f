""""Report a suspicious link or text": a form that feeds monitor.pipeline.intake, i.e. the same ingest pipeline.

The reported URL is fetched by the crawler's Fetcher, so internal addresses are refused exactly as
for configured sources (this form is the classic server-side request forgery door).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from monitor.pipeline import intake
from web import get_db
from web.access import READ, roles

bp = Blueprint("report", __name__)  # endpoint names (report.form, report.submit) predate the module name

MAX_TEXT = 20_000


def fetch_settings() -> Any:
    """Fetch settings: config SETTINGS, else feeds.yaml's, else defaults (+ MONITOR_ALLOW_PRIVATE_NETWORKS)."""
    cache = current_app.extensions.setdefault("monitor_intake", {})
    if "settings" not in cache:
        settings = current_app.config.get("SETTINGS")
        if settings is None:
            from monitor import config as monitor_config

            feeds = current_app.config.get("FEEDS")
            if feeds and Path(feeds).exists():
                settings = monitor_config.load(feeds).settings
            else:
                settings = monitor_config.Settings()
                if os.environ.get("MONITOR_ALLOW_PRIVATE_NETWORKS") == "1":
                    settings.allow_private_networks = True
        cache["settings"] = settings
    return cache["settings"]


def _scorer() -> Any:
    """The classifier, loaded once per app; without it the report is stored unscored."""
    if "SCORER" in current_app.config:
        return current_app.config["SCORER"]
    cache = current_app.extensions.setdefault("monitor_intake", {})
    if "scorer" not in cache:
        try:
            from monitor.scoring import load_scorer

            cache["scorer"] = load_scorer()
        except Exception as exc:  # noqa: BLE001 - a missing model must not lose the report
            current_app.logger.warning("classifier unavailable for reports: %s", exc)
            cache["scorer"] = None
    return cache["scorer"]


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
        result = intake.submit_report(get_db(), _scorer(), fetch_settings(), url=url, text=text,
                                      submitted_by=current_user.name).to_dict()
    except Exception as exc:  # noqa: BLE001 - the reporter gets the reason, the page does not 500
        current_app.logger.warning("report intake failed: %s", exc)
        flash(_("The report could not be processed: %(reason)s", reason=str(exc)[:300]), "error")
        return render_template("report.html", url=url or "", text=text or ""), 422
    result = result or {}
    if result.get("error"):
        flash(_("The page could not be read (%(reason)s); the report was stored with what you gave.",
                reason=str(result["error"])[:300]), "error")
    flash(_("Thank you, the report was received."), "ok")
    if result.get("item_id"):
        return redirect(url_for("items.show", item_id=result["item_id"])), 303
    return redirect(url_for("report.form")), 303


def register(app: Flask) -> None:
    app.register_blueprint(bp)
