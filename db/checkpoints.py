"""Signed checkpoints of the decision log, appended to a file beside the database and to the log.

A checkpoint says "the log held decisions 1..n and decision n's hash was H, at time T", signed with
the audit key (HMAC-SHA256). Written after every decision and on demand (`monitor audit checkpoint`),
to `<database>.audit-checkpoints.jsonl` (opened append-only, mode 0600) and as an INFO log line, it is
what lets verification see rows deleted from the end, or the whole log wiped, even by someone who can
rewrite the database and its own record of the head: those rows are below a checkpoint's count.

Lines written since the follow-up log (db/followups.py) also sign its length and head ("fn", "fhead"),
so follow-up entries deleted from its end are caught the same way; lines without them (written before)
are signed over the other fields only, and verify as they did.

Lines may arrive out of order (two processes deciding at once); each is checked on its own.

Where the file is: in the folder MONITOR_STATE_DIR names when set (`<database file name>` or, on PostgreSQL,
`<database name>` + `.audit-checkpoints.jsonl`), else beside the database file. A PostgreSQL database has
no file, and the checkpoints must not live in the database they guard, so there MONITOR_STATE_DIR is
required: path_for raises KeyFileError saying so in one line (a decision is still recorded; anchor() logs
it). Processes on several machines should share that folder (a network mount: each checkpoint is one
O_APPEND write) or each machine's file anchors the decisions its own processes took, and verify on a
machine checks the checkpoints it finds there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from db import dialect, file_path, utcnow
from db.keys import KeyFileError, key_id

SUFFIX = ".audit-checkpoints.jsonl"
STATE_DIR_ENV = "MONITOR_STATE_DIR"
KINDS = ("checkpoint", "rekey")
# A written line is about 250 characters; anything much longer was not written here, and is not parsed
# (a line of nested brackets would otherwise exhaust the JSON decoder's recursion, or the memory).
MAX_LINE_CHARS = 4096
_HEX = frozenset("0123456789abcdef")

log = logging.getLogger("monitor.audit")


@dataclass(frozen=True)
class Checkpoint:
    kind: str  # "checkpoint", or "rekey": the rows hashed the old way end at n and were verified then
    n: int  # decisions 1..n (ids run from 1 without gaps)
    head: str  # row_hash of decision n (GENESIS when n is 0)
    at: str  # UTC ISO 8601
    key: str  # key_id() of the signing key
    mac: str
    line: int = 0  # line number in the file, when read from one
    fn: int | None = None  # follow-up log entries 1..fn (None on lines written before it was signed)
    fhead: str | None = None  # row_hash of follow-up log entry fn (GENESIS when fn is 0)

    def as_json(self) -> str:
        entry = {"kind": self.kind, "n": self.n, "head": self.head, "at": self.at, "key": self.key}
        if self.fn is not None:
            entry.update(fn=self.fn, fhead=self.fhead)
        return json.dumps({**entry, "mac": self.mac}, separators=(",", ":"))


def path_for(database: sqlite_utils.Database) -> Path | None:
    """The checkpoint file (see the module's docstring); None for an in-memory SQLite database."""
    folder = os.environ.get(STATE_DIR_ENV)
    if dialect(database) == "postgresql":
        if not folder:
            raise KeyFileError(f"on PostgreSQL the audit checkpoints cannot live beside the database: set "
                               f"{STATE_DIR_ENV} to a folder for them (shared by every machine that decides)")
        name = database.conn.execute("SELECT current_database()").fetchone()[0]
        return Path(folder).expanduser() / (name + SUFFIX)
    file = file_path(database)
    if file is None:
        return None
    return Path(folder).expanduser() / (Path(file).name + SUFFIX) if folder else Path(file + SUFFIX)


def _mac(key: bytes, kind: str, n: int, head: str, at: str, signer: str,
         followups: tuple[int, str] | None = None) -> str:
    """The signature; the follow-up fields are signed when present, so stripping them breaks it."""
    fields = ["audit-checkpoint", kind, n, head, at, signer, *(followups or ())]
    payload = json.dumps(fields, separators=(",", ":"))
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(key: bytes, kind: str, n: int, head: str, at: str | None = None,
         followups: tuple[int, str] | None = None) -> Checkpoint:
    """A checkpoint of decisions 1..n ending at `head`, and of the follow-up log's (length, head) if given."""
    at = at or utcnow()
    signer = key_id(key)
    fn, fhead = followups if followups is not None else (None, None)
    return Checkpoint(kind, n, head, at, signer, _mac(key, kind, n, head, at, signer, followups), fn=fn, fhead=fhead)


def is_signed_by(checkpoint: Checkpoint, key: bytes) -> bool:
    if not _is_hex(checkpoint.mac, 64):  # compare_digest refuses non-ASCII text: an edited line is just unsigned
        return False
    followups = None if checkpoint.fn is None else (checkpoint.fn, checkpoint.fhead)
    expected = _mac(key, checkpoint.kind, checkpoint.n, checkpoint.head, checkpoint.at, checkpoint.key, followups)
    return hmac.compare_digest(expected, checkpoint.mac)


def append(database: sqlite_utils.Database, key: bytes, kind: str, n: int, head: str,
           followups: tuple[int, str] | None = None) -> Checkpoint:
    """Sign and write one checkpoint (one write() on an O_APPEND descriptor) and log it; `followups` is
    the follow-up log's (length, head), signed with it.

    Raises OSError when the file cannot be written; the log line is emitted first either way.
    """
    checkpoint = sign(key, kind, n, head, followups=followups)
    extra = {"audit_kind": kind, "audit_n": n, "audit_head": head, "audit_at": checkpoint.at,
             "audit_key": checkpoint.key, "audit_mac": checkpoint.mac}
    if followups is not None:
        extra.update(audit_fn=checkpoint.fn, audit_fhead=checkpoint.fhead)
    log.info("audit checkpoint", extra=extra)
    path = path_for(database)
    if path is not None:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, (checkpoint.as_json() + "\n").encode("utf-8"))
        finally:
            os.close(descriptor)
    return checkpoint


