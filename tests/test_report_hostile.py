"""Crawled titles are untrusted: whatever a page calls itself must reach every format of the report safely, and
must never stop the weekly job (one format failing left the week without its e-mail: write_weekly raises before
deliver_week). Hostile review of issue 13."""

from __future__ import annotations

import io
import zipfile

import pytest
from lxml import etree

from monitor.reports import build_report, iso_week, render
from tests.test_report_build import build_world
from tests.test_report_language import pdf_text

LONG_WORD = "Ạ" * 5000  # no space to break at
NONCHARACTERS = "Tin \ufffe giả \uffff lan truyền"


def _titled(database, title: str) -> None:
    database.conn.execute("UPDATE items SET title = ?", (title,))
    database.conn.commit()


@pytest.mark.parametrize("title", [LONG_WORD, "tin giả " * 800], ids=["one-long-word", "long-text"])
def test_a_very_long_crawled_title_does_not_break_the_pdf(tmp_db, title):
    """fpdf2 refuses a table row taller than a page ("The row with index 3 is too high"): a 5,000-character
    title was a 500 on /reports/download and no weekly PDF (nor e-mail) at all."""
    build_world(tmp_db)
    _titled(tmp_db, title)
    report = build_report(tmp_db, iso_week("2026-W47"))
    text = pdf_text(render(report, "pdf"))
    assert title[:20] in text and "…" in text


def test_xml_noncharacters_in_a_title_leave_the_xlsx_and_docx_well_formed(tmp_db):
    """U+FFFE and U+FFFF are not allowed in XML. openpyxl's ILLEGAL_CHARACTERS_RE leaves them in: the XLSX
    writer raised (its small sheets) or wrote a sheet Excel refuses (the items sheet)."""
    build_world(tmp_db)
    _titled(tmp_db, NONCHARACTERS)
    report = build_report(tmp_db, iso_week("2026-W47"))
    for fmt in ("xlsx", "docx"):
        with zipfile.ZipFile(io.BytesIO(render(report, fmt))) as archive:
            parts = [name for name in archive.namelist() if name.endswith(".xml")]
            for name in parts:
                etree.fromstring(archive.read(name))  # raises on a character XML does not allow
            assert any("Tin  giả  lan truyền" in archive.read(name).decode("utf-8") or
                       "Tin giả lan truyền" in archive.read(name).decode("utf-8") for name in parts), fmt


def test_a_very_long_crawled_title_is_clipped_in_the_docx_table(tmp_db):
    """The stories table of the document sent upward: a 5,000-character title was one row several pages long
    (Word breaks an unbroken word letter by letter in a 5 cm column)."""
    from docx import Document

    build_world(tmp_db)
    _titled(tmp_db, LONG_WORD)
    report = build_report(tmp_db, iso_week("2026-W47"))
    document = Document(io.BytesIO(render(report, "docx")))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells
             if cell.text.startswith("ẠẠẠ")]
    assert cells and all(len(text) <= 300 and text.endswith("…") for text in cells)


def test_control_characters_in_a_title_leave_no_missing_glyph_in_the_pdf(tmp_db, caplog):
    """fpdf2 warned "Font … is missing the following glyphs: '\\t', '\\x01' …" for every such title: the
    characters were printed as empty boxes where a viewer shows them at all."""
    build_world(tmp_db)
    _titled(tmp_db, "\tTin\x01 giả\x1f lan \x7ftruyền")
    report = build_report(tmp_db, iso_week("2026-W47"))
    with caplog.at_level("WARNING", logger="fpdf"):
        text = pdf_text(render(report, "pdf"))
    assert "Tin giả lan truyền" in text
    assert not [record for record in caplog.records if "missing" in record.getMessage()]
