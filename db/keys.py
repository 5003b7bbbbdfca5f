"""Secrets kept beside the database file, never in it.

Anyone who can read or write the database (a Datasette on the live file, a backup, a shell account) must
not be able to forge what a secret protects, so a secret lives in an environment variable or in a file
next to the database with mode 0600. The file is written whole under a temporary name and linked into
place, so two processes starting at once agree on one secret and neither reads a half-written file.

The audit key (`<database>.audit-key`, or MONITOR_AUDIT_KEY) keys the decision log's row hashes and
signs its checkpoints (db/decisions.py, db/checkpoints.py). It is a separate secret from the web
session key: leaking one must not give the other.

Where the audit key is read from, first found wins: MONITOR_AUDIT_KEY (the key itself), the file named by
MONITOR_AUDIT_KEY_FILE (made on first use like the default one), else `<database file>.audit-key`. A
PostgreSQL database has no file to sit beside, and the rule holds there too — the key never lives in the
database it protects — so on PostgreSQL one of the two settings is required (the same value on every
machine that decides or verifies), and KeyFileError says so in one line when neither is set.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import threading
from pathlib import Path

import sqlite_utils

from db import dialect, file_path

AUDIT_KEY_ENV = "MONITOR_AUDIT_KEY"
AUDIT_KEY_FILE_ENV = "MONITOR_AUDIT_KEY_FILE"  # the path of a file holding the key
AUDIT_KEY_SUFFIX = ".audit-key"
MIN_SECRET_CHARS = 32

_cache: dict[str, bytes] = {}
_cache_lock = threading.Lock()
# An in-memory database lives and dies with this process; so does its key.
_EPHEMERAL = secrets.token_hex(32).encode()


class KeyFileError(Exception):
    """A secret that cannot be read, is missing or is exposed; the message names the file and the fix."""


def secret_beside(path: Path, *, what: str, create: bool) -> str | None:
    """The secret in `path` (made first when `create` and absent); None when absent and not created.

    A file other users can read is refused: whoever reads it could forge what it protects.
    """
    if not path.exists():
        if not create:
            return None
        _create_secret_file(path, what)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise KeyFileError(f"cannot read the {what} file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:  # the service writes hex: bytes that are not UTF-8 were put there by hand
        raise KeyFileError(f"the {what} file {path} is not UTF-8 text: it was replaced or damaged "
                           "(restore it from your backup)") from None
    if mode & 0o077:
        raise KeyFileError(f"the {what} file {path} can be read by other users (mode {mode:o}): chmod 600 {path}")
    if len(text) < MIN_SECRET_CHARS:
        raise KeyFileError(f"the {what} file {path} holds no usable key (fewer than {MIN_SECRET_CHARS} characters)")
    return text


def checked_variable(variable: str, value: str) -> str:
    """A secret given in an environment variable, held to a key file's rules (UTF-8, long enough)."""
    try:
        value.encode("utf-8")  # bytes that are not UTF-8 arrive as lone surrogates
    except UnicodeEncodeError:
        raise KeyFileError(f"{variable} is not UTF-8 text; set it to the key you keep (for example "
                           "the output of `openssl rand -hex 32`)") from None
    if len(value) < MIN_SECRET_CHARS:
        raise KeyFileError(f"{variable} is too short: at least {MIN_SECRET_CHARS} characters "
                           "(for example the output of `openssl rand -hex 32`)")
    return value


def secret_from_environment(variable: str, file_variable: str, *, what: str) -> str | None:
    """The secret in `variable`, else in the file `file_variable` names; None when neither is set.

    A named file that is missing is an error: a typo must not fall back to a key made on the spot.
    """
    value = os.environ.get(variable)
    if value:
        return checked_variable(variable, value)
    named = os.environ.get(file_variable)
    if not named:
        return None
    text = secret_beside(Path(named), what=what, create=False)
    if text is None:
        raise KeyFileError(f"the {what} file {named} named by {file_variable} does not exist")
    return text


def required_on_postgresql(variable: str, file_variable: str, *, what: str) -> KeyFileError:
    """The error for a PostgreSQL installation with neither `variable` nor `file_variable` set."""
    return KeyFileError(f"on PostgreSQL the {what} must be set in {variable} or in a file named by "
                        f"{file_variable}, the same on every machine (for example the output of "
                        "`openssl rand -hex 32`)")


def _create_secret_file(path: Path, what: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    except OSError as error:
        raise KeyFileError(f"cannot create the {what} file {path}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)


def audit_key_path(database: sqlite_utils.Database) -> Path | None:
    """Where the audit key file is (or would be): MONITOR_AUDIT_KEY_FILE, else `<database>.audit-key`;
    None in memory. On PostgreSQL without MONITOR_AUDIT_KEY_FILE: KeyFileError (there is no database file)."""
    named = os.environ.get(AUDIT_KEY_FILE_ENV)
    if named:
        return Path(named).expanduser()
    if dialect(database) == "postgresql":
        raise KeyFileError(f"on PostgreSQL the audit key cannot live beside the database: set {AUDIT_KEY_ENV} "
                           f"to the key, or {AUDIT_KEY_FILE_ENV} to a key file's path (made if absent)")
    file = file_path(database)
    return None if file is None else Path(file + AUDIT_KEY_SUFFIX)


def audit_key_source(database: sqlite_utils.Database) -> str:
    """Where the audit key comes from, for messages (never raises)."""
    if os.environ.get(AUDIT_KEY_ENV):
        return AUDIT_KEY_ENV
    try:
        path = audit_key_path(database)
    except KeyFileError:
        return f"(none: set {AUDIT_KEY_ENV} or {AUDIT_KEY_FILE_ENV})"
    return str(path or "this process (in-memory database)")


def audit_key(database: sqlite_utils.Database, *, create: bool = False, cached: bool = True) -> bytes | None:
    """The audit key: MONITOR_AUDIT_KEY, else the key file (MONITOR_AUDIT_KEY_FILE or `<database>.audit-key`,
    made when `create`); None if absent. KeyFileError on PostgreSQL when neither setting is there.

    Cached per file, so a decision reads no file; `cached=False` (verification) reads it afresh and
    leaves the cache alone: a key file replaced under a running service does not change what it signs with.
    """
    value = os.environ.get(AUDIT_KEY_ENV)
    if value:
        return checked_variable(AUDIT_KEY_ENV, value).encode("utf-8")
    path = audit_key_path(database)
    if path is None:
        return _EPHEMERAL
    with _cache_lock:
        if cached and str(path) in _cache:
            return _cache[str(path)]
        text = secret_beside(path, what="audit key", create=create)
        if text is None:
            return None
        key = text.encode("utf-8")
        if cached:  # a fresh read never replaces the key this process signs with
            _cache[str(path)] = key
        return key


def key_id(key: bytes) -> str:
    """A short public name for a key, written on checkpoints so verify can say "signed with another key"."""
    return hashlib.sha256(b"monitor audit key id\0" + key).hexdigest()[:16]