def _is_hex(value: object, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and _HEX.issuperset(value)


def _parse(text: str, number: int) -> Checkpoint:
    if len(text) > MAX_LINE_CHARS:
        raise ValueError(f"longer than {MAX_LINE_CHARS} characters; a checkpoint has a few hundred")
    try:
        entry = json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    kind, n, head, at, signer, mac = (entry.get(k) for k in ("kind", "n", "head", "at", "key", "mac"))
    if kind not in KINDS:
        raise ValueError(f"field 'kind': unknown kind {kind!r}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"field 'n': not a count: {n!r}")
    if not isinstance(at, str) or not at:
        raise ValueError("field 'at': missing or not text")
    for field, value, length in (("head", head, 64), ("key", signer, 16), ("mac", mac, 64)):
        if not _is_hex(value, length):
            raise ValueError(f"field '{field}': not {length} lowercase hex digits")
    fn, fhead = _followup_fields(entry)
    return Checkpoint(kind, n, head, at, signer, mac, number, fn, fhead)


def _followup_fields(entry: dict) -> tuple[int | None, str | None]:
    """The optional follow-up log fields: both or neither (lines from before them have neither)."""
    fn, fhead = entry.get("fn"), entry.get("fhead")
    if fn is None and fhead is None:
        return None, None
    if not isinstance(fn, int) or isinstance(fn, bool) or fn < 0:
        raise ValueError(f"field 'fn': not a count: {fn!r:.40}")
    if not _is_hex(fhead, 64):
        raise ValueError("field 'fhead': not 64 lowercase hex digits")
    return fn, fhead


def read(path: Path) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint in the file, and a problem (file:line: why) for each line that is not one."""
    checkpoints, problems = [], []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(_lines(handle), start=1):
            if not text.strip():
                continue
            try:
                checkpoints.append(_parse(text, number))
            except ValueError as error:  # json.JSONDecodeError is a ValueError
                problems.append(f"{path}:{number}: not a checkpoint ({error}): the file was edited")
    return checkpoints, problems


def _lines(handle):
    """The file's lines, each cut after MAX_LINE_CHARS + 1 characters (the rest is read and dropped), so a
    line too long to be a checkpoint is never held whole in memory."""
    while text := handle.readline(MAX_LINE_CHARS + 1):
        if len(text) > MAX_LINE_CHARS and not text.endswith("\n"):
            while (rest := handle.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                pass
        yield text
