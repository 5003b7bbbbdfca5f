"""XLSX: an overview sheet, one sheet per table (the same tables as every format), the items, and
native Excel charts drawn over those sheets' cells.

Written in openpyxl's write-only mode so a week of a million-item database stays fast. Cells from
crawled text that start with "=" are forced to text, so a title can never become a formula.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font

from monitor.reports.charts import CHARTS
from monitor.reports.display import label
from monitor.reports.model import Report, Table

SHEET_TITLES = {
    "summary": "Summary", "daily": "Daily", "crawled_by_source": "By source", "crawled_by_kind": "By kind",
    "crawled_by_language": "By language", "flagged_by_category": "Flagged", "decisions": "Decisions",
    "backlog": "Backlog", "precision_by_category": "Precision by category",
    "precision_by_model": "Precision by model", "time_to_decision": "Time to decision",
    "moderator_throughput": "Moderators (admin)", "top_clusters": "Top stories", "top_terms": "Top terms",
    "most_flagged_sources": "Most-flagged sources", "coverage_sources": "Coverage sources",
    "coverage_by_language": "Coverage languages", "response_actions": "Follow-ups",
    "takedown_outcomes": "Takedown outcomes", "referrals_by_agency": "Referrals",
    "time_to_action": "Time to action", "followups_open": "Open follow-ups", "items": "Items",
}


def sheet_title(table: Table) -> str:
    return SHEET_TITLES.get(table.name, table.name)[:31]


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


def _write_table(wb: Workbook, table: Table) -> None:
    ws = wb.create_sheet(sheet_title(table))
    ws.append([_cell(ws, table.title, bold=True)])
    ws.append([_cell(ws, ("ADMIN-LEVEL. " if table.admin_only else "") + table.note)])
    ws.append([_cell(ws, column, bold=True) for column in table.columns])  # header on row 3
    for row in table.rows:
        ws.append([_cell(ws, value) for value in row])


HEADER_ROW = 3  # table sheets: title, note, header, then data from row 4


def render(report: Report) -> bytes:
    wb = Workbook(write_only=True)
    overview = wb.create_sheet("Report")
    overview.append([_cell(overview, f"Monitoring report {report.period.label}", bold=True)])
    for key, value in report.meta().items():
        overview.append([_cell(overview, label(key)), _cell(overview, " | ".join(value) if isinstance(value, list)
                                                            else value)])
    for note in report.notes:  # empty, or not over yet
        overview.append([_cell(overview, note, bold=True)])
    overview.append([_cell(overview, "Each sheet is one table; the Charts sheet draws from them.")])

    for table in report.tables:
        _write_table(wb, table)
    # The items sheet can hold tens of thousands of rows; openpyxl writes ~40k cells/s, so it gets a
    # placeholder here and its XML is streamed directly into the saved file (see _fast_sheet).
    items_sheet = wb.create_sheet(sheet_title(report.items))
    items_sheet.append([PLACEHOLDER])

    sheet = wb.create_sheet("Charts")
    row = 1
    for spec in CHARTS:
        table = report.table(spec.table)
        count = min(len(table.rows), spec.limit or len(table.rows))
        chart = BarChart()
        chart.type = "bar" if spec.kind == "barh" else "col"
        chart.title = spec.title
        chart.height, chart.width = (7.5, 16) if spec.kind == "bar" else (max(6.0, 0.6 * count + 3), 16)
        source_title = sheet_title(table)
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
    return _replace_placeholder(buffer.getvalue(), _fast_sheet(report.items))


PLACEHOLDER = "__items_sheet_placeholder_7f3a__"
_SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_SHEET_TAIL = "</sheetData></worksheet>"


def _column_letters(count: int) -> list[str]:
    from openpyxl.utils import get_column_letter
    return [get_column_letter(index + 1) for index in range(count)]


def _fast_sheet(table: Table) -> bytes:
    """Worksheet XML for a large table: inline strings (never formulas), numbers as values, blanks omitted."""
    from xml.sax.saxutils import escape

    letters = _column_letters(len(table.columns))
    parts = [_SHEET_HEAD]

    def text_cell(ref: str, value: str) -> str:
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'

    header = [[table.title], [("ADMIN-LEVEL. " if table.admin_only else "") + table.note], table.columns]
    for number, row in enumerate([*header, *table.rows], start=1):
        cells = []
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
