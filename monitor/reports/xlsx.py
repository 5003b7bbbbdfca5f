"""XLSX: an overview sheet, one sheet per table (the same tables as every format), the items, and
native Excel charts drawn over those sheets' cells.

Written in openpyxl's write-only mode so a week of a million-item database stays fast. Cells from
crawled text that start with "=" are forced to text, so a title can never become a formula.

Sheet names, headings and coded cells (statuses, actions, categories) are in the report's language;
numbers stay numeric cells, which Excel shows in the reader's own number format.
"""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font

from monitor.reports.charts import CHARTS
from monitor.reports.charts import title as chart_title
from monitor.reports.display import Wording, wording
from monitor.reports.model import Report, Table
from vocab.i18n import N_

# Sheet names (English msgids, at most 31 characters in every language, none of []:*?/\).
SHEET_TITLES = {
    "summary": N_("Summary"), "daily": N_("Daily"), "crawled_by_source": N_("By source"),
    "crawled_by_kind": N_("By source kind"), "crawled_by_language": N_("By language"),
    "flagged_by_category": N_("Flagged"), "decisions": N_("Decisions"), "backlog": N_("Backlog"),
    "precision_by_category": N_("Precision by category"), "precision_by_model": N_("Precision by model"),
    "time_to_decision": N_("Time to decision"), "moderator_throughput": N_("Moderators (admin)"),
    "top_clusters": N_("Stories that spread"), "top_terms": N_("Frequent terms"),
    "most_flagged_sources": N_("Most-flagged sources"), "coverage_sources": N_("Coverage by source"),
    "coverage_by_language": N_("Coverage by language"), "response_actions": N_("Follow-ups"),
    "takedown_outcomes": N_("Takedown outcomes"), "referrals_by_agency": N_("Referrals"),
    "time_to_action": N_("Time to action"), "followups_open": N_("Open follow-ups"), "items": N_("Items"),
    "early_warning": N_("Early warning"), "places_mentioned": N_("Places"), "claims_matched": N_("Debunked claims"),
}
OVERVIEW_SHEET, CHARTS_SHEET = N_("Report"), N_("Charts")
# Characters XML does not allow: openpyxl's ILLEGAL_CHARACTERS_RE (C0 controls) leaves out the noncharacters
# U+FFFE and U+FFFF, which a crawled title can hold; lxml then raises, or the items sheet is XML Excel refuses.
ILLEGAL_CHARACTERS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def sheet_title(table: Table | str, w: Wording) -> str:
    """A table's sheet name in `w`'s language (a table or a name from SHEET_TITLES)."""
    name = table if isinstance(table, str) else table.name
    return w.gettext(SHEET_TITLES[name])[:31] if name in SHEET_TITLES else name[:31]


def _cell(ws, value, bold: bool = False):
    """A value as written: plain values go through untouched (fast); only text that would be read as a
    formula, or a bold heading, needs a cell object."""
    if isinstance(value, str):
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith("="):
            cell = WriteOnlyCell(ws, value=value)
            cell.data_type = "s"  # text, not a formula
            if bold:
                cell.font = Font(bold=True)
            return cell
    if bold:
        cell = WriteOnlyCell(ws, value=value)
        cell.font = Font(bold=True)
        return cell
    return value


def _admin_note(table: Table, w: Wording) -> str:
    return (w.gettext("admin-level") + ". " if table.admin_only else "") + table.note


def _write_table(wb: Workbook, table: Table, w: Wording) -> None:
    ws = wb.create_sheet(sheet_title(table, w))
    ws.append([_cell(ws, table.title, bold=True)])
    ws.append([_cell(ws, _admin_note(table, w))])
    ws.append([_cell(ws, heading, bold=True) for heading in w.labels(table.columns)])  # header on row 3
    for row in table.rows:
        ws.append([_cell(ws, w.coded(value, column)) for column, value in zip(table.columns, row, strict=False)])


HEADER_ROW = 3  # table sheets: title, note, header, then data from row 4


