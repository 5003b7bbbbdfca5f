"""DOCX: the report as an administrative document (văn bản hành chính) in the format of Nghị định
30/2020/NĐ-CP, Phụ lục I, for a report (báo cáo) — the document a steering committee edits in Word,
numbers, signs and sends upward.

The layout follows the decree: a borderless header table (parent body and issuing body, the number and
symbol line, left; national title, motto and the place and date line, right), the title "BÁO CÁO" with
a line naming the period, numbered sections, then the "Nơi nhận" and signature blocks. Times New
Roman (also for East Asian and complex scripts, so Word never swaps in another font for Vietnamese),
A4, the decree's margins, page numbers centred at the top from page 2.

The figures are the Report's own tables (`TABLES`), worded with `wording(report.lang)` like every other
format; the prose of sections I–IV is drafted from the same figures so the document needs only a
number, the proposals and a signature. Text from crawled content (story titles, source names) is
cleaned of characters XML cannot hold, so an untrusted title can never make the file unreadable.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt

from monitor.config import ReportSettings
from monitor.reports import charts
from monitor.reports.display import Wording, wording
from monitor.reports.model import Report
from vocab.i18n import N_

FONT = "Times New Roman"
BODY_PT = 14  # the decree: body 13–14 pt
TABLE_PT = 12
PAGE_WIDTH, PAGE_HEIGHT = Mm(210), Mm(297)  # A4
# The decree's margins: top and bottom 20–25 mm, left 30–35 mm, right 15–20 mm.
MARGINS = {"top_margin": Mm(20), "bottom_margin": Mm(20), "left_margin": Mm(30), "right_margin": Mm(15)}
TEXT_WIDTH_CM = 16.5  # 210 − 30 − 15 mm
HEADER_COLUMNS_CM = (6.3, 10.2)  # issuing body | national title (12 pt caps needs 10 cm on one line)
CLOSING_COLUMNS_CM = (8.0, 8.5)  # Nơi nhận | signature
CHART_WIDTH_CM = 15.0


@dataclass(frozen=True)
class DocTable:
    """A Report table as the document shows it: its caption and the columns that fit an A4 page."""

    name: str
    caption: str  # msgid
    columns: tuple[str, ...] | None = None  # None: all of them
    widths_cm: tuple[float, ...] | None = None  # None: the first column takes what the others leave
    headings: tuple[tuple[str, str], ...] = ()  # (column, msgid) where the column's own label reads wrong here
    optional: bool = False  # shown only when the Report has the table (the follow-up measures)


# A period in which nothing was collected (a fresh installation, collection stopped): said, not "no gaps".
NOTHING_COLLECTED = N_("No items were collected from the monitored sources in the period; collection needs checking "
                       "so that no information is missed.")


def shown_tables(report: Report) -> list[DocTable]:
    """The tables the document shows for `report`, in the order it shows them."""
    names = {table.name for table in report.tables}
    return [spec for spec in TABLES.values() if not spec.optional or spec.name in names]


# The Report tables the document shows, in order (the same-figures test reads them back in this order).
TABLES = {
    "summary": DocTable("summary", N_("Key figures compared with the previous period"),
                        ("figure", "value", "previous", "change"), (8.1, 2.8, 2.8, 2.8),
                        (("value", N_("This period")),)),
    "flagged_by_category": DocTable("flagged_by_category", N_("Items showing signs of violations, by category")),
    "decisions": DocTable("decisions", N_("Handling results, by outcome")),
    # The follow-up measures (rebuttals, takedown requests, referrals): shown when the report has them.
    "response_actions": DocTable("response_actions", N_("Measures taken, by kind"), optional=True),
    "takedown_outcomes": DocTable("takedown_outcomes", N_("Requests to take content down, by outcome"),
                                  optional=True),
    "referrals_by_agency": DocTable("referrals_by_agency", N_("Referrals to the competent agencies"),
                                    optional=True),
    "top_clusters": DocTable("top_clusters", N_("The most widely spread stories"),
                             ("title", "sources", "new_sources", "items", "first_seen_local", "status"),
                             (5.4, 1.7, 1.9, 1.5, 3.2, 2.8)),
    # The early warning (issue 11): shown when the report has the tables.
    "places_mentioned": DocTable("places_mentioned", N_("Places mentioned by items about our jurisdiction"),
                                 ("place", "level", "items", "flagged", "previous"), (6.1, 3.0, 2.2, 2.6, 2.6),
                                 optional=True),
    "claims_matched": DocTable("claims_matched", N_("Debunked claims that came back"),
                               ("debunked_claim", "verdict", "url", "items", "sources"), (5.6, 2.2, 4.1, 2.0, 2.6),
                               optional=True),
}
CHARTS = {spec.name: spec for spec in charts.CHARTS}

# Characters an XML 1.0 document cannot hold (C0 controls but tab/newline, lone surrogates, U+FFFE/U+FFFF),
# plus the C1 controls, which it can hold but Word reports as damage.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACE = re.compile(r"\s+")


def clean(text: object, *, one_line: bool = True) -> str:
    """Text as the document may hold it: XML-illegal and control characters dropped, and for a table cell
    or a header line, line breaks and tabs folded into single spaces."""
    text = _UNSAFE.sub("", str(text))
    return _SPACE.sub(" ", text).strip() if one_line else text


# A table cell's text at most this long: a crawled title can be any length, and one of 5,000 characters in a
# narrow column is a row pages long in the document that goes upward. The XLSX, CSV and JSON keep the whole text.
CELL_CHARS = 300


def _clipped(text: str) -> str:
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS - 1].rstrip() + "…"


def render(report: Report, settings: ReportSettings | None = None) -> bytes:
    """The report as a .docx file; `settings` (feeds.yaml `settings: report:`) fills the header, date line,
    recipients and signer, and what it leaves out is a placeholder to fill in before signing.

    The same report and settings give the same bytes (fixed zip times; the date line is the day the
    report was generated, in the report's zone), so the web download equals the file the CLI writes."""
    settings = settings or ReportSettings()
    w = wording(report.lang)
    document = Document()
    _page_setup(document, report.lang)
    _header_block(document, report, settings, w)
    _title(document, report, w)
    body = _Body(document, report, w)
    body.overall()
    body.detection()
    body.spreading()
    body.assessment()
    body.proposals()
    _closing_block(document, settings, w)
    _properties(document, report, settings, w)
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_times(buffer.getvalue())


# ---- page, fonts and low-level helpers ----

# The order WordprocessingML requires of the children of w:rPr, w:pPr and w:trPr (ECMA-376 §17.3.2.28,
# §17.3.1.26, §17.4.82): Word refuses a document ("unreadable content") whose elements are out of order, so
# an element is inserted before its successors rather than appended.
RPR_ORDER = ("w:rStyle", "w:rFonts", "w:b", "w:bCs", "w:i", "w:iCs", "w:caps", "w:smallCaps", "w:strike",
             "w:dstrike", "w:outline", "w:shadow", "w:emboss", "w:imprint", "w:noProof", "w:snapToGrid", "w:vanish",
             "w:webHidden", "w:color", "w:spacing", "w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight",
             "w:u", "w:effect", "w:bdr", "w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang",
             "w:eastAsianLayout", "w:specVanish", "w:oMath")
PPR_ORDER = ("w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr", "w:widowControl",
             "w:numPr", "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku",
             "w:wordWrap", "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi",
             "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
             "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap",
             "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")
TRPR_ORDER = ("w:cnfStyle", "w:divId", "w:gridBefore", "w:gridAfter", "w:wBefore", "w:wAfter", "w:cantSplit",
              "w:trHeight", "w:tblHeader", "w:tblCellSpacing", "w:jc", "w:hidden", "w:ins", "w:del", "w:trPrChange")


def _child(parent, tag: str, order: tuple[str, ...]):
    """`parent`'s `tag` child, created in its place in `order` when missing."""
    element = parent.find(qn(tag))
    if element is None:
        element = OxmlElement(tag)
        parent.insert_element_before(element, *order[order.index(tag) + 1:])
    return element


def _fonts(rpr, size_pt: float | None = None, lang: str | None = None) -> None:
    """Times New Roman for every script of a run properties element (w:rPr), theme fonts removed."""
    fonts = _child(rpr, "w:rFonts", RPR_ORDER)
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), FONT)
    if size_pt is not None:
        for tag in ("w:sz", "w:szCs"):
            _child(rpr, tag, RPR_ORDER).set(qn("w:val"), str(int(size_pt * 2)))
    if lang is not None:
        element = _child(rpr, "w:lang", RPR_ORDER)
        code = {"vi": "vi-VN", "en": "en-GB"}.get(lang, lang)
        for attribute in ("w:val", "w:eastAsia", "w:bidi"):
            element.set(qn(attribute), code)


