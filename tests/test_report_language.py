"""The report reads in Vietnamese (the default) in every format, and in English when asked (issue 13 §1).

Each format's human-facing text is collected the way a reader meets it (the HTML's visible text and
chart labels, the PDF's text, the XLSX's sheet names, cells and chart titles, the CSV files, the JSON's
titles, notes and labels) and scanned for raw keys (snake_case) and English words.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from html.parser import HTMLParser

import pytest

from monitor.cli import main
from monitor.reports import build_report, iso_week, render
from monitor.reports.csv import render_figures
from tests.test_report_build import build_world
from tests.test_report_response import add_followups

SNAKE_CASE = re.compile(r"\b[a-z]+_[a-z_]+\b")
# Words of the English report (headings, labels, coded values, page furniture) that must not be left in the
# Vietnamese one (not "web": Vietnamese says "trang web"). The test world's own data (source "Old English", notes
# such as "new evidence") is not here.
ENGLISH = ("report", "items", "item", "figure", "previous", "change", "top", "source", "sources", "summary",
           "daily", "decisions", "backlog", "precision", "charts", "coverage", "crawled", "flagged", "page",
           "period", "category", "outcome", "status", "nothing", "admin", "rows", "week", "generated", "compared",
           "redacted", "confirmed", "dismissed", "escalated", "misinformation", "harm", "median", "unknown",
           "gone dark", "paused", "failing", "yes", "sheet", "glance", "percentile", "zone", "moderator",
           "kind", "language", "title", "note", "action", "decided", "terms", "stories", "spread", "phone",
           "email", "follow-up", "follow-ups", "takedown", "rebuttal", "rebuttals", "referral", "referrals",
           "agency", "police", "pending", "removed", "overdue", "open")
ENGLISH_WORD = re.compile(r"\b(" + "|".join(re.escape(word) for word in ENGLISH) + r")\b", re.IGNORECASE)


class _VisibleText(HTMLParser):
    """The text a reader sees (and a screen reader reads): text nodes outside <style>/<script>, and labels."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self.hidden += 1
        self.parts += [value for name, value in attrs if name in ("aria-label", "title", "alt") and value]

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.parts.append(data.strip())


def html_text(data: bytes) -> str:
    parser = _VisibleText()
    parser.feed(data.decode("utf-8"))
    return "\n".join(parser.parts)


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def xlsx_text(data: bytes) -> str:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    parts = list(workbook.sheetnames)
    for sheet in workbook.worksheets:
        parts += [value for row in sheet.iter_rows(values_only=True) for value in row if isinstance(value, str)]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # chart titles
        for name in archive.namelist():
            if name.startswith("xl/charts/"):
                parts += re.findall(r"<a:t>([^<]*)</a:t>", archive.read(name).decode("utf-8"))
    return "\n".join(parts)


def csv_text(report) -> str:
    return (render(report, "csv") + render_figures(report)).decode("utf-8")


def json_text(data: bytes) -> str:
    """What JSON holds for people: each table's title, note and column labels, and the report's notes."""
    document = json.loads(data)
    parts = list(document["meta"]["notes"])
    for table in [*document["tables"].values(), document["items"]]:
        parts += [table["title"], table["note"], *table["labels"]]
    return "\n".join(parts)


def every_format(report) -> dict[str, str]:
    return {"html": html_text(render(report, "html")), "pdf": pdf_text(render(report, "pdf")),
            "xlsx": xlsx_text(render(report, "xlsx")), "csv": csv_text(report), "json": json_text(render(report, "json"))}


@pytest.fixture()
def world(tmp_db):
    """The hand-built week with its follow-ups (the Response section's rows in words too)."""
    build_world(tmp_db)
    add_followups(tmp_db)
    return tmp_db


def test_every_format_reads_in_vietnamese_without_keys_or_english_words(world):
    report = build_report(world, iso_week("2026-W47"))  # Vietnamese is the default
    assert report.lang == "vi"
    for fmt, text in every_format(report).items():
        assert "Tóm tắt" in text, fmt
        assert SNAKE_CASE.findall(text) == [], fmt
        assert sorted(set(ENGLISH_WORD.findall(text))) == [], fmt
    html = render(report, "html").decode("utf-8")
    assert '<html lang="vi">' in html
    assert "<th>Bị gắn cờ</th>" in html  # a stored key as a heading reads with a capital
    visible = html_text(render(report, "html"))
    # Vietnamese numbers and dates (HTML, PDF and the charts' labels)
    assert "0,75" in visible and "-0,25" in visible and "16/11/2026" in visible and "16/11" in visible
    assert "Báo cáo 2026-W47 · trang 1" in pdf_text(render(report, "pdf"))


def test_a_redacted_report_reads_in_vietnamese_too(world):
    report = build_report(world, iso_week("2026-W47"), redact=True)
    for fmt, text in every_format(report).items():
        assert SNAKE_CASE.findall(text) == [], fmt
        assert sorted(set(ENGLISH_WORD.findall(text))) == [], fmt
        assert fmt == "json" or "[số điện thoại]" in text, fmt
    assert "đã ẩn dữ liệu cá nhân" in html_text(render(report, "html"))


def test_an_empty_report_reads_in_vietnamese_too(tmp_db):
    report = build_report(tmp_db, iso_week("2026-W30"))
    for fmt, text in every_format(report).items():
        assert SNAKE_CASE.findall(text) == [], fmt
        assert sorted(set(ENGLISH_WORD.findall(text))) == [], fmt
    assert "Không có dữ liệu trong kỳ này." in html_text(render(report, "html"))


