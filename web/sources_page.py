"""Admin sources page: is every source on time, failing, paused or gone dark — and the scheduler alive?

Data comes from `monitor.crawl.health.sources_overview`, `monitor.service.scheduler_health` and
`monitor.storage.status`, the same functions behind `monitor status` and `/health`, so the three
never disagree.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from db.sources import get_source, set_paused
from monitor import storage
from monitor.crawl.health import sources_overview
from monitor.service import scheduler_health
from web import get_db
from web.access import ADMIN, roles

sources_page = Blueprint("sources_page", __name__, url_prefix="/admin/sources")
bp = sources_page


@sources_page.get("/")
@roles(*ADMIN)
def index():
    database = get_db()
    rows = sources_overview(database)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return render_template("sources/index.html", sources=rows, health=scheduler_health(database), counts=counts,
                           storage=storage.status(database))


def _toggle(source_id: int, paused: bool):
    database = get_db()
    source = get_source(database, source_id)
    if source is None:
        abort(404)
    set_paused(database, source_id, paused)
    flash(_("%(name)s: paused.", name=source["name"]) if paused else
          _("%(name)s: resumed; it will be polled within seconds.", name=source["name"]), "ok")
    return redirect(url_for("sources_page.index")), 303


@sources_page.post("/<int:source_id>/resume")
@roles(*ADMIN)
def resume(source_id: int):
    return _toggle(source_id, False)


@sources_page.post("/<int:source_id>/pause")
@roles(*ADMIN)
def pause(source_id: int):
    return _toggle(source_id, True)


def register(app: Flask) -> None:
    if "sources_page" not in app.blueprints:
        app.register_blueprint(sources_page)