def _page_setup(document, lang: str) -> None:
    """A4 portrait, the decree's margins, Times New Roman 14 pt everywhere, page numbers from page 2."""
    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _fonts(defaults, BODY_PT, lang)
    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    _fonts(normal.element.get_or_add_rPr(), BODY_PT, lang)
    normal.paragraph_format.space_after = Pt(6)  # the decree: at least 6 pt between paragraphs
    normal.paragraph_format.line_spacing = 1.15  # at least single, at most 1.5 lines
    for name in ("Header", "Table Grid"):
        style = document.styles[name]
        style.font.name = FONT
        _fonts(style.element.get_or_add_rPr())
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    for name, value in MARGINS.items():
        setattr(section, name, value)
    section.header_distance = Mm(10)
    section.footer_distance = Mm(10)
    section.different_first_page_header_footer = True  # no number on the first page
    section.first_page_header.is_linked_to_previous = False
    number = section.header.paragraphs[0]
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_field(number.add_run())


def _page_field(run) -> None:
    """A PAGE field in `run` (Word and LibreOffice fill in the number)."""
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "2"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        elif text == " PAGE ":
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        else:
            element = OxmlElement("w:t")
            element.text = text
        run._r.append(element)


def _paragraph(container, text: str = "", *, size: float = BODY_PT, bold: bool = False, italic: bool = False,
               align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent: bool = False, after: float = 6, before: float = 0,
               spacing: float | None = None):
    """One paragraph of one run; `indent` gives the first line the decree's 1.27 cm."""
    paragraph = container.add_paragraph()
    paragraph.alignment = align
    form = paragraph.paragraph_format
    form.space_after, form.space_before = Pt(after), Pt(before)
    if spacing is not None:
        form.line_spacing = spacing
    if indent:
        form.first_line_indent = Cm(1.27)
    if text:
        _run(paragraph, text, size=size, bold=bold, italic=italic)
    elif size < BODY_PT:  # an empty spacer or rule line: as tall as `size`, not as a line of body text
        form.line_spacing = Pt(size)
    return paragraph


