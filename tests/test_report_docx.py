"""The DOCX report: the administrative format of Nghị định 30/2020/NĐ-CP (header block, title, sections I–V,
Nơi nhận and signature), its typesetting, its settings, and untrusted text that must not break the file."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from datetime import date

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from monitor.cli import main
from monitor.config import ConfigError, Recipient, ReportSettings, load_text
from monitor.reports import build_report, iso_week, render
from monitor.reports.docx import generated_day
from tests.test_report_build import build_world

SETTINGS = ReportSettings(agency="Ban Chỉ đạo 35 tỉnh Thanh Hóa", parent_agency="Tỉnh ủy Thanh Hóa", place="Thanh Hóa",
                          signer_title=["TM. BAN CHỈ ĐẠO", "Trưởng ban"],
                          recipients=[Recipient("Thường trực Tỉnh ủy"), Recipient("UBND tỉnh", "vanthu@thanhhoa.gov.vn"),
                                      Recipient(None, "only@address.vn")])
HEADINGS = ["I. TÌNH HÌNH CHUNG", "II. KẾT QUẢ PHÁT HIỆN VÀ XỬ LÝ", "III. CÁC TIN, BÀI LAN TRUYỀN", "IV. ĐÁNH GIÁ",
            "V. ĐỀ XUẤT, KIẾN NGHỊ"]


@pytest.fixture(scope="module")
def w47(tmp_path_factory):
    """The hand-built world's week (test_report_build), built once: the tests only read the Report."""
    import db

    database = db.connect(tmp_path_factory.mktemp("docx-world") / "world.db")
    build_world(database)
    report = build_report(database, iso_week("2026-W47"))
    database.conn.close()
    return report


@pytest.fixture(scope="module")
def w47_docx(w47) -> bytes:
    """w47 as a DOCX with SETTINGS, rendered once (a render draws three charts)."""
    return render(w47, "docx", settings=SETTINGS)


def _open(data: bytes):
    return Document(io.BytesIO(data))


def _cell_lines(cell) -> list[str]:
    return [p.text for p in cell.paragraphs if p.text]


def _body_texts(document) -> list[str]:
    return [p.text for p in document.paragraphs if p.text]


def _date_line(report, place: str) -> str:
    day = generated_day(report)
    return f"{place}, ngày {day:%d} tháng {day:%m} năm {day:%Y}"


def test_the_docx_has_the_decrees_parts_in_order(w47, w47_docx):
    document = _open(w47_docx)
    header, closing = document.tables[0], document.tables[-1]
    # Top left: the parent body, then the issuing body in capitals, then the number and symbol line.
    assert _cell_lines(header.cell(0, 0)) == ["TỈNH ỦY THANH HÓA", "BAN CHỈ ĐẠO 35 TỈNH THANH HÓA"]
    assert header.cell(0, 0).paragraphs[1].runs[0].bold
    assert _cell_lines(header.cell(1, 0)) == ["Số: …/BC-…"]
    # Top right: the national title and motto (bold), then the place and date line in italics.
    assert _cell_lines(header.cell(0, 1)) == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]
    assert all(p.runs[0].bold for p in header.cell(0, 1).paragraphs if p.text)
    date_line = header.cell(1, 1).paragraphs[0]
    assert date_line.text == _date_line(w47, "Thanh Hóa") and date_line.runs[0].italic
    # The title and the line naming the period, centred and bold.
    texts = _body_texts(document)
    title = next(p for p in document.paragraphs if p.text == "BÁO CÁO")
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER and title.runs[0].bold
    assert texts[texts.index("BÁO CÁO") + 1] == ("Kết quả giám sát, phát hiện và xử lý thông tin sai sự thật, độc hại "
                                                 "tuần 47/2026 (từ ngày 16/11/2026 đến ngày 22/11/2026)")
    # The five numbered sections, in order, each bold; proposals an editable placeholder.
    positions = [texts.index(heading) for heading in HEADINGS]
    assert positions == sorted(positions)
    assert all(p.runs[0].bold for p in document.paragraphs if p.text in HEADINGS)
    assert texts[positions[-1] + 1].startswith("[") and texts[positions[-1] + 1].endswith("]")
    # Nơi nhận (bold italic 12 pt) with the named recipients and "- Lưu: VT.", and the signature block.
    received = closing.cell(0, 0).paragraphs[0]
    assert received.text == "Nơi nhận:" and received.runs[0].bold and received.runs[0].italic
    assert received.runs[0].font.size == Pt(12)
    assert _cell_lines(closing.cell(0, 0))[1:] == ["- Thường trực Tỉnh ủy;", "- UBND tỉnh;", "- Lưu: VT."]
    signature = _cell_lines(closing.cell(0, 1))
    assert signature[:2] == ["TM. BAN CHỈ ĐẠO", "TRƯỞNG BAN"] and signature[-1] == "Họ và tên"
    # Figures and charts: the key tables (the follow-up measures' three and the early warning's two among them)
    # and three charts as images.
    assert len(document.tables) == 2 + 9
    assert len(document.inline_shapes) == 3


