"""Every format renders the same figures, from the same hand-built world; the CLI writes them."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC

import pytest
from test_report_build import build_world

from monitor.cli import main
from monitor.reports import build_report, iso_week, render


@pytest.fixture()
def w47(tmp_db):
    build_world(tmp_db)
    return build_report(tmp_db, iso_week("2026-W47"))


def _csv_rows(data: bytes) -> list[dict]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_csv_has_every_item_and_decision(w47):
    rows = _csv_rows(render(w47, "csv"))
    assert len(rows) == 9
    first = next(r for r in rows if r["item_id"] == "1")
    assert first["source"] == "VnExpress" and first["action"] == "confirm_misinformation"
    assert first["decided_by"] == "lan" and first["old_status"] == "flagged" and first["new_status"] == "confirmed"
    assert first["note"] == "call 0987.654.321" and first["score_misinformation"] == "0.9"
    # A crawled title starting with "=" cannot become a spreadsheet formula.
    seven = next(r for r in rows if r["item_id"] == "7")
    assert seven["title"].startswith("'=HYPERLINK")


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
    assert "[phone]" in text and "[email]" in text and "[id]" in text
    assert "2026-11-16T02:00:00Z" in text  # times survive
    assert json.loads(render(report, "json"))["meta"]["redacted"] is True


def test_cli_report_writes_csv_and_json(tmp_path, db_path, tmp_db, capsys):
    build_world(tmp_db)
    out = tmp_path / "w47.csv"
    assert main(["--db", str(db_path), "report", "--week", "2026-W47", "--format", "csv", "--out", str(out)]) == 0
    assert len(_csv_rows(out.read_bytes())) == 9
    figures = _csv_rows((tmp_path / "w47.figures.csv").read_bytes())
    assert {"table": "summary", "row": "items_crawled", "column": "value", "value": "6"} in figures
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
