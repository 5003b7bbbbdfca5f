"""Template helpers: local times, safe links, translations.

Crawled text is rendered only through Jinja's autoescape; links are emitted as hrefs only when
their scheme is http or https, so a `javascript:` URL in a feed is shown as text, never clicked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, request, session
from flask_babel import Babel
from flask_login import current_user
from markupsafe import Markup

import db
from monitor.domain import DEFAULT_TIMEZONE
from vocab.i18n import LANGUAGES, TRANSLATIONS_DIR
from vocab.labels import verdict_key

LOCALES = LANGUAGES


def user_zone() -> ZoneInfo:
    """The user's zone, looked up once per request (pages format dozens of times)."""
    from flask import g, has_app_context

    if has_app_context() and "user_zone" in g:
        return g.user_zone
    name = getattr(current_user, "timezone", None) or DEFAULT_TIMEZONE
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    if has_app_context():
        g.user_zone = zone
    return zone


# How a time reads in each UI language (Babel patterns), in the user's zone: a Vietnamese reader expects
# day/month/year and a 24-hour clock, an English one "Dec 2, 2026, 4:25 AM". One place, so every page,
# flash message and table agrees.
DATETIME_PATTERNS = {"vi": "dd/MM/yyyy HH:mm", "en": "MMM d, yyyy, h:mm a"}
DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "MMM d, yyyy"}


def ui_locale() -> str:
    """The UI language of this request (one of LOCALES), 'vi' outside a request."""
    from flask import has_request_context
    from flask_babel import get_locale

    code = str(get_locale() or "vi") if has_request_context() else "vi"
    return code if code in LOCALES else "vi"


def localtime(value: str | datetime | None, pattern: str | None = None) -> str:
    """A stored UTC time shown in the user's zone (default DEFAULT_TIMEZONE) in the UI language's format:
    `02/12/2026 04:25` in Vietnamese, `Dec 2, 2026, 4:25 AM` in English. `pattern` overrides the Babel
    pattern. A value that is not a time is shown as it is, so a bad row never breaks a page."""
    return localtimes(pattern)(value)


def localtimes(pattern: str | None = None) -> Callable[[str | datetime | None], str]:
    """The formatter behind localtime, for many values on one page: the locale, zone and parsed pattern are
    looked up once, not per value (a story page formats fifty times, and each lookup goes through
    Flask-Babel's request context)."""
    from babel.core import Locale
    from babel.dates import parse_pattern

    locale = ui_locale()
    zone, babel_locale = user_zone(), Locale.parse(locale)
    compiled = parse_pattern(pattern or DATETIME_PATTERNS[locale])

    def format_one(value: str | datetime | None) -> str:
        if not value:
            return "—"
        try:
            moment = db.from_iso(value) if isinstance(value, str) else value
        except ValueError:
            return str(value)
        return compiled.apply(moment.astimezone(zone), babel_locale)
    return format_one


def localdate(value: str | None) -> str:
    """A calendar date (YYYY-MM-DD, no zone: a follow-up's due date) in the UI language's short format:
    `02/12/2026` in Vietnamese, `Dec 2, 2026` in English. Anything else is shown as it is."""
    from babel.dates import format_date

    if not value:
        return "—"
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except (TypeError, ValueError):
        return str(value)
    locale = ui_locale()
    return format_date(day, DATE_PATTERNS[locale], locale=locale)


def safe_href(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) link, else None (the template then shows it as text only)."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc and not any(ch in url for ch in "\x00\r\n\t "):
        return url
    return None


