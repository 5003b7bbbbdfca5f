"""Template helpers: local times, safe links, translations.

Crawled text is rendered only through Jinja's autoescape; links are emitted as hrefs only when
their scheme is http or https, so a `javascript:` URL in a feed is shown as text, never clicked.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, request, session
from flask_babel import Babel
from flask_login import current_user
from markupsafe import Markup

import db
from monitor.domain import DEFAULT_TIMEZONE

LOCALES = ("vi", "en")


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


def localtime(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time shown in the user's zone (default DEFAULT_TIMEZONE), with the zone's offset."""
    if not value:
        return "—"
    try:
        moment = db.from_iso(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    local = moment.astimezone(user_zone())
    return local.strftime(fmt) + " " + local.strftime("%z")[:3]


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


def score(value: float | None) -> str:
    """A score or threshold to two decimals in the UI language's number format: 0,95 in Vietnamese (a
    Vietnamese reader takes 0.95 for a thousands separator), 0.95 in English."""
    if value is None:
        return "—"
    from babel.numbers import get_decimal_symbol
    from flask_babel import get_locale

    return f"{value:.2f}".replace(".", get_decimal_symbol(get_locale() or "vi"))


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


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["safe_href"] = safe_href
    app.jinja_env.filters["score"] = score
    app.jinja_env.filters["sanitize"] = sanitize
    app.jinja_env.filters["label"] = label
    app.jinja_env.globals["LOCALES"] = LOCALES

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
