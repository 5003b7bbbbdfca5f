"""Every format renders the same figures, from the same hand-built world; the CLI writes them."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC

import pytest

from monitor.cli import main
from monitor.reports import build_report, iso_week, render
from monitor.reports.display import NONE, wording
from tests.test_report_build import build_world
from tests.test_report_response import add_followups


@pytest.fixture()
def w47(tmp_db):
    """The hand-built week with its follow-ups (the Response section's figures are compared too)."""
    build_world(tmp_db)
    add_followups(tmp_db)
    return build_report(tmp_db, iso_week("2026-W47"))


def _csv_rows(data: bytes, keys: list[str] | None = None, lang: str = "vi") -> list[dict]:
    """The rows of a CSV file; with `keys`, keyed by those column keys instead of their translated headers."""
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    if keys is None:
        return rows
    headers = dict(zip(wording(lang).labels(keys), keys, strict=True))
    return [{headers[heading]: value for heading, value in row.items()} for row in rows]


def localised_number(text: str, lang: str) -> float | None:
    """A number as a format writes it for people ("1.234,5", "+3", "—") read back; None for "—"."""
    from babel.numbers import parse_decimal

    return None if text == NONE else float(parse_decimal(text.lstrip("+"), locale=lang, strict=True))


def test_csv_has_every_item_and_decision(w47, tmp_db):
    from monitor.reports.build import ITEM_COLUMNS

    raw = _csv_rows(render(w47, "csv"))
    assert list(raw[0])[:3] == ["Mã tin", "Phát hiện lúc", "Phát hiện lúc (UTC)"]  # headers in Vietnamese
    rows = _csv_rows(render(w47, "csv"), ITEM_COLUMNS)
    assert len(rows) == 9
    first = next(r for r in rows if r["item_id"] == "1")
    assert first["source"] == "VnExpress" and first["action"] == "Xác nhận tin sai"  # coded values in words
    assert first["decided_by"] == "lan" and first["old_status"] == "Bị gắn cờ" and first["new_status"] == "Đã xác nhận"
    # numbers and times stay machine values
    assert first["note"] == "call 0987.654.321" and first["score_misinformation"] == "0.9"
    assert first["first_seen_local"] == "2026-11-16 09:00" and first["flag_reasons"] == "Tin sai lệch"
    # A crawled title starting with "=" cannot become a spreadsheet formula.
    seven = next(r for r in rows if r["item_id"] == "7")
    assert seven["title"].startswith("'=HYPERLINK")
    english = _csv_rows(render(build_report(tmp_db, iso_week("2026-W47"), lang="en"), "csv"), ITEM_COLUMNS, "en")
    assert next(r for r in english if r["item_id"] == "1")["action"] == "Confirm misinformation"



def test_json_has_every_figure(w47):
    data = json.loads(render(w47, "json"))
    assert data["meta"]["period"] == "2026-W47" and data["meta"]["start_utc"] == "2026-11-15T17:00:00Z"
    for table in w47.tables:
        assert data["tables"][table.name]["rows"] == table.as_dicts()
    assert len(data["items"]["rows"]) == 9
    summary = {r["figure"]: r for r in data["tables"]["summary"]["rows"]}
    assert summary["items_crawled"] == {"figure": "items_crawled", "value": 6, "previous": 3, "change": 3}


def test_redaction_removes_phones_emails_and_ids(tmp_db):
    build_world(tmp_db)
    report = build_report(tmp_db, iso_week("2026-W47"), redact=True)
    text = render(report, "csv").decode("utf-8") + render(report, "json").decode("utf-8")
    for secret in ("0912 345 678", "0987.654.321", "tuyen@example.vn", "001203004567"):
        assert secret not in text
    # the markers in the report's language
    assert "[số điện thoại]" in text and "[thư điện tử]" in text and "[số định danh]" in text
    english = render(build_report(tmp_db, iso_week("2026-W47"), redact=True, lang="en"), "csv").decode("utf-8")
    assert "[phone]" in english and "[email]" in english and "[id]" in english
    assert "2026-11-16T02:00:00Z" in text  # times survive
    assert json.loads(render(report, "json"))["meta"]["redacted"] is True


def test_cli_report_writes_csv_and_json(tmp_path, db_path, tmp_db, capsys):
    build_world(tmp_db)
    out = tmp_path / "w47.csv"
    assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", "csv", "--out", str(out)]) == 0
    assert len(_csv_rows(out.read_bytes())) == 9
    figures = _csv_rows((tmp_path / "w47.figures.csv").read_bytes(), ["table", "row", "column", "value"])
    assert {"table": "Tóm tắt nhanh", "row": "Tin thu thập", "column": "Giá trị", "value": "6"} in figures
    out_json = tmp_path / "w47.json"
    assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", "json",
                 "--out", str(out_json)]) == 0
    assert json.loads(out_json.read_text("utf-8"))["tables"]["summary"]["rows"][0]["value"] == 6
    assert "wrote" in capsys.readouterr().out