def _overview(wb: Workbook, report: Report, w: Wording) -> None:
    """The first sheet: the title, the period and provenance in words, and what the other sheets hold."""
    from monitor.reports.html import heading_lines

    overview = wb.create_sheet(w.gettext(OVERVIEW_SHEET))
    title, line = heading_lines(report)
    overview.append([_cell(overview, title, bold=True)])
    overview.append([_cell(overview, line)])
    meta = report.meta()
    for key, value in (("period", meta["period"]), ("first_day", report.period.first_day),
                       ("last_day", report.period.last_day), ("zone", meta["zone"]), ("start_utc", meta["start_utc"]),
                       ("end_utc", meta["end_utc"]), ("previous_period", meta["previous_period"]),
                       ("generated_at", meta["generated_at"]), ("redacted", w.cell(report.redacted)),
                       ("lang", w.label(report.lang))):
        overview.append([_cell(overview, w.label(key)), _cell(overview, value)])
    for note in report.notes:  # empty, or not over yet
        overview.append([_cell(overview, note, bold=True)])
    overview.append([_cell(overview, w.gettext("Each sheet is one table; the sheet “%(charts)s” draws from them.",
                                               charts=w.gettext(CHARTS_SHEET)))])


def render(report: Report) -> bytes:
    w = wording(report.lang)
    wb = Workbook(write_only=True)
    _overview(wb, report, w)
    for table in report.tables:
        _write_table(wb, table, w)
    # The items sheet can hold tens of thousands of rows; openpyxl writes ~40k cells/s, so it gets a
    # placeholder here and its XML is streamed directly into the saved file (see _fast_sheet).
    items_sheet = wb.create_sheet(sheet_title(report.items, w))
    items_sheet.append([PLACEHOLDER])

    sheet = wb.create_sheet(w.gettext(CHARTS_SHEET))
    row = 1
    for spec in CHARTS:
        table = report.table(spec.table)
        count = min(len(table.rows), spec.limit or len(table.rows))
        chart = BarChart()
        chart.type = "bar" if spec.kind == "barh" else "col"
        chart.title = chart_title(spec, w)
        chart.height, chart.width = (7.5, 16) if spec.kind == "bar" else (max(6.0, 0.6 * count + 3), 16)
        source_title = sheet_title(table, w)
        if count:
            # Reference by sheet title: write-only sheets are not readable back, only addressable.
            for name in spec.series:
                col = table.columns.index(name) + 1
                data = Reference(_Named(source_title), min_col=col, min_row=HEADER_ROW, max_row=HEADER_ROW + count)
                chart.add_data(data, titles_from_data=True)
            cats = Reference(_Named(source_title), min_col=1, min_row=HEADER_ROW + 1, max_row=HEADER_ROW + count)
            chart.set_categories(cats)
        if spec.kind == "barh":
            chart.x_axis.scaling.orientation = "maxMin"
        chart.x_axis.delete = False  # recent Excel hides axes openpyxl leaves unset
        chart.y_axis.delete = False
        sheet.add_chart(chart, f"A{row}")
        row += int(chart.height * 2) + 2

    buffer = io.BytesIO()
    wb.save(buffer)
    return _replace_placeholder(buffer.getvalue(), _fast_sheet(report.items, w))


PLACEHOLDER = "__items_sheet_placeholder_7f3a__"
_SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_SHEET_TAIL = "</sheetData></worksheet>"


def _column_letters(count: int) -> list[str]:
    from openpyxl.utils import get_column_letter
    return [get_column_letter(index + 1) for index in range(count)]


def _fast_sheet(table: Table, w: Wording) -> bytes:
    """Worksheet XML for a large table: inline strings (never formulas), numbers as values, blanks omitted."""
    from xml.sax.saxutils import escape

    letters = _column_letters(len(table.columns))
    parts = [_SHEET_HEAD]

    def text_cell(ref: str, value: str) -> str:
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'

    header = [[table.title], [_admin_note(table, w)], w.labels(table.columns)]
    words = w.coder(table.columns)
    for number, row in enumerate([*header, *table.rows], start=1):
        cells = []
        if number > len(header):
            row = words(row)
        for letter, value in zip(letters, row, strict=False):
            if value is None or value == "":
                continue
            ref = f"{letter}{number}"
            if isinstance(value, bool):
                cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, int | float):
                cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
            else:
                cells.append(text_cell(ref, str(value)))
        parts.append(f'<row r="{number}">{"".join(cells)}</row>')
    parts.append(_SHEET_TAIL)
    return "".join(parts).encode("utf-8")


def _replace_placeholder(workbook: bytes, sheet_xml: bytes) -> bytes:
    """Swap the worksheet holding PLACEHOLDER (write-only openpyxl writes inline strings) for `sheet_xml`."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    marker = PLACEHOLDER.encode("utf-8")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet") and marker in data:
                data = sheet_xml
            target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    return out.getvalue()


class _Named:
    """Just enough of a worksheet for openpyxl's Reference: its title."""

    def __init__(self, title: str):
        self.title = title
