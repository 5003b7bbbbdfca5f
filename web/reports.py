"""Reports in the web UI: a week picker, the report with its charts (printable), and downloads.

Analysts and admins only. Moderator throughput is admin-level: it is left out of the page and of
downloads for analysts. Everything is read-only (GET), so no CSRF token is involved.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from monitor.domain import Role
from monitor.reports import build_report
from monitor.reports.html import render_body, report_css
from monitor.reports.period import LONG_PERIOD_DAYS, Period, current_week, latest_week_with_data, week_of
from monitor.reports.render import FORMATS, render
from web.access import ANALYSE, roles
from web.intake import fetch_settings
from web.params import BadParameter, period_arg
from web.render import select_timezone, ui_locale

bp = Blueprint("reports", __name__, url_prefix="/reports")

WEEKS_IN_PICKER = 26
PERIOD_ARGS = ("week", "quarter", "from", "to")
MIME = {
    "html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8", "json": "application/json",
    "pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def _period() -> Period:
    """The period asked for, at most LONG_PERIOD_DAYS long; a BadParameter says what is wrong with it, in the
    user's language, naming the web field (week, quarter, from, to) and quoting the value shortened.

    Nothing asked for: the most recent week with data, or this week so far on a fresh installation (the
    previous week, where the weekly report is, may be empty)."""
    if not any(request.args.get(name) for name in PERIOD_ARGS):
        from web import get_db

        return latest_week_with_data(get_db().conn, zone=select_timezone())
    period = period_arg(request.args, select_timezone())
    if period.day_count > LONG_PERIOD_DAYS:
        raise BadParameter("to", _("%(period)s is %(days)s days long; reports in the web interface cover at most "
                                   "%(max)s days. Choose a shorter period, or run `monitor report` on the server "
                                   "for this one.", period=period.label, days=period.day_count, max=LONG_PERIOD_DAYS))
    return period


def _stylesheet_version() -> str:
    """The `?v=` of the report stylesheet's URL, computed once per process (it changes with a deployment)."""
    from flask import current_app

    from web.render import content_version

    versions = current_app.extensions.setdefault("static_versions", {})
    if "reports/report.css" not in versions:
        versions["reports/report.css"] = content_version(report_css().encode("utf-8"))
    return versions["reports/report.css"]


def _link_args(period: Period | None = None) -> dict[str, str]:
    """The period of the download links: as asked, or the week the page chose (so the files are that week's)."""
    args = {key: value for key, value in request.args.items() if key in PERIOD_ARGS and value}
    return args or ({"week": period.label} if period is not None else {})


def _recent_weeks(shown: Period | None = None) -> list[str]:
    """This week and the WEEKS_IN_PICKER before it, newest first; a week shown that is older is added."""
    zone = select_timezone()
    this_week = current_week(zone=zone)
    weeks = [week_of(this_week.first_day - timedelta(days=7 * n), zone).label for n in range(WEEKS_IN_PICKER + 1)]
    if shown is not None and shown.kind == "week" and shown.label not in weeks:
        weeks.append(shown.label)
    return weeks


def _report(period: Period):
    from web import get_db

    # In the reader's UI language (their account's, else the session's or browser's), downloads included.
    report = build_report(get_db(), period, redact=request.args.get("redact") == "1", lang=ui_locale())
    is_admin = current_user.role == Role.ADMIN
    return (report if is_admin else report.without_admin_tables()), is_admin


@bp.get("/")
@roles(*ANALYSE)
def index():
    """The report for the chosen period (default: the most recent week with data) with charts and download
    links."""
    try:
        period = _period()
    except BadParameter as exc:
        return render_template("reports/index.html", error=exc.description, weeks=_recent_weeks(), period=None,
                               body=None, css_version=_stylesheet_version(), formats=FORMATS, args=request.args,
                               link_args=_link_args()), 400
    report, is_admin = _report(period)
    return render_template("reports/index.html", error=None, weeks=_recent_weeks(period), period=period,
                           body=render_body(report, show_admin=is_admin), css_version=_stylesheet_version(), formats=FORMATS,
                           args=request.args, link_args=_link_args(period))


@bp.get("/report.css")
@roles(*ANALYSE)
def stylesheet():
    """The report's stylesheet (the one exported documents inline) as a file: the page's CSP allows
    stylesheets from the app only, so an inline <style> would be blocked. Versioned, so cached a year."""
    from web.render import STATIC_MAX_AGE

    response = Response(report_css(), mimetype="text/css")
    if request.args.get("v") == _stylesheet_version():
        response.cache_control.private = True  # behind login: a shared cache must not keep it
        response.cache_control.max_age = STATIC_MAX_AGE
    return response


@bp.get("/download")
@roles(*ANALYSE)
def download():
    """The same report as a file: html, xlsx, csv (items and decisions), json, pdf or docx (the administrative
    document, with feeds.yaml's `settings: report:` as the CLI and the weekly job write it: the same bytes)."""
    fmt = request.args.get("format", "html")
    if fmt not in FORMATS:
        abort(404)
    try:
        period = _period()
    except BadParameter as exc:
        return Response(exc.description, status=400, mimetype="text/plain")
    settings = None
    if fmt == "docx":
        from monitor.config import ConfigError

        try:
            settings = fetch_settings().report
        except ConfigError as exc:  # feeds.yaml edited into an invalid state since the app started
            return Response(_("The report settings cannot be read, ask an administrator: %(error)s",
                              error=str(exc)) + "\n", status=503, mimetype="text/plain")
    report, _is_admin = _report(period)
    data = render(report, fmt, settings=settings)
    name = f"report-{period.label.replace('..', '_')}{'-redacted' if report.redacted else ''}.{fmt}"
    return Response(data, mimetype=MIME[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"})


def register(app) -> None:
    """For create_app: add the reports blueprint."""
    app.register_blueprint(bp)
