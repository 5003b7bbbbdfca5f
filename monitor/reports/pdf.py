"""PDF of the HTML report: the same sections, tables and charts, laid out by fpdf2 (pure Python).

Works offline with no system libraries: text is set in the DejaVu Sans font matplotlib ships
(it covers Vietnamese), and charts are matplotlib PNGs.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from monitor.reports import charts
from monitor.reports.display import Wording, wording
from monitor.reports.html import ITEM_ROWS_SHOWN, SECTIONS, heading_lines, items_note
from monitor.reports.model import Report, Table

ITEM_COLUMNS = ("item_id", "first_seen_local", "source", "title", "status_now", "decided_by", "action", "note")
# A table cell's text at most this long: fpdf2 refuses a row taller than a page, and a crawled title can be any
# length (5,000 characters, one unbroken word). The HTML, XLSX, CSV and JSON keep the whole text.
CELL_CHARS = 300
_UNSHOWN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")  # no glyph in any font


def _shown(text: str) -> str:
    """A cell as printed: control characters dropped (tabs as spaces), clipped to CELL_CHARS with an ellipsis."""
    text = _UNSHOWN.sub("", text).replace("\t", " ")  # DejaVu has no glyph for a tab either
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS - 1].rstrip() + "…"


def _font_dir() -> Path:
    import matplotlib
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _Pdf(FPDF):
    def __init__(self, report: Report):
        super().__init__(orientation="landscape", format="A4")
        self.report = report
        self.words = wording(report.lang)
        fonts = _font_dir()
        self.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(True, margin=12)
        self.set_margins(12, 12, 12)

    def footer(self) -> None:
        self.set_y(-9)
        self.set_font("DejaVu", "", 7)
        self.set_text_color(110)
        self.cell(0, 5, self.words.gettext("Report %(period)s · page %(page)s", period=self.report.period.label,
                                       page=self.page_no()), align="R")
        self.set_text_color(0)


def _heading(pdf: _Pdf, text: str, size: float) -> None:
    pdf.set_font("DejaVu", "B", size)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _para(pdf: _Pdf, text: str, size: float = 8) -> None:
    pdf.set_font("DejaVu", "", size)
    pdf.multi_cell(0, size * 0.45, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _table(pdf: _Pdf, headings: list[str], rows: list[list[str]], size: float = 7) -> None:
    pdf.set_font("DejaVu", "", size)
    heading = FontFace(emphasis="BOLD", fill_color=(237, 242, 247))
    with pdf.table(line_height=size * 0.5, headings_style=heading, text_align="LEFT",
                   width=min(pdf.epw, max(70, 34 * len(headings)))) as table:
        table.row(headings)
        for row in rows:
            table.row([_shown(cell) for cell in row])
    pdf.ln(2)


def _figure_table(pdf: _Pdf, table: Table, w: Wording) -> None:
    title = table.title + (f"  [{w.gettext('admin-level')}]" if table.admin_only else "")
    _heading(pdf, title, 10)
    if table.note:
        _para(pdf, table.note, 7)
    if not table.rows:
        _para(pdf, w.gettext("Nothing in this period."))
        return
    _table(pdf, w.labels(table.columns), [[w.cell(cell, column) for column, cell in zip(table.columns, row, strict=False)]
                                          for row in table.rows])


def render(report: Report) -> bytes:
    pdf = _Pdf(report)
    w = pdf.words
    title, line = heading_lines(report)
    pdf.set_title(title)
    pdf.set_lang(report.lang)
    pdf.add_page()
    _heading(pdf, title, 16)
    _para(pdf, line)
    for note in report.notes:  # empty, or not over yet
        _heading(pdf, note, 11)

    summary = report.table("summary")
    _heading(pdf, summary.title, 12)
    _table(pdf, [w.heading("figure"), w.gettext("This period"), w.heading("previous"), w.heading("change")],
           [[w.cell(row[0], "figure"), w.cell(row[1]), w.cell(row[2]), w.cell(row[3], "change")]
            for row in summary.rows])
    _charts(pdf, report)
    _sections(pdf, report)
    _items(pdf, report)
    return bytes(pdf.output())


def _charts(pdf: _Pdf, report: Report) -> None:
    """The charts two to a row, a row never split across pages."""
    pdf.add_page()
    _heading(pdf, pdf.words.gettext("Charts"), 12)
    x_left, width = pdf.l_margin, (pdf.epw - 6) / 2
    row_height = 0.0
    for index, spec in enumerate(charts.CHARTS):
        image = io.BytesIO(charts.png(report, spec, dpi=110))
        column = index % 2
        if column == 0:
            row_top = pdf.get_y()
            if row_top + 60 > pdf.page_break_trigger:  # keep a chart row together
                pdf.add_page()
                row_top = pdf.get_y()
            row_height = 0.0
        info = pdf.image(image, x=x_left + column * (width + 6), y=row_top, w=width)
        row_height = max(row_height, info.rendered_height)
        if column == 1 or index == len(charts.CHARTS) - 1:
            pdf.set_y(row_top + row_height + 4)



def _sections(pdf: _Pdf, report: Report) -> None:
    tables = {table.name: table for table in report.tables}
    for title, names in SECTIONS:
        present = [tables[name] for name in names if name in tables]
        if not present:
            continue
        pdf.add_page()
        _heading(pdf, pdf.words.gettext(title), 13)
        for table in present:
            _figure_table(pdf, table, pdf.words)


def _items(pdf: _Pdf, report: Report) -> None:
    w = pdf.words
    pdf.add_page()
    _heading(pdf, report.items.title, 13)
    rows = report.items.as_dicts()
    _para(pdf, items_note(report))
    if rows:
        _table(pdf, w.labels(list(ITEM_COLUMNS)),
               [[w.cell(row[column], column) if row[column] not in ("", None) else "" for column in ITEM_COLUMNS]
                for row in rows[:ITEM_ROWS_SHOWN]], size=6.5)