def _run(paragraph, text: str, *, size: float = BODY_PT, bold: bool = False, italic: bool = False):
    run = paragraph.add_run(clean(text, one_line=False))
    run.font.size = Pt(size)
    run.bold, run.italic = bold or None, italic or None
    return run


def _rule(paragraph, width_cm: float, column_cm: float) -> None:
    """A solid rule under `paragraph`, `width_cm` long and centred in a column `column_cm` wide (the decree's
    short line under the issuing body, the motto and the title)."""
    side = max(0.0, (column_cm - width_cm) / 2)
    paragraph.paragraph_format.left_indent = Cm(side)
    paragraph.paragraph_format.right_indent = Cm(side)
    borders = _child(paragraph._p.get_or_add_pPr(), "w:pBdr", PPR_ORDER)
    bottom = OxmlElement("w:bottom")
    for attribute, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(attribute), value)
    borders.append(bottom)


def _text_width_cm(text: str, size_pt: float, bold: bool = False) -> float:
    """Roughly how wide `text` is in Times New Roman (0.48 em a character, 0.53 bold): for the rules' length."""
    return len(text) * size_pt * (0.53 if bold else 0.48) / 72 * 2.54


def _borderless(table, widths_cm: tuple[float, ...]) -> None:
    """A layout table: no borders, fixed column widths (Word reads the cells', LibreOffice the grid's)."""
    table.autofit = False
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(table, widths_cm)