def test_without_settings_the_document_has_the_decrees_placeholders(w47):
    document = _open(render(w47, "docx"))
    header, closing = document.tables[0], document.tables[-1]
    assert _cell_lines(header.cell(0, 0)) == ["TÊN CƠ QUAN, TỔ CHỨC CHỦ QUẢN", "TÊN CƠ QUAN, TỔ CHỨC BAN HÀNH"]
    assert header.cell(1, 1).paragraphs[0].text == _date_line(w47, "Địa danh")
    assert _cell_lines(closing.cell(0, 0))[1:] == ["- …;", "- Lưu: VT."]
    assert _cell_lines(closing.cell(0, 1))[0] == "QUYỀN HẠN, CHỨC VỤ CỦA NGƯỜI KÝ"


def test_the_docx_is_typeset_as_the_decree_asks(w47_docx):
    data = w47_docx
    document = _open(data)
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)  # A4 (stored in twips)
    mm = {name: round(getattr(section, name).mm, 1) for name in ("top_margin", "bottom_margin", "left_margin",
                                                                 "right_margin")}
    assert 20 <= mm["top_margin"] <= 25 and 20 <= mm["bottom_margin"] <= 25
    assert 30 <= mm["left_margin"] <= 35 and 15 <= mm["right_margin"] <= 20
    # Page numbers centred at the top, from page 2: a PAGE field in the header, none on the first page.
    assert section.different_first_page_header_footer
    number = section.header.paragraphs[0]
    assert number.alignment == WD_ALIGN_PARAGRAPH.CENTER and "PAGE" in number._p.xml
    assert "PAGE" not in section.first_page_header._element.xml
    # Times New Roman for every script (Vietnamese must not fall back to another font), 14 pt body.
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(14)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        styles = package.read("word/styles.xml").decode("utf-8")
        body = package.read("word/document.xml").decode("utf-8")
    defaults = styles[styles.index("<w:docDefaults>"):styles.index("</w:docDefaults>")]
    for script in ("ascii", "hAnsi", "eastAsia", "cs"):
        assert f'w:{script}="Times New Roman"' in defaults
    assert "Theme" not in defaults and 'w:val="vi-VN"' in defaults
    assert set(re.findall(r'w:(?:ascii|hAnsi|eastAsia|cs)="([^"]*)"', body)) <= {"Times New Roman"}
    # Sizes: 11–14 pt everywhere (11 only in the recipients list), 12–13 pt in the figure tables.
    sizes = {run.font.size for p in _all_paragraphs(document) for run in p.runs if run.text.strip()}
    assert sizes <= {Pt(11), Pt(12), Pt(13), Pt(14)}
    for table in document.tables[1:-1]:
        for row in table.rows:
            for cell in row.cells:
                assert all(Pt(12) <= run.font.size <= Pt(13) for p in cell.paragraphs for run in p.runs)


def _all_paragraphs(document):
    yield from document.paragraphs
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                yield from cell.paragraphs


