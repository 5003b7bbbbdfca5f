"""Redaction of personal data in exports: e-mail addresses, phone numbers, Vietnamese citizen IDs.

Applied to the Report before rendering, so every format is redacted the same way; the markers are in
the report's language ("[số điện thoại]" / "[phone]").
"""

from __future__ import annotations

import dataclasses
import re

from vocab.i18n import N_

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Vietnamese phones: +84 / 84 / 0 then 9–10 digits, with optional spaces, dots or dashes between groups.
PHONE = re.compile(r"(?<![\w+])(?:\+?84|0)(?:[ .\-]?\d){8,10}(?!\d)")
# Citizen IDs: CCCD has 12 digits, the older CMND 9 digits (standalone digit runs).
CITIZEN_ID = re.compile(r"(?<!\d)(?:\d{12}|\d{9})(?!\d)")

EMAIL_MARK, PHONE_MARK, ID_MARK = N_("[email]"), N_("[phone]"), N_("[id]")
MARKS = (EMAIL_MARK, PHONE_MARK, ID_MARK)


def redact_text(text: str, marks: tuple[str, str, str] = MARKS) -> str:
    """Replace e-mails, then phone numbers, then 12/9-digit citizen IDs with neutral markers (`marks`, in
    that order: the English ones unless a report gives its language's)."""
    if not text:
        return text
    email, phone, citizen_id = marks
    text = EMAIL.sub(lambda _: email, text)  # a function: the marker is taken as written, never as a pattern
    text = PHONE.sub(lambda _: phone, text)
    return CITIZEN_ID.sub(lambda _: citizen_id, text)


def strip_personal(text: str) -> str:
    """Personal data removed outright (for term counting, where a marker would itself become a term)."""
    return CITIZEN_ID.sub(" ", PHONE.sub(" ", EMAIL.sub(" ", text or "")))


def redact_report(report):
    """A copy of the report with every text cell redacted (numbers and times are left alone), the markers
    in the report's language."""
    from monitor.reports.display import wording

    w = wording(report.lang)
    marks = tuple(w.gettext(mark) for mark in MARKS)

    def _clean(value):
        return redact_text(value, marks) if isinstance(value, str) else value

    def table(t):
        return dataclasses.replace(t, rows=[[_clean(cell) if column not in _KEEP else cell
                                             for column, cell in zip(t.columns, row, strict=False)] for row in t.rows])
    return dataclasses.replace(report, tables=[table(t) for t in report.tables], items=table(report.items),
                               redacted=True)


# Columns that are machine values (times, statuses), never personal data; redacting them could only break them.
_KEEP = {"first_seen_utc", "first_seen_local", "decided_at_utc", "decided_at_local", "day", "status_now",
         "old_status", "new_status", "action", "flag_reasons", "model_version", "first_seen", "last_seen"}