def _widths(table, widths_cm: tuple[float, ...]) -> None:
    grid = table._tbl.tblGrid
    for column, width in zip(grid.findall(qn("w:gridCol")), widths_cm, strict=False):
        column.set(qn("w:w"), str(int(Cm(width).twips)))
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm, strict=False):
            cell.width = Cm(width)


def _first_paragraph(cell, **kwargs):
    """The cell's own (empty) first paragraph, formatted like _paragraph's."""
    paragraph = cell.paragraphs[0]
    paragraph.alignment = kwargs.pop("align", WD_ALIGN_PARAGRAPH.CENTER)
    paragraph.paragraph_format.space_after = Pt(kwargs.pop("after", 0))
    paragraph.paragraph_format.line_spacing = 1.0
    if kwargs.get("text"):
        _run(paragraph, kwargs.pop("text"), **kwargs)
    return paragraph


# ---- the header block, the title and the closing block ----

def _header_block(document, report: Report, settings: ReportSettings, w: Wording) -> None:
    """Parent and issuing body, number and symbol | national title, motto, place and date (Phụ lục I, ô 1–5)."""
    left_cm, right_cm = HEADER_COLUMNS_CM
    table = document.add_table(rows=2, cols=2)
    _borderless(table, HEADER_COLUMNS_CM)
    left, right = table.cell(0, 0), table.cell(0, 1)
    parent = settings.parent_agency or w.gettext("NAME OF THE PARENT BODY")
    agency = settings.agency or w.gettext("NAME OF THE ISSUING BODY")
    _first_paragraph(left, text=clean(parent).upper(), size=13)
    body = _paragraph(left, clean(agency).upper(), size=13, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER,
                      after=0, spacing=1.0)
    _rule(_paragraph(left, "", size=2, after=0, spacing=1.0), min(left_cm / 2, _text_width_cm(agency, 13, True)),
          left_cm)
    body.paragraph_format.keep_with_next = True
    _first_paragraph(right, text=w.gettext("SOCIALIST REPUBLIC OF VIETNAM"), size=12, bold=True)
    motto = w.gettext("Independence - Freedom - Happiness")
    _paragraph(right, motto, size=13, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0, spacing=1.0)
    _rule(_paragraph(right, "", size=2, after=0, spacing=1.0), _text_width_cm(motto, 13, True), right_cm)
    _first_paragraph(table.cell(1, 0), text=w.gettext("No.: …/BC-…"), size=13, after=0).paragraph_format.space_before = Pt(6)
    place = settings.place or w.gettext("Place")
    _first_paragraph(table.cell(1, 1), text=f"{clean(place)}, {w.long_date(generated_day(report))}", size=14,
                     italic=True).paragraph_format.space_before = Pt(6)


def generated_day(report: Report) -> date:
    """The day the report was generated, in the report's zone: the date the document carries."""
    moment = datetime.fromisoformat(report.generated_at.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(report.period.zone)).date()


def period_words(report: Report, w: Wording) -> str:
    """The period as the title line names it: "tuần 49/2026 (từ ngày 30/11/2026 đến ngày 06/12/2026)"."""
    period = report.period
    first, last = w.date(period.first_day), w.date(period.last_day)
    if period.kind == "week":
        year, week = period.label.split("-W")
        return w.gettext("week %(week)s/%(year)s (from %(first)s to %(last)s)", week=str(int(week)).zfill(2), year=year,
                         first=first, last=last)
    if period.kind == "quarter":
        year, number = period.label.split("-Q")
        return w.gettext("quarter %(quarter)s/%(year)s (from %(first)s to %(last)s)",
                         quarter=("I", "II", "III", "IV")[int(number) - 1], year=year, first=first, last=last)
    return w.gettext("from %(first)s to %(last)s", first=first, last=last)