def test_the_docx_in_english(w47):
    report = dataclasses.replace(w47, lang="en")
    document = _open(render(report, "docx"))
    texts = _body_texts(document)
    assert _cell_lines(document.tables[0].cell(0, 1))[0] == "SOCIALIST REPUBLIC OF VIETNAM"
    assert "REPORT" in texts and "I. OVERALL SITUATION" in texts and "V. PROPOSALS AND RECOMMENDATIONS" in texts
    day = generated_day(w47)
    assert document.tables[0].cell(1, 1).paragraphs[0].text == f"Place, {day:%B} {day.day}, {day:%Y}"
    assert "Recipients:" in _cell_lines(document.tables[-1].cell(0, 0))
    language = document.styles.element.find(qn("w:docDefaults")).find(".//" + qn("w:lang"))
    assert language.get(qn("w:val")) == "en-GB"  # Word's spelling and hyphenation


def test_the_same_report_gives_the_same_bytes(w47, w47_docx):
    assert render(w47, "docx", settings=SETTINGS) == w47_docx
    with zipfile.ZipFile(io.BytesIO(render(w47, "docx"))) as package:
        assert {info.date_time for info in package.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "docProps/thumbnail.jpeg" not in package.namelist()  # not python-docx's template picture
        assert "python-docx" not in package.read("docProps/core.xml").decode("utf-8")


def test_untrusted_titles_with_control_characters_do_not_break_the_file(tmp_db):
    build_world(tmp_db)
    hostile = "Tin\x00 giả\x0b tuần\x1f trước\ufffe\x85 <w:t>&amp; ]]>"
    tmp_db.conn.execute("UPDATE items SET title = ? WHERE title = 'Tin giả tuần trước'", (hostile,))
    tmp_db.conn.execute("UPDATE sources SET name = 'Báo\x07 A\x1b[31m' WHERE id = 1")
    tmp_db.conn.commit()
    report = build_report(tmp_db, iso_week("2026-W47"))
    settings = dataclasses.replace(SETTINGS, agency="Ban\x01 Chỉ đạo", recipients=[Recipient("Văn\x0c phòng")])
    data = render(report, "docx", settings=settings)
    document = _open(data)  # the XML parses
    stories = document.tables[-4]  # then the early warning's places and claims, then the closing block
    titles = [row.cells[0].text for row in stories.rows[1:]]
    assert "Tin giả tuần trước <w:t>&amp; ]]>" in titles
    assert _cell_lines(document.tables[0].cell(0, 0))[1] == "BAN CHỈ ĐẠO"
    assert "- Văn phòng;" in _cell_lines(document.tables[-1].cell(0, 0))
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        body = package.read("word/document.xml").decode("utf-8")
    assert not any(ch in body for ch in "\x00\x01\x07\x0b\x0c\x1b\x1f\x85\ufffe")


def _with_measures(report):
    """`report` with the follow-up measures' tables and headline rows as the Response section adds them."""
    from monitor.reports.model import Table

    summary = report.table("summary")
    rows = [["rebuttals_published", 2, 1, 1], ["takedown_requests", 3, 0, 3], ["takedowns_removed", 1, 0, 1],
            ["referrals", 1, 1, 0], ["hours_to_first_action_median", 5.5, None, None],
            ["hours_to_first_action_p90", 9, None, None], ["followups_open", 4, 1, 3], ["followups_overdue", 1, 0, 1]]
    measures = [
        Table("response_actions", "", ["kind", "followups", "previous", "change"],
              [["rebuttal_published", 2, 1, 1], ["takedown_requested", 3, 0, 3], ["referred_to_agency", 1, 1, 0]]),
        Table("takedown_outcomes", "", ["outcome", "requests", "previous", "change"],
              [["removed", 1, 0, 1], ["pending", 2, 0, 2]]),
        Table("referrals_by_agency", "", ["agency", "referrals", "previous", "change"], [["police", 1, 1, 0]]),
    ]
    replaced = {table.name: table for table in measures}
    keys = {row[0] for row in rows}
    summary = dataclasses.replace(summary, rows=[r for r in summary.rows if r[0] not in keys] + rows)
    tables = [summary if t.name == "summary" else replaced.pop(t.name, t) for t in report.tables]
    return dataclasses.replace(report, tables=tables + list(replaced.values()))


def test_the_follow_up_measures_are_section_ii_3_when_the_report_has_them(w47):
    from monitor.reports.docx import shown_tables

    assert [spec.name for spec in shown_tables(w47)] == ["summary", "flagged_by_category", "decisions", "response_actions",
                                                         "takedown_outcomes", "referrals_by_agency", "top_clusters",
                                                         "places_mentioned", "claims_matched"]
    report = _with_measures(w47)
    document = _open(render(report, "docx"))
    texts = _body_texts(document)
    start = texts.index("3. Các biện pháp đã thực hiện")
    assert texts.index("II. KẾT QUẢ PHÁT HIỆN VÀ XỬ LÝ") < start < texts.index("III. CÁC TIN, BÀI LAN TRUYỀN")
    assert texts[start + 1] == ("Đã đăng 2 tin cải chính, phản bác; gửi 3 yêu cầu gỡ bỏ (đã gỡ 1); chuyển 1 vụ việc "
                                "đến cơ quan chức năng (kỳ trước lần lượt: 1, 0 và 1).")
    assert "trung vị 5,5 giờ (phân vị 90: 9 giờ)" in texts[start + 2]
    assert texts[start + 3] == "Đến cuối kỳ còn 4 biện pháp chưa có kết quả, trong đó 1 biện pháp quá hạn."
    assert len(document.tables) == 2 + 9  # the three measures' tables between decisions and the stories
    assert [cell.text for cell in document.tables[4].rows[1].cells][1:] == ["2", "1", "+1"]
    assert [cell.text for cell in document.tables[6].rows[1].cells][1:] == ["1", "1", "0"]


def test_clean_drops_what_xml_cannot_hold():
    from monitor.reports.docx import clean

    assert clean("a\x00b\ud800c\uffff d\n\te") == "abc d e"
    assert clean("a\x00b\n\tc", one_line=False) == "ab\n\tc"


def test_an_empty_week_renders_saying_so(tmp_db):
    report = build_report(tmp_db, iso_week("2026-W30"))
    document = _open(render(report, "docx"))
    texts = _body_texts(document)
    assert "Trong kỳ báo cáo không thu thập được tin, bài nào và không có quyết định xử lý nào." in texts
    assert all(heading in texts for heading in HEADINGS)
    assert "Không có dữ liệu trong kỳ này." in texts  # the spreading stories' table has no rows
    # Nothing collected is not "every source delivered new items" nor "monitored without gaps" (hostile review:
    # a document sent upward claimed both for a week in which nothing at all was collected).
    assert not any("đều có tin mới" in text or "không có khoảng trống" in text for text in texts), texts
    nothing = ("Trong kỳ không thu thập được tin, bài nào từ các nguồn đang theo dõi; cần kiểm tra việc thu thập "
               "để không bỏ sót thông tin.")
    assert nothing in texts and "- " + nothing in texts  # I.2 and the assessment (IV)


def test_generated_day_is_the_day_in_the_reports_zone(w47):
    late = dataclasses.replace(w47, generated_at="2026-12-06T18:30:00Z")  # 01:30 on the 7th in Hà Nội
    assert generated_day(late) == date(2026, 12, 7)
    assert _open(render(late, "docx")).tables[0].cell(1, 1).paragraphs[0].text == \
        "Địa danh, ngày 07 tháng 12 năm 2026"


def test_quarter_and_custom_periods_are_named_in_the_title(w47):
    from monitor.reports.display import wording
    from monitor.reports.docx import period_words
    from monitor.reports.period import custom, quarter

    for period, words in ((quarter("2026-Q4"), "quý IV/2026 (từ ngày 01/10/2026 đến ngày 31/12/2026)"),
                          (custom("2026-11-01", "2026-11-10"), "từ ngày 01/11/2026 đến ngày 10/11/2026")):
        assert period_words(dataclasses.replace(w47, period=period), wording("vi")) == words
    assert period_words(w47, wording("en")) == "week 47/2026 (from 2026-11-16 to 2026-11-22)"


# ---- settings: report ----

REPORT_YAML = """\
settings:
  report:
    agency: Ban Chỉ đạo 35 tỉnh Thanh Hóa
    parent_agency: Tỉnh ủy Thanh Hóa
    place: Thanh Hóa
    signer_title: ["TM. BAN CHỈ ĐẠO", "TRƯỞNG BAN"]
    recipients:
      - Thường trực Tỉnh ủy
      - vanthu@thanhhoa.gov.vn
      - {name: UBND tỉnh, email: ubnd@thanhhoa.gov.vn}
sources: []
"""


def test_report_settings_load():
    report = load_text(REPORT_YAML).settings.report
    assert report.agency == "Ban Chỉ đạo 35 tỉnh Thanh Hóa" and report.parent_agency == "Tỉnh ủy Thanh Hóa"
    assert report.place == "Thanh Hóa" and report.signer_title == ["TM. BAN CHỈ ĐẠO", "TRƯỞNG BAN"]
    assert report.recipients == [Recipient("Thường trực Tỉnh ủy"), Recipient(None, "vanthu@thanhhoa.gov.vn"),
                                 Recipient("UBND tỉnh", "ubnd@thanhhoa.gov.vn")]
    assert load_text("sources: []\n").settings.report == ReportSettings()
    one_line = load_text("settings:\n  report:\n    signer_title: GIÁM ĐỐC\nsources: []\n")
    assert one_line.settings.report.signer_title == ["GIÁM ĐỐC"]


@pytest.mark.parametrize(("entry", "line", "field", "words"), [
    ("    agencyy: X\n", 3, "report.agencyy", "unknown setting"),
    ("    agency: [1, 2]\n", 3, "report.agency", "one line of text"),
    ("    place: ''\n", 3, "report.place", "one line of text"),
    ("    signer_title: []\n", 3, "report.signer_title", "list of lines"),
    ("    signer_title: [TRƯỞNG BAN, 3]\n", 3, "report.signer_title", "one line of text"),
    ("    recipients: Tỉnh ủy\n", 3, "report.recipients", "a list of recipients"),
    ("    recipients:\n      - ok@a.vn\n      - {name: X, email: not-an-address}\n", 5, "report.recipients",
     "is not an e-mail address"),
    ("    recipients:\n      - {name: X, phone: 1}\n", 4, "report.recipients", "name, an e-mail address"),
])
def test_bad_report_settings_name_the_line_and_field(entry, line, field, words):
    with pytest.raises(ConfigError) as caught:
        load_text("settings:\n  report:\n" + entry + "sources: []\n", "feeds.yaml")
    assert caught.value.line == line and caught.value.field == field and words in caught.value.message
    assert str(caught.value).startswith(f"feeds.yaml:{line}: field '{field}'")


# ---- the CLI and the web ----

def test_cli_writes_the_docx_with_feeds_settings(tmp_path, db_path, tmp_db, capsys):
    build_world(tmp_db)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(REPORT_YAML, encoding="utf-8")
    out = tmp_path / "w47.docx"
    assert main(["--db", str(db_path), "--feeds", str(feeds), "report", "--week", "2026-W47", "--format", "docx",
                 "--out", str(out)]) == 0
    document = _open(out.read_bytes())
    assert _cell_lines(document.tables[0].cell(0, 0))[1] == "BAN CHỈ ĐẠO 35 TỈNH THANH HÓA"
    assert _cell_lines(document.tables[-1].cell(0, 0))[1:] == ["- Thường trực Tỉnh ủy;", "- UBND tỉnh;", "- Lưu: VT."]
    # A feeds file whose report settings are wrong: one line naming the line, no file written.
    feeds.write_text("settings:\n  report:\n    place: [x]\nsources: []\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["--db", str(db_path), "--feeds", str(feeds), "report", "--week", "2026-W47", "--format", "docx",
                 "--out", str(tmp_path / "bad.docx")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "feeds.yaml:3: field 'report.place'" in error
    assert not (tmp_path / "bad.docx").exists()


def test_web_download_is_the_same_docx(tmp_path, monkeypatch):
    import db
    import db.users
    from monitor.config import Settings
    from tests import helpers

    path = tmp_path / "web.db"
    database = db.connect(path)
    build_world(database)
    db.users.add_user(database, "ana", "correct horse battery", "analyst")
    monkeypatch.setattr("monitor.reports.build.utcnow", lambda: "2026-11-23T01:00:00Z")
    expected = render(build_report(database, iso_week("2026-W47")).without_admin_tables(), "docx", settings=SETTINGS)
    database.conn.close()
    client = helpers.make_app(path, SETTINGS=Settings(report=SETTINGS)).test_client()
    helpers.login(client, "ana", "correct horse battery")
    assert 'format=docx' in client.get("/reports/?week=2026-W47").get_data(as_text=True)
    response = client.get("/reports/download?week=2026-W47&format=docx")
    assert response.status_code == 200 and response.data == expected
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert 'filename="report-2026-W47.docx"' in response.headers["Content-Disposition"]


def test_property_elements_are_in_the_order_word_requires(w47_docx):
    """Word refuses ("unreadable content") a w:pPr, w:rPr, w:trPr or w:tblPr whose children are out of the
    schema's order; python-docx keeps its own in order, and the rules, fonts and header rows added here too."""
    from lxml import etree

    from monitor.reports.docx import PPR_ORDER, RPR_ORDER, TRPR_ORDER

    tblpr = ("w:tblStyle", "w:tblpPr", "w:tblOverlap", "w:bidiVisual", "w:tblStyleRowBandSize",
             "w:tblStyleColBandSize", "w:tblW", "w:jc", "w:tblCellSpacing", "w:tblInd", "w:tblBorders", "w:shd",
             "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription")
    orders = {"rPr": RPR_ORDER, "pPr": PPR_ORDER, "trPr": TRPR_ORDER, "tblPr": tblpr}
    namespace = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    wrong = []
    with zipfile.ZipFile(io.BytesIO(w47_docx)) as package:
        for name in package.namelist():
            if not re.fullmatch(r"word/(document|styles|header\d+)\.xml", name):
                continue
            tree = etree.fromstring(package.read(name))
            for tag, order in orders.items():
                for element in tree.iter(namespace + tag):
                    children = ["w:" + child.tag.split("}")[1] for child in element if child.tag.startswith(namespace)]
                    positions = [order.index(child) if child in order else -1 for child in children]
                    if -1 in positions or positions != sorted(set(positions)):
                        wrong.append((name, tag, children))
    assert wrong == []


def test_web_docx_download_with_a_broken_feeds_file_is_one_line_not_a_500(tmp_path):
    """Hostile review: the web app reads feeds.yaml's settings at the first DOCX download; a file that does not
    validate (edited since the app started) raised ConfigError — a 500 with nothing for the analyst to go on."""
    import db
    import db.users
    from tests import helpers

    path = tmp_path / "web.db"
    database = db.connect(path)
    build_world(database)
    db.users.add_user(database, "ana", "correct horse battery", "analyst")
    database.conn.close()
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("settings:\n  report:\n    agency: 5\nsources: []\n", "utf-8")
    client = helpers.make_app(path, FEEDS=str(feeds)).test_client()
    helpers.login(client, "ana", "correct horse battery")
    response = client.get("/reports/download?week=2026-W47&format=docx")
    assert response.status_code == 503 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert len(text.strip().splitlines()) == 1 and "report.agency" in text and "feeds.yaml:3" in text
    assert client.get("/reports/download?week=2026-W47&format=pdf").status_code == 200  # the others still work


def test_a_period_not_over_yet_says_so_in_the_docx(tmp_db):
    """Hostile review: /reports/ opens on this week so far, and its DOCX link gave a document that read as a
    complete week's report (the other formats carry the report's "not over yet" note; the DOCX dropped it)."""
    build_world(tmp_db)
    report = dataclasses.replace(build_report(tmp_db, iso_week("2026-W47")), generated_at="2026-11-20T03:00:00Z")
    texts = _body_texts(_open(render(report, "docx")))
    assert "Tuần 47 năm 2026 (16/11/2026 – 22/11/2026) chưa kết thúc: đây là số liệu tính đến nay." in texts
    finished = _body_texts(_open(render(build_report(tmp_db, iso_week("2026-W47")), "docx")))
    assert not any("chưa kết thúc" in text for text in finished)
