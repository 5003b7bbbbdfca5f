"""Who may do what: Flask-Login users and the per-route role declaration.

Every view is wrapped by `roles(...)` (or marked public), and the route × role matrix test
walks the URL map to prove no route was left undeclared.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from flask import abort, g, request
from flask_login import LoginManager, UserMixin, current_user

import db.tokens
import db.users
from monitor.domain import DEFAULT_TIMEZONE, Role

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"

# Who may do what, by role group: views (`@roles(*MODERATE)`) and templates (`current_user.role in MODERATE`,
# globals set in create_app) read these, so a link is shown exactly to the roles its route lets in.
MODERATE = (Role.MODERATOR.value, Role.ADMIN.value)
READ = tuple(role.value for role in Role)
ANALYSE = (Role.ANALYST.value, Role.ADMIN.value)
ADMIN = (Role.ADMIN.value,)


@dataclass
class User(UserMixin):
    id: int
    name: str
    role: str
    locale: str = "vi"
    timezone: str = DEFAULT_TIMEZONE
    password_stamp: str = ""

    def get_id(self) -> str:
        """"<id>.<stamp>": the session names the password and session generation it was opened with,
        so resetting a password or logging out ends every session opened before."""
        return f"{self.id}.{self.password_stamp}"

    @classmethod
    def from_row(cls, row: dict) -> User:
        return cls(id=row["id"], name=row["name"], role=row["role"], locale=row.get("locale") or "vi",
                   timezone=row.get("timezone") or DEFAULT_TIMEZONE,
                   password_stamp=password_stamp(row.get("password_hash") or "",
                                                 int(row.get("session_generation") or 0)))


def password_stamp(password_hash: str, generation: int = 0) -> str:
    """A short digest of the stored hash and the user's session generation (bumped at logout).

    The signed session cookie is readable: it carries this digest, never the hash itself.
    """
    return hashlib.sha256(f"{password_hash}#{generation}".encode()).hexdigest()[:20]


def _look_up(find: Callable) -> dict | None:
    """`find(database)` for loading who is asking; None when the storage refuses the database (a full disk).

    Every request loads its user first (before_request, the locale, the page header), so an error here
    escaped on every page, /health included, as a 500. Instead the request goes on as anonymous, with the
    error kept in `g.storage_error`: /health and public pages answer, and a page that needs a login
    answers the storage's 503 (see `roles`) rather than a login form. Any other error is raised.
    """
    from web import get_db, storage_problem

    try:
        return find(get_db())
    except (*db.Error, OSError) as exc:
        if storage_problem(exc) is None:
            raise
        g.storage_error = exc
        return None


def refuse_if_storage_failed() -> None:
    """For a request that found nobody logged in: if that is because the storage refused the database
    (see _look_up), raise that error, which web/__init__.py answers with a 503 instead of a login page."""
    if "storage_error" in g:
        raise g.storage_error


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, stamp = session_id.partition(".")
    try:
        number = int(user_id)
    except ValueError:
        return None
    row = _look_up(lambda database: db.users.get_user(database, number))
    if not row or not row["active"]:
        return None
    user = User.from_row(row)
    return user if hmac.compare_digest(stamp, user.password_stamp) else None


@login_manager.request_loader
def load_token_user(req) -> User | None:
    """API requests authenticate with `Authorization: Bearer <token>` (only on /api/ routes)."""
    if not req.path.startswith("/api/"):
        return None
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    row = _look_up(lambda database: db.tokens.user_for_token(database, header[7:].strip()))
    if not row:
        return None
    g.token_auth = True
    return User.from_row(row)


def roles(*allowed: str) -> Callable:
    """Require login and one of `allowed` roles; records the roles on the view for the matrix test.

    Each name must be a `Role` (a typo fails when the module is imported, not as a 403 for everyone).
    """
    allowed = tuple(Role(name).value for name in allowed)

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def inner(*args, **kwargs):
            if not current_user.is_authenticated:
                refuse_if_storage_failed()
                if request.path.startswith("/api/"):
                    abort(401)
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        inner.roles = tuple(allowed)  # type: ignore[attr-defined]
        return inner

    return wrap


def public(view: Callable) -> Callable:
    view.roles = "public"  # type: ignore[attr-defined]
    return view