def _title(document, report: Report, w: Wording) -> None:
    """"BÁO CÁO" and the line naming the period (trích yếu), with the short rule under it."""
    _paragraph(document, w.gettext("REPORT"), bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, before=18, after=0)
    line = w.gettext("Results of monitoring, detecting and handling false and harmful information %(period)s",
                     period=period_words(report, w))
    _paragraph(document, line, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0, spacing=1.0)
    _rule(_paragraph(document, "", size=4, before=2, after=12), TEXT_WIDTH_CM / 4, TEXT_WIDTH_CM)


def _closing_block(document, settings: ReportSettings, w: Wording) -> None:
    """"Nơi nhận" (bold italic 12 pt; the list 11 pt, ending "- Lưu: VT.") | the signer (Phụ lục I, ô 7–9)."""
    _paragraph(document, "", after=0)
    table = document.add_table(rows=1, cols=2)
    _borderless(table, CLOSING_COLUMNS_CM)
    left, right = table.cell(0, 0), table.cell(0, 1)
    _first_paragraph(left, text=w.gettext("Recipients:"), size=12, bold=True, italic=True,
                     align=WD_ALIGN_PARAGRAPH.LEFT)
    names = [clean(r.name) for r in settings.recipients if r.name] or ["…"]
    for name in names:
        _paragraph(left, f"- {name};", size=11, align=WD_ALIGN_PARAGRAPH.LEFT, after=0, spacing=1.0)
    _paragraph(left, w.gettext("- Filed: Archives."), size=11, align=WD_ALIGN_PARAGRAPH.LEFT, after=0, spacing=1.0)
    titles = [clean(line).upper() for line in settings.signer_title] or [w.gettext("AUTHORITY AND POSITION OF THE SIGNER")]
    _first_paragraph(right, text=titles[0], size=14, bold=True)
    for line in titles[1:]:
        _paragraph(right, line, size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0, spacing=1.0)
    _paragraph(right, w.gettext("(Signature and seal)"), size=14, italic=True, align=WD_ALIGN_PARAGRAPH.CENTER,
               after=0, spacing=1.0)
    for _ in range(4):  # room for the signature and the seal
        _paragraph(right, "", after=0, spacing=1.0)
    _paragraph(right, w.gettext("Full name"), size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0)


def _properties(document, report: Report, settings: ReportSettings, w: Wording) -> None:
    """File properties: the title and the issuing body, dated when the report was generated (not python-docx's
    template), and no template thumbnail."""
    props = document.core_properties
    moment = datetime.fromisoformat(report.generated_at.replace("Z", "+00:00"))
    props.title = clean(f"{w.gettext('REPORT')} {period_words(report, w)}")
    props.author = clean(settings.agency or "")
    props.comments = ""
    props.created = props.modified = moment.replace(tzinfo=None)
    props.last_modified_by = ""
    props.language = {"vi": "vi-VN", "en": "en-GB"}.get(report.lang, report.lang)
    package = document.part.package
    for key, relationship in list(package.rels.items()):
        if relationship.reltype == RELATIONSHIP_TYPE.THUMBNAIL:
            del package.rels[key]