def test_the_english_report_still_reads_in_english(world):
    report = build_report(world, iso_week("2026-W47"), lang="en")
    texts = every_format(report)
    for fmt, text in texts.items():
        assert SNAKE_CASE.findall(text) == [], fmt
        assert len(set(ENGLISH_WORD.findall(text))) > 10, fmt  # the scan above would have caught it
        assert "Items crawled" in text or "Summary" in text, fmt
    assert "Monitoring report: week 47 of 2026 (2026-11-16 – 2026-11-22)" in texts["html"]
    assert "What did we watch?" in texts["pdf"] and "Report 2026-W47 · page 1" in texts["pdf"]
    assert "What did we do about it?" in texts["html"] and "Takedown requested" in texts["html"]
    assert "Department of Culture/Information" in texts["html"] and "Open follow-ups" in texts["xlsx"]
    assert "Takedown requests, by outcome" in texts["pdf"]
    assert "Confirmed misinformation" in texts["xlsx"] and "Summary" in texts["xlsx"]
    assert "Confirm misinformation" in texts["csv"] and "Flagged" in texts["csv"]
    assert "0.75" in texts["html"] and "Vietnamese" in texts["html"]
    assert '<html lang="en">' in render(report, "html").decode("utf-8")
    assert json.loads(render(report, "json"))["meta"]["lang"] == "en"


def test_cli_lang_chooses_the_language_and_a_bad_one_is_one_line_naming_it(tmp_path, db_path, tmp_db, capsys):
    build_world(tmp_db)
    for lang, words in (("vi", "Chỉ số"), ("en", "Figure")):
        out = tmp_path / f"r-{lang}.csv"
        assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", "csv", "--lang", lang,
                     "--out", str(out)]) == 0
        figures = (tmp_path / f"r-{lang}.figures.csv").read_text("utf-8-sig")
        assert next(csv.reader(io.StringIO(figures)))[0] == {"vi": "Bảng", "en": "Table"}[lang]
        assert words not in figures or lang == "en"
    out = tmp_path / "default.json"
    assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", "json", "--out", str(out)]) == 0
    assert json.loads(out.read_text("utf-8"))["meta"]["lang"] == "vi"
    capsys.readouterr()
    assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--lang", "de"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lang" in err and "'de'" in err and "vi, en" in err


def test_the_weekly_job_writes_in_the_settings_language(tmp_db, tmp_path):
    from datetime import UTC, datetime

    from monitor.config import load_text
    from monitor.reports import write_weekly

    build_world(tmp_db)
    settings = load_text("settings:\n  report:\n    lang: en\nsources: []\n").settings
    assert settings.report.lang == "en"
    assert load_text("sources: []\n").settings.report.lang == "vi"
    paths = write_weekly(tmp_db, tmp_path, formats=("json",), now=datetime(2026, 11, 23, 1, 0, tzinfo=UTC),
                         lang=settings.report.lang)
    assert json.loads(paths[0].read_text("utf-8"))["meta"]["lang"] == "en"


@pytest.mark.parametrize(("text", "line", "field"), [
    ("settings:\n  report:\n    lang: de\nsources: []\n", 3, "report.lang"),
    ("settings:\n  report:\n    langue: vi\nsources: []\n", 3, "report.langue"),
    ("settings:\n  report: vi\nsources: []\n", 2, "report"),
    # hostile review: a null line printed "NONE" above the signature; control characters (NUL, ESC, a bidi
    # override) went into the document's header and the e-mail's To: name
    ("settings:\n  report:\n    signer_title: [null, TRƯỞNG BAN]\nsources: []\n", 3, "report.signer_title"),
    ('settings:\n  report:\n    agency: "BAN\\x00CHỈ ĐẠO"\nsources: []\n', 3, "report.agency"),
    ('settings:\n  report:\n    place: "\\u202eThanh Hóa"\nsources: []\n', 3, "report.place"),
    ('settings:\n  report:\n    recipients: [{name: "Ông A\\x1b[31m", email: a@b.vn}]\nsources: []\n', 3,
     "report.recipients"),
])
def test_a_bad_report_setting_names_its_line_and_field(text, line, field):
    from monitor.config import ConfigError, load_text

    with pytest.raises(ConfigError) as caught:
        load_text(text, "feeds.yaml")
    assert caught.value.line == line and f"{field}" in str(caught.value) and "\n" not in str(caught.value)


def docx_text(data: bytes) -> str:
    """The DOCX's paragraphs and the cells of its tables (the header block, the figures, the signature)."""
    from docx import Document

    document = Document(io.BytesIO(data))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(part for part in parts if part)


def test_the_docx_reads_in_vietnamese_and_in_english_with_lang(world, tmp_path, db_path):
    text = docx_text(render(build_report(world, iso_week("2026-W47")), "docx"))
    assert "BÁO CÁO" in text and "Tin thu thập" in text
    assert SNAKE_CASE.findall(text) == []
    assert sorted(set(ENGLISH_WORD.findall(text))) == []
    out = tmp_path / "w47-en.docx"
    assert main(["--db", str(db_path), "--feeds", str(tmp_path / "none.yaml"), "report", "--week", "2026-W47",
                 "--format", "docx", "--lang", "en", "--out", str(out)]) == 0
    english = docx_text(out.read_bytes())
    assert "REPORT" in english and "I. OVERALL SITUATION" in english and "Items crawled" in english
    assert SNAKE_CASE.findall(english) == [] and len(set(ENGLISH_WORD.findall(english))) > 10
