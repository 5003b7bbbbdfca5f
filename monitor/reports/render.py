"""Format dispatch and file writing: the one place that knows which renderer makes which file."""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from pathlib import Path

import sqlite_utils

from monitor.config import ReportSettings
from monitor.domain import DEFAULT_TIMEZONE
from monitor.reports.build import build_report
from monitor.reports.model import Report
from monitor.reports.period import Period, iso_week, previous_full_week
from vocab.i18n import DEFAULT_LANGUAGE

FORMATS = ("html", "xlsx", "csv", "json", "pdf", "docx")
# What a report costs beyond its items: a table row per local day everywhere, and a chart bar per day in
# html and pdf (matplotlib). Seconds per day, and per item scanned (build + item rows), measured on the
# 2-core reference machine under load: 10 years / 20,000 items took 0.7 s to build, then html 17 s, pdf 20 s,
# xlsx 0.7 s, json 0.3 s, csv 0.2 s (issue 15 item 12). Used for an estimate, so rounded up.
# docx: one chart bar per day in its daily chart (matplotlib PNG), measured like pdf.
SECONDS_PER_DAY = {"html": 0.005, "pdf": 0.006, "xlsx": 0.0002, "json": 0.0001, "csv": 0.0001, "docx": 0.006}
SECONDS_PER_ITEM = 0.0001


def render(report: Report, fmt: str, *, settings: ReportSettings | None = None) -> bytes:
    """The report as bytes in one format (csv gives the items/decisions file). `settings` (feeds.yaml
    `settings: report:`) is the DOCX's issuing body, place, signer and recipients; the other formats ignore it."""
    if fmt == "csv":
        from monitor.reports import csv
        return csv.render_items(report)
    if fmt == "json":
        from monitor.reports import json
        return json.render(report)
    if fmt == "html":
        from monitor.reports import html
        return html.render_document(report).encode("utf-8")
    if fmt == "xlsx":
        from monitor.reports import xlsx
        return xlsx.render(report)
    if fmt == "pdf":
        from monitor.reports import pdf
        return pdf.render(report)
    if fmt == "docx":
        from monitor.reports import docx
        return docx.render(report, settings)
    raise ValueError(f"unknown report format '{fmt}' (expected one of: {', '.join(FORMATS)})")


def figures_path(out: Path) -> Path:
    return out.with_name(out.stem + ".figures.csv")


def estimate_seconds(items: int, days: int, fmt: str) -> float:
    """Roughly how long building and writing a report of `days` local days over `items` items takes."""
    return items * SECONDS_PER_ITEM + days * SECONDS_PER_DAY[fmt]


# File name endings that say which format a file is; an --out with one of them must match the format asked for.
_FORMAT_SUFFIXES = {".html", ".htm", ".xlsx", ".csv", ".json", ".jsonl", ".pdf", ".docx"}


def output_problem(out: Path, fmt: str, database: str | Path | None = None, *, example: str = "report") -> str | None:
    """Why a file cannot be written at `out`, checked before the work starts; None when it can.

    A mistyped folder is an error rather than created: the committee would look for the report where
    they meant it to go (issue 15 item 4). The database and its own files are never replaced, nor is
    anything that is not a regular file (a device, a pipe): the file is written under a temporary name
    and renamed over `out`, which would replace the live database or a device node (hostile review item 3). Last, a name whose
    ending says another format is refused: the file would open in the wrong program.
    """
    if out.is_dir():
        return f"is a folder; give a file name, e.g. {out / f'{example}.{fmt}'}"
    if not out.parent.is_dir():
        return f"the folder {out.parent} does not exist (create it first, or fix the path)"
    for path in _written_paths(out, fmt):
        if database is not None and _is_database_file(path, Path(database)):
            return (f"is the database {database} or one of its files (names beginning with "
                    f"{Path(database).name!r} are kept for them); choose another name")
        if path.exists() and not path.is_file():
            return f"{path} exists and is not a regular file (a device, a pipe or a socket); choose a file name"
    suffix = out.suffix.lower()
    if suffix in _FORMAT_SUFFIXES and suffix != f".{fmt}":  # a DOCX named .pdf opens as a broken PDF
        return f"ends in {suffix} but the format is {fmt}; name it {out.with_suffix('.' + fmt).name}"
    return None


def _written_paths(out: Path, fmt: str) -> list[Path]:
    """Every path write_report() writes or renames for `out`."""
    return [out, _temporary(out)] + ([figures_path(out)] if fmt == "csv" else [])


def _temporary(out: Path) -> Path:
    return out.with_name(out.name + ".tmp")


def _is_database_file(path: Path, database: Path) -> bool:
    """True for the database and the files SQLite and the service keep beside it (<db>-wal, -shm, -journal,
    .secret, .audit-key, .audit-checkpoints.jsonl, .lock, .runs.lock, ...): all are named <db>…, so the
    rule is the name, spelled as given or with links resolved, plus a hard link to the database itself."""
    spellings = {Path(os.path.abspath(database)), database.resolve()}
    for candidate in {Path(os.path.abspath(path)), path.resolve()}:
        if any(candidate.parent == base.parent and candidate.name.startswith(base.name) for base in spellings):
            return True
    try:
        return os.path.samefile(path, database)
    except OSError:  # either one missing
        return False


def write_report(report: Report, fmt: str, out: str | Path, *, settings: ReportSettings | None = None) -> list[Path]:
    """Write the report to `out` (its folder must exist); CSV also writes `<stem>.figures.csv` with every
    figure. Returns the paths. A write that fails leaves no temporary file and names `out`."""
    out = Path(out)
    data = render(report, fmt, settings=settings)
    tmp = _temporary(out)
    try:
        tmp.write_bytes(data)
        tmp.replace(out)  # never leave a half-written report where the committee would pick it up
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(out)) from exc
    written = [out]
    if fmt == "csv":
        from monitor.reports import csv
        figures = figures_path(out)
        figures.write_bytes(csv.render_figures(report))
        written.append(figures)
    return written


def write_weekly(database: sqlite_utils.Database, reports_dir: str | Path, week: str | Period | None = None,
                 formats: tuple[str, ...] = FORMATS, *,
                 now: datetime | None = None, zone: str = DEFAULT_TIMEZONE, redact: bool = False,
                 lang: str = DEFAULT_LANGUAGE, settings: ReportSettings | None = None,
                 failures: dict[str, Exception] | None = None) -> list[Path]:
    """Build one week's report (default: the previous full week) in `lang` and write it in `formats` under
    reports_dir.

    Files are named report-<week>.<ext>; for the scheduler's weekly job (settings.report.lang). With
    `failures` (the weekly job's), a format that raises is put there and the others are still written, so one
    format's bug does not leave the committee without the DOCX; without it, the first error propagates.
    """
    if isinstance(week, Period):
        period = week
    elif week:
        period = iso_week(week, zone)
    else:
        period = previous_full_week(now, zone)
    report = build_report(database, period, redact=redact, lang=lang)
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)  # the scheduler's own folder, from settings
    written: list[Path] = []
    for fmt in formats:
        try:
            written += write_report(report, fmt, reports_dir / f"report-{period.label}.{fmt}", settings=settings)
        except Exception as exc:
            if failures is None:
                raise
            failures[fmt] = exc
    return written