def test_cli_rejects_bad_period(db_path, tmp_db, capsys):
    assert main(["--db", str(db_path), "report", "--week", "2026-47", "--format", "json"]) == 2
    assert "2026-W47" in capsys.readouterr().err
    assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--quarter", "2026-Q4"]) == 2


def test_write_weekly_defaults_to_previous_full_week(tmp_db, tmp_path):
    from datetime import datetime

    from monitor.reports import write_weekly
    build_world(tmp_db)
    # Monday 2026-11-23 08:00 local → the previous full week is W47.
    paths = write_weekly(tmp_db, tmp_path, formats=("json",), now=datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    assert [p.name for p in paths] == ["report-2026-W47.json"]
    assert json.loads(paths[0].read_text("utf-8"))["meta"]["period"] == "2026-W47"


# ---- every format renders the same figures ----

class _Tables(__import__("html.parser").parser.HTMLParser):
    """Collects <table data-table=NAME> cells as text, by table name."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current = None
        self.row = None
        self.cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "data-table" in attrs:
            self.current = self.tables.setdefault(attrs["data-table"], [])
        elif tag == "tr" and self.current is not None:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.current.append(self.row)
            self.row = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def _blank_is_none(rows):
    return [[None if cell == "" else cell for cell in row] for row in rows]


def _csv_text(value) -> str:
    return "" if value is None else str(value)


def test_every_format_renders_the_same_figures(w47):
    import openpyxl
    from pypdf import PdfReader

    from monitor.reports.csv import FIGURE_COLUMNS, render_figures

    assert len(w47.tables) >= 22
    assert w47.table("takedown_outcomes").rows[0] == ["removed", 1, 1, 0]  # the Response section has figures
    w = wording(w47.lang)
    # JSON: the rows themselves.
    data = json.loads(render(w47, "json"))
    # CSV: one line per figure cell (table title, row and column in words, the value a plain number).
    figures = {(r["table"], r["row"], r["column"]): r["value"]
               for r in _csv_rows(render_figures(w47), list(FIGURE_COLUMNS))}
    # XLSX: one sheet per table, data from row 4; numbers numeric, keys in words.
    from monitor.reports.xlsx import HEADER_ROW, sheet_title
    workbook = openpyxl.load_workbook(io.BytesIO(render(w47, "xlsx")))
    # HTML: cells of each data-table.
    parser = _Tables()
    parser.feed(render(w47, "html").decode("utf-8"))
    # PDF: the text, whitespace removed (cells wrap across lines).
    pdf_text = "".join("".join(page.extract_text() for page in PdfReader(io.BytesIO(render(w47, "pdf"))).pages).split())

    def coded(table, row):
        return [w.coded(cell, column) for column, cell in zip(table.columns, row, strict=True)]

    for table in w47.tables:
        assert data["tables"][table.name]["rows"] == table.as_dicts(), table.name
        assert data["tables"][table.name]["labels"] == w.labels(table.columns), table.name
        sheet = workbook[sheet_title(table, w)]
        assert [cell.value for cell in sheet[HEADER_ROW]] == w.labels(table.columns), table.name
        sheet_rows = [list(row) for row in sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True)]
        # a spreadsheet has no empty string
        assert sheet_rows == _blank_is_none([coded(table, row) for row in table.rows]), table.name
        html_rows = parser.tables[table.name][1:]
        columns = ["figure", "value", "previous", "change"] if table.name == "summary" else table.columns
        for html_row, row in zip(html_rows, table.rows, strict=True):
            for column, text, cell in zip(columns, html_row, row, strict=True):
                if isinstance(cell, int | float) and column not in ("item_id", "cluster_id", "decision_id"):
                    assert localised_number(text, w.lang) == cell, (table.name, column, text, cell)
                else:
                    assert text == w.cell(cell, column), (table.name, column, text, cell)
        for row in table.rows:
            row_key = _csv_text(w.coded(row[0], table.columns[0]))
            for column, cell in zip(table.columns[1:], row[1:], strict=True):
                value = figures[(table.title, row_key, w.label(column))].lstrip("'")
                assert value == _csv_text(w.coded(cell, column)), (table.name, row_key, column)
            for cell_text in html_rows[table.rows.index(row)]:
                assert "".join(cell_text.split()) in pdf_text, (table.name, cell_text)
    # The items are in CSV, JSON and XLSX in full.
    assert len(_csv_rows(render(w47, "csv"))) == len(w47.items.rows) == len(data["items"]["rows"])
    assert [list(r) for r in workbook[sheet_title("items", w)].iter_rows(min_row=HEADER_ROW + 1, values_only=True)] == \
        _blank_is_none([coded(w47.items, row) for row in w47.items.rows])
    _assert_docx_figures(w47, data)


def _assert_docx_figures(report, data: dict) -> None:
    """The DOCX's tables (docx.shown_tables, in its order) hold the JSON's figures: each cell is the
    report's value as Wording writes it, and each number reads back as the JSON's number."""
    from docx import Document

    from monitor.reports.display import wording
    from monitor.reports.docx import heading, shown_tables

    w = wording(report.lang)
    document = Document(io.BytesIO(render(report, "docx")))
    figure_tables = document.tables[1:-1]  # between the header block and the signature block
    assert len(figure_tables) == len(shown_tables(report))
    for docx_table, spec in zip(figure_tables, shown_tables(report), strict=True):
        name = spec.name
        columns = list(spec.columns or report.table(name).columns)
        rows = [[cell.text for cell in row.cells] for row in docx_table.rows]
        assert rows[0] == [heading(spec, column, w) for column in columns], name
        json_rows = data["tables"][name]["rows"]
        assert len(rows) - 1 == len(json_rows) > 0, name
        for cells, figures in zip(rows[1:], json_rows, strict=True):
            for text, column in zip(cells, columns, strict=True):
                value = figures[column]
                assert text == w.cell(value, column, coded=True if column == "figure" else None), (name, column)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    assert localised_number(text, report.lang) == pytest.approx(value), (name, column, text)


def test_empty_week_renders_in_every_format_saying_so(tmp_db):
    import openpyxl
    from pypdf import PdfReader

    for lang, message, sheet in (
            ("vi", "Không thu thập tin nào và không có quyết định nào trong tuần 30 năm 2026 (20/07/2026 – 26/07/2026).",
             "Báo cáo"),
            ("en", "No items were crawled and no decisions were made in week 30 of 2026 (2026-07-20 – 2026-07-26).",
             "Report")):
        report = build_report(tmp_db, iso_week("2026-W30"), lang=lang)
        assert message in render(report, "html").decode("utf-8")
        assert json.loads(render(report, "json"))["meta"]["notes"] == [message]
        assert _csv_rows(render(report, "csv")) == []
        overview = openpyxl.load_workbook(io.BytesIO(render(report, "xlsx")))[sheet]
        assert message in [row[0] for row in overview.iter_rows(values_only=True)]
        text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(render(report, "pdf"))).pages).split())
        assert message in text


def test_cli_writes_every_format(tmp_path, db_path, tmp_db):
    build_world(tmp_db)
    for fmt in ("html", "xlsx", "pdf"):
        out = tmp_path / f"r.{fmt}"
        assert main(["--db", str(db_path), "report", "--quarter", "2026-Q4", "--format", fmt, "--out", str(out)]) == 0
        assert out.stat().st_size > 1000
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert main(["--db", str(db_path), "report", "--from", "2026-11-16", "--to", "2026-11-22", "--format", "json",
                 "--out", str(tmp_path / "c.json")]) == 0
    custom = json.loads((tmp_path / "c.json").read_text("utf-8"))
    assert custom["tables"]["summary"]["rows"][0]["value"] == 6  # the same days as 2026-W47


# ---- text in the charts is text (issue 15 item 16) ----

# matplotlib reads text between two "$" as maths: an even number of "$" drew a name as formula glyphs, and
# a formula it cannot parse ("\frac{") failed the whole report (`monitor report` exit 1, /reports/ 500).
DOLLAR_NAMES = ("Giá $5 $x^2$", "a$b", "Giá $5 hay $10", "$\\frac{$")


def rename_sources_with_dollars(database) -> None:
    for source_id, name in enumerate(DOLLAR_NAMES, start=1):
        database.conn.execute("UPDATE sources SET name = ? WHERE id = ?", (name, source_id))
    database.conn.commit()


def chart_texts(html: str) -> set[str]:
    """The text drawn in the page's charts (matplotlib SVG with text kept as <text> elements)."""
    from html import unescape

    svgs = "".join(re.findall(r"<svg.*?</svg>", html, re.S))
    return {unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", svgs)}


def test_dollar_signs_in_source_names_are_drawn_as_typed(tmp_path, db_path, tmp_db, capsys):
    build_world(tmp_db)
    rename_sources_with_dollars(tmp_db)
    for fmt in ("html", "pdf"):
        out = tmp_path / f"r.{fmt}"
        assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", fmt, "--out", str(out)]) == 0
    assert set(DOLLAR_NAMES) <= chart_texts((tmp_path / "r.html").read_text("utf-8"))
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


# ---- the CLI's errors and long periods (issue 15 items 3, 4 and 12) ----

@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc", "Asia/Ho_Chi_Minh\x00"])
def test_cli_unknown_zone_is_one_line_naming_it(tmp_path, db_path, tmp_db, capsys, zone):
    out = tmp_path / "r.json"
    assert main(["--db", str(db_path), "report", "--zone", zone, "--format", "json", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and repr(zone) in err
    assert not out.exists()


def test_cli_out_into_a_missing_folder_or_onto_a_folder_is_an_error(tmp_path, db_path, tmp_db, capsys):
    build_world(tmp_db)
    missing = tmp_path / "missing" / "dir" / "r.pdf"
    assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", "pdf", "--out", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing.parent) in err and "does not exist" in err
    assert not (tmp_path / "missing").exists()  # no folder created on the way
    folder = tmp_path / "reports"
    folder.mkdir()
    assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", "csv", "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(folder) in err and "folder" in err
    assert list(folder.iterdir()) == [] and not (tmp_path / "reports.tmp").exists()


def test_cli_warns_before_a_long_period_how_long_it_will_take(tmp_path, db_path, tmp_db, capsys, monkeypatch):
    import monitor.reports.build as build

    build_world(tmp_db)
    seen = {}
    real = build.build_report

    def spy(*args, **kwargs):
        seen["before building"] = capsys.readouterr().err
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "build_report", spy)
    out = tmp_path / "long.html"
    assert main(["--db", str(db_path), "report", "--from", "2024-01-01", "--to", "2026-12-31", "--format", "html",
                 "--out", str(out)]) == 0
    note = seen["before building"]
    assert note.startswith("note: ") and "1,096 days" in note and "10 items" in note and "roughly" in note
    assert "took" in capsys.readouterr().err
    assert out.stat().st_size > 1000
    # A quarter is not long: no note.
    assert main(["--db", str(db_path), "report", "--quarter", "2026-Q4", "--format", "json",
                 "--out", str(tmp_path / "q.json")]) == 0
    assert seen["before building"] == "" and capsys.readouterr().err == ""


def test_a_long_period_counts_each_local_day_like_the_week_does(tmp_db):
    """The day index is arithmetic while the zone keeps one offset (Vietnam's since 1975): the same SQL for
    a week and for decades (a CASE over every day made a long report cost rows × days), and the same days
    as the week's report."""
    from monitor.reports.figures import day_index_sql
    from monitor.reports.period import custom

    build_world(tmp_db)
    week_sql, week_params = day_index_sql(iso_week("2026-W47"), "fetched_at", "sqlite")
    long_sql, long_params = day_index_sql(custom("1976-01-01", "2026-12-31"), "fetched_at", "sqlite")
    assert len(long_sql) == len(week_sql) and len(long_params) == len(week_params)
    long = {row[0]: row[1:] for row in build_report(tmp_db, custom("2020-01-01", "2026-12-31")).table("daily").rows}
    for day, *counts in build_report(tmp_db, iso_week("2026-W47")).table("daily").rows:
        assert long[day] == counts
    assert sum(row[0] for row in long.values()) == 10  # every item of the world, each on one day


DATABASE_FILES = ["", "-wal", "-shm", "-journal", ".secret", ".audit-key", ".audit-checkpoints.jsonl", ".lock",
                  ".runs.lock"]


@pytest.mark.parametrize("suffix", DATABASE_FILES, ids=lambda s: s or "database")
def test_cli_out_never_replaces_the_database_or_its_files(tmp_path, db_path, tmp_db, capsys, suffix):
    """Hostile review item 3: `--out monitor.db` replaced the live database with the report."""
    build_world(tmp_db)
    target = tmp_path / f"{db_path.name}{suffix}"
    if not target.exists():
        target.write_bytes(b"kept as it is")
    before = target.read_bytes()
    assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", "json", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {target}: ") and err.count("\n") == 1 and "database" in err
    assert target.read_bytes() == before or suffix in ("-wal", "-shm")  # SQLite's own files change under it
    assert tmp_db.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] > 0


def test_cli_out_through_a_link_or_another_spelling_of_the_database_is_refused(tmp_path, db_path, tmp_db, capsys,
                                                                               monkeypatch):
    build_world(tmp_db)
    elsewhere = tmp_path / "reports"
    elsewhere.mkdir()
    (elsewhere / "latest.json").symlink_to(db_path)
    (elsewhere / "hard.json").hardlink_to(db_path)
    monkeypatch.chdir(elsewhere)
    for out in [elsewhere / "latest.json", elsewhere / "hard.json", f"../{db_path.name}", f"../reports/../{db_path.name}"]:
        assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", "json", "--out", str(out)]) == 2
        assert "database" in capsys.readouterr().err
    assert (elsewhere / "latest.json").is_symlink()
    assert db_path.read_bytes().startswith(b"SQLite format 3\0")


def test_cli_out_onto_something_that_is_not_a_regular_file_is_refused(tmp_path, db_path, tmp_db, capsys):
    """`--out /dev/full` as root replaced the device node with a regular file (temporary file + rename)."""
    import os
    import stat

    build_world(tmp_db)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", "json", "--out", str(fifo)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {fifo}: ") and "not a regular file" in err and err.count("\n") == 1
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_report_write_that_fails_leaves_no_temporary_file_and_names_out(tmp_path, tmp_db, monkeypatch):
    """A full disk during the rename left report.json.tmp behind, and the error named the .tmp file."""
    import errno
    from pathlib import Path

    from monitor.reports.render import write_report

    def full(self, target):
        raise OSError(errno.ENOSPC, "No space left on device")

    report = build_report(tmp_db, iso_week("2026-W47"))
    monkeypatch.setattr(Path, "replace", full)
    out = tmp_path / "reports" / "report.json"
    out.parent.mkdir()
    with pytest.raises(OSError) as failed:
        write_report(report, "json", out)
    assert failed.value.errno == errno.ENOSPC and failed.value.filename == str(out)
    assert list(out.parent.iterdir()) == []