ALLOWED_TAGS = {"p", "br", "ul", "ol", "li", "strong", "em", "b", "i", "code", "pre", "blockquote",
                "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "a"}


def sanitize(html: str | None) -> Markup:
    """Formatted text through an allow-list (nh3): no script, no event handlers, no style, http(s) links only."""
    import nh3

    return Markup(nh3.clean(html or "", tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                            url_schemes={"http", "https"}, link_rel="noopener noreferrer nofollow"))


@functools.cache
def _decimal_symbol(locale: str) -> str:
    from babel.numbers import get_decimal_symbol

    return get_decimal_symbol(locale)


def score(value: float | None) -> str:
    """A score or threshold to two decimals in the UI language's number format: 0,95 in Vietnamese (a
    Vietnamese reader takes 0.95 for a thousands separator), 0.95 in English. Babel gives the locale's decimal
    symbol once; formatting each of a queue page's scores through format_decimal cost ~5 ms a page."""
    if value is None:
        return "—"
    return f"{value:.2f}".replace(".", _decimal_symbol(ui_locale()))


def number(value: float | int | None) -> str:
    """A count or other number with the UI language's grouping and decimal symbols (1.234 / 1,234)."""
    from babel.numbers import format_decimal

    if value is None:
        return "—"
    return format_decimal(value, locale=ui_locale())


def label(word: str | None) -> str:
    """A word that reaches a template as data (a category, a status), translated when the catalog knows it.

    Unlike `_()` in a template, which marks its result safe and %-formats it, this returns plain text, so
    autoescape applies: a category name comes from a (custom) watchlist or a stored explanation.
    """
    from flask_babel import gettext

    return gettext(word) if word else ""


def select_locale() -> str:
    if getattr(current_user, "is_authenticated", False) and current_user.locale in LOCALES:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES, default="vi") if request.accept_languages else "vi"


def select_timezone() -> str:
    """The zone name for Babel and the report pages: the user's own, else the service default."""
    return getattr(current_user, "timezone", None) or DEFAULT_TIMEZONE


STATIC_MAX_AGE = 365 * 24 * 3600  # a versioned URL never changes content, so a browser may keep it a year


def content_version(data: bytes) -> str:
    """A short digest of a file's bytes: the `?v=` of its URL, so a changed file gets a new URL."""
    import hashlib

    return hashlib.sha256(data).hexdigest()[:12]


def static_version(app: Flask, filename: str) -> str | None:
    """The content version of a file under the app's static folder, read once per file per process (files
    change only with a deployment, which restarts the process); None when there is no such file."""
    from werkzeug.security import safe_join

    versions: dict[str, str | None] = app.extensions.setdefault("static_versions", {})
    if filename not in versions:
        path = safe_join(app.static_folder or "", filename)
        try:
            with open(path or "", "rb") as handle:
                versions[filename] = content_version(handle.read())
        except OSError:
            versions[filename] = None
    return versions[filename]


def _init_static_versions(app: Flask) -> None:
    """`url_for('static', ...)` adds `?v=<digest>`, and a request carrying the current digest may be cached
    for a year (immutable): pages never wait on a stale stylesheet or script after an upgrade."""

    @app.url_defaults
    def add_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = static_version(app, values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def cache_versioned(response):
        if request.endpoint == "static" and response.status_code == 200:
            filename = (request.view_args or {}).get("filename", "")
            if request.args.get("v") and request.args.get("v") == static_version(app, filename):
                response.cache_control.public = True
                response.cache_control.max_age = STATIC_MAX_AGE
                response.cache_control.immutable = True
        return response


def verdict(word: str | None) -> str:
    """A debunked claim's verdict in the UI language: a known English rating translated, any other as written
    (plain text: autoescape applies, the verdict comes from a fact-check feed)."""
    return label(verdict_key(word))


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["localdate"] = localdate
    app.jinja_env.filters["safe_href"] = safe_href
    app.jinja_env.filters["score"] = score
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["sanitize"] = sanitize
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["verdict"] = verdict
    app.jinja_env.globals["LOCALES"] = LOCALES
    _init_static_versions(app)

    @app.context_processor
    def inject() -> dict:
        from flask_babel import get_locale

        return {"current_locale": str(get_locale() or "vi")}

    @app.after_request
    def security_headers(response):
        # Defence in depth: even if some crawled markup slipped through escaping, no inline script,
        # no external resources, no framing.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