def _fixed_times(data: bytes) -> bytes:
    """The zip again with every entry dated 1980-01-01: python-docx stamps the time of writing, which made two
    renders of the same report differ."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(zipfile.ZipInfo(info.filename, (1980, 1, 1, 0, 0, 0)), source.read(info.filename),
                            compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


# ---- the body: sections I–V ----

ROMAN = ("I", "II", "III", "IV", "V")
SECTIONS = (N_("Overall situation"), N_("Detection and handling results"), N_("Items and stories that spread"),
            N_("Assessment"), N_("Proposals and recommendations"))


class _Body:
    """Writes sections I–V in order, numbering tables and figures as it goes."""

    def __init__(self, document, report: Report, w: Wording):
        self.document, self.report, self.w = document, report, w
        self.tables = 0
        self.figures = 0

    # -- building blocks --

    def figure(self, name: str, column: str = "value"):
        return self.report.headline(name, column)

    def number(self, value) -> str:
        return self.w.cell(value)

    def share(self, value) -> str:
        """A ratio (0.75) as a percentage ("75%"), "—" when undefined."""
        return self.w.number(value * 100) + "%" if isinstance(value, int | float) else self.w.cell(None)

    def heading(self, index: int) -> None:
        text = f"{ROMAN[index]}. {self.w.gettext(SECTIONS[index]).upper()}"
        _paragraph(self.document, text, bold=True, indent=True, before=6).paragraph_format.keep_with_next = True

    def subheading(self, number: int, message: str) -> None:
        text = f"{number}. {self.w.gettext(message)}"
        _paragraph(self.document, text, bold=True, indent=True).paragraph_format.keep_with_next = True

    def text(self, message: str, **params) -> None:
        _paragraph(self.document, self.w.gettext(message, **params), indent=True)

    def bullet(self, message: str, **params) -> None:
        _paragraph(self.document, "- " + self.w.gettext(message, **params), indent=True)

    def table(self, name: str) -> None:
        """A Report table as a bordered table with a numbered caption; its header row repeats on a new page."""
        spec = TABLES[name]
        if spec not in shown_tables(self.report):
            return
        source = self.report.table(name)
        self.tables += 1
        caption = self.w.gettext("Table %(number)s. %(title)s", number=self.tables, title=self.w.gettext(spec.caption))
        _paragraph(self.document, caption, size=13, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, before=6,
                   after=3).paragraph_format.keep_with_next = True
        if not source.rows:
            self.text(N_("Nothing in this period."))
            return
        columns = list(spec.columns or source.columns)
        indexes = [source.columns.index(column) for column in columns]
        widths = spec.widths_cm or (TEXT_WIDTH_CM - 2.5 * (len(columns) - 1), *[2.5] * (len(columns) - 1))
        table = self.document.add_table(rows=1 + len(source.rows), cols=len(columns))
        table.style = self.document.styles["Table Grid"]
        _borderless(table, widths)
        rows = table.rows
        _repeat_header(rows[0])
        for cell, column in zip(rows[0].cells, columns, strict=True):
            _first_paragraph(cell, text=heading(spec, column, self.w), size=TABLE_PT, bold=True)
        for row, values in zip(rows[1:], source.rows, strict=True):
            for position, (cell, index) in enumerate(zip(row.cells, indexes, strict=True)):
                value, column = values[index], columns[position]
                text = self.w.cell(value, column, coded=_coded(column))
                align = WD_ALIGN_PARAGRAPH.LEFT if position == 0 else WD_ALIGN_PARAGRAPH.CENTER
                _first_paragraph(cell, text=_clipped(clean(text)), size=TABLE_PT, align=align)
        _paragraph(self.document, "", size=6, after=0)

    def chart(self, name: str, caption: str) -> None:
        """A chart as a PNG image, centred, with a numbered caption under it."""
        self.figures += 1
        picture = _paragraph(self.document, align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
        picture.paragraph_format.keep_with_next = True
        picture.add_run().add_picture(io.BytesIO(charts.png(self.report, CHARTS[name], dpi=150)),
                                      width=Cm(CHART_WIDTH_CM))
        text = self.w.gettext("Figure %(number)s. %(title)s", number=self.figures, title=self.w.gettext(caption))
        _paragraph(self.document, text, size=13, italic=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=6)

    # -- the sections --

    def overall(self) -> None:
        """I: what was collected, the key figures table and the daily chart; how the sources fared."""
        self.heading(0)
        if self.report.empty:
            self.text(N_("No items were collected and no decisions were made in the reporting period."))
        if self.report.period.end_utc > self.report.generated_at:  # this week so far: not a complete report
            note = self.w.gettext(N_("%(period)s is not over yet: the figures are those so far."),
                                  period=self.w.period(self.report.period))
            _paragraph(self.document, note[:1].upper() + note[1:], italic=True, indent=True)
        self.subheading(1, N_("Information collected"))
        sources = sum(1 for row in self.report.table("crawled_by_source").rows if row[3])
        self.text(N_("In the reporting period the system collected %(crawled)s items from %(sources)s sources "
                     "(previous period: %(crawled_before)s) and detected %(flagged)s items showing signs of false or "
                     "harmful information (previous period: %(flagged_before)s)."),
                  crawled=self.number(self.figure("items_crawled")), sources=self.number(sources),
                  crawled_before=self.number(self.figure("items_crawled", "previous")),
                  flagged=self.number(self.figure("items_flagged")),
                  flagged_before=self.number(self.figure("items_flagged", "previous")))
        self.table("summary")
        self.chart("daily", N_("Items collected and flagged per day"))
        self.subheading(2, N_("Sources"))
        dark, failing, paused = (self.figure(name) or 0 for name in
                                 ("sources_gone_dark", "sources_failing", "sources_paused"))
        gaps = self.figure("language_gaps") or 0
        if not self.figure("items_crawled"):  # not "every source delivered": nothing at all came in
            self.text(NOTHING_COLLECTED)
        elif dark or failing or paused or gaps:
            self.text(N_("Of the sources monitored, %(dark)s sent nothing new in the period, %(failing)s had "
                         "collection errors and %(paused)s are paused; %(gaps)s languages show coverage gaps."),
                      dark=self.number(dark), failing=self.number(failing), paused=self.number(paused),
                      gaps=self.number(gaps))
        else:
            self.text(N_("Every monitored source delivered new items in the period without collection errors."))

    def detection(self) -> None:
        """II: flags by category, decisions by outcome, the backlog and how long a first decision took."""
        self.heading(1)
        self.subheading(1, N_("Detection"))
        self.text(N_("%(flagged)s items were flagged as showing signs of violations (previous period: %(before)s), "
                     "by category:"), flagged=self.number(self.figure("items_flagged")),
                  before=self.number(self.figure("items_flagged", "previous")))
        self.table("flagged_by_category")
        self.chart("categories", N_("Items flagged by category, this period and the previous one"))
        self.subheading(2, N_("Handling"))
        self.text(N_("The moderators made %(decisions)s decisions (previous period: %(before)s): %(misinformation)s "
                     "confirmed as false information, %(harm)s confirmed as harmful, %(dismissed)s dismissed and "
                     "%(escalated)s escalated to the leadership. At the end of the period %(backlog)s items were "
                     "awaiting handling."),
                  decisions=self.number(self.figure("decisions")),
                  before=self.number(self.figure("decisions", "previous")),
                  misinformation=self.number(self.figure("confirmed_misinformation")),
                  harm=self.number(self.figure("confirmed_harm")), dismissed=self.number(self.figure("dismissed")),
                  escalated=self.number(self.figure("escalated")), backlog=self.number(self.figure("backlog_open")))
        median, p90 = self.figure("hours_to_decision_median"), self.figure("hours_to_decision_p90")
        if median is not None:
            self.text(N_("From first detection to the first decision took %(median)s hours at the median; nine "
                         "items in ten were handled within %(p90)s hours."),
                      median=self.number(median), p90=self.number(p90))
        self.table("decisions")
        self.chart("decisions", N_("Decisions by outcome, this period and the previous one"))
        if any(table.name == "response_actions" for table in self.report.tables):
            self.measures()

    def measures(self) -> None:
        """II.3: rebuttals, takedown requests and referrals, and how soon the first one came (the follow-ups)."""
        self.subheading(3, N_("Measures taken"))
        figure, number = self.figure, self.number
        self.text(N_("%(rebuttals)s rebuttals were published, %(takedowns)s takedown requests were made (%(removed)s "
                     "taken down) and %(referrals)s items were referred to the competent agencies (previous period: "
                     "%(rebuttals_before)s, %(takedowns_before)s and %(referrals_before)s)."),
                  rebuttals=number(figure("rebuttals_published")), takedowns=number(figure("takedown_requests")),
                  removed=number(figure("takedowns_removed")), referrals=number(figure("referrals")),
                  rebuttals_before=number(figure("rebuttals_published", "previous")),
                  takedowns_before=number(figure("takedown_requests", "previous")),
                  referrals_before=number(figure("referrals", "previous")))
        if figure("hours_to_first_action_median") is not None:
            self.text(N_("The first measure came %(median)s hours after the item was first seen at the median "
                         "(90th percentile: %(p90)s hours)."),
                      median=number(figure("hours_to_first_action_median")),
                      p90=number(figure("hours_to_first_action_p90")))
        self.text(N_("At the end of the period %(open)s measures were awaiting a result, %(overdue)s of them "
                     "overdue."), open=number(figure("followups_open")), overdue=number(figure("followups_overdue")))
        for name in ("response_actions", "takedown_outcomes", "referrals_by_agency"):
            self.table(name)

    def spreading(self) -> None:
        """III: how many stories several sources carried, and the most widely spread."""
        self.heading(2)
        self.text(N_("%(stories)s stories were carried by two or more sources in the period (previous period: "
                     "%(before)s). The most widely spread:"),
                  stories=self.number(self.figure("stories_multi_source")),
                  before=self.number(self.figure("stories_multi_source", "previous")))
        self.table("top_clusters")
        if any(table.name == "early_warning" for table in self.report.tables):
            self.early_warning()

    def early_warning(self) -> None:
        """III (continued): the jurisdiction's items, the debunked claims that came back, and the spikes."""
        figure, number = self.figure, self.number
        self.text(N_("%(about)s items concerned our jurisdiction (previous period: %(about_before)s), %(flagged)s of "
                     "them flagged; %(matching)s items repeated claims that had already been debunked (previous "
                     "period: %(matching_before)s); %(spikes)s sudden spikes were detected."),
                  about=number(figure("items_about_jurisdiction")),
                  about_before=number(figure("items_about_jurisdiction", "previous")),
                  flagged=number(self.report.table("early_warning").lookup("flagged_about_jurisdiction", "value")),
                  matching=number(figure("items_matching_claims")),
                  matching_before=number(figure("items_matching_claims", "previous")),
                  spikes=number(figure("spikes_fired")))
        self.table("places_mentioned")
        self.table("claims_matched")

    def assessment(self) -> None:
        """IV: the trend, the flags' precision and coverage, drafted from the figures (editable)."""
        self.heading(3)
        change = self.figure("items_flagged", "change")
        if change:
            message = (N_("The number of items showing signs of violations rose by %(change)s compared with the "
                          "previous period.") if change > 0 else
                       N_("The number of items showing signs of violations fell by %(change)s compared with the "
                          "previous period."))
            self.bullet(message, change=self.number(abs(change)))
        else:
            self.bullet(N_("The number of items showing signs of violations was the same as in the previous period."))
        precision = self.figure("precision_all_flags")
        if precision is not None:
            self.bullet(N_("%(precision)s of the flags decided in the period were confirmed (previous period: "
                           "%(before)s)."), precision=self.share(precision),
                        before=self.share(self.figure("precision_all_flags", "previous")))
        problems = sum(self.figure(name) or 0 for name in ("sources_gone_dark", "sources_failing"))
        if not self.figure("items_crawled"):
            self.bullet(NOTHING_COLLECTED)
        elif problems:
            self.bullet(N_("%(problems)s sources sent nothing new or failed to be collected; they need checking so "
                           "that no information is missed."), problems=self.number(problems))
        else:
            self.bullet(N_("The sources were monitored without gaps."))

    def proposals(self) -> None:
        """V: a highlighted placeholder, for the committee to write before signing."""
        self.heading(4)
        paragraph = _paragraph(self.document, self.w.gettext(
            "[Proposals and recommendations of the committee: to be written before signing.]"), italic=True,
            indent=True)
        for run in paragraph.runs:
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW


def heading(spec: DocTable, column: str, w: Wording) -> str:
    """A table's column heading: the column's label with a capital, as every other format heads it
    (Wording.heading), or the table's own wording for it."""
    own = dict(spec.headings).get(column)
    return w.gettext(own) if own else w.heading(column)


def _coded(column: str) -> bool | None:
    """Whether a column's text cells are stored keys to word: the summary's figure names always; the rest as
    Wording decides for the column (None)."""
    return True if column == "figure" else None


def _repeat_header(row) -> None:
    """Mark a table row as the header repeated at the top of every page the table runs onto."""
    _child(row._tr.get_or_add_trPr(), "w:tblHeader", TRPR_ORDER).set(qn("w:val"), "true")
