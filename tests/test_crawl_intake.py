"""Intake outside the crawl: `monitor import FILE` and the web "report a link" function."""

from __future__ import annotations

import json

import pytest

from monitor.cli import main
from monitor.config import Settings
from monitor.pipeline.intake import import_file, submit_report
from tests import corpus
from tests.servers import TestServer

ARTICLE = corpus.FIXTURES / "html" / "vi-bai-viet.html"  # the project's own article page, with site furniture
# (page, words in its title, words in its main text)
ARTICLES = [
    pytest.param(ARTICLE, "nước giếng nhiễm độc", "Trung tâm Kiểm soát bệnh tật", id="project"),
    corpus.param(corpus.REALWORLD / "html" / "vietnamese" / "vnexpress_article_4672302_2023-11-02_from-htmldate.html",
                 "Hồ Đức Phớc", "Bộ trưởng Tài chính", needs="realworld", id="vnexpress"),
]

CSV = """text,url,author,time,source
"Tin đồn: uống nước chanh nóng chữa khỏi ung thư, chia sẻ ngay",https://facebook.com/post/1?fbclid=abc,Nguyễn Văn A,20/11/2026 08:30,facebook
"Cảnh báo lừa đảo qua Zalo giả danh công an phường",,Trần B,2026-11-21T09:00:00+07:00,zalo
,https://example.vn/empty,C,2026-11-21,zalo
"Ngày giờ hỏng",,D,hôm qua,zalo
"Bài không có nguồn",,,,
"""


def test_import_csv_stores_good_rows_and_names_bad_lines(tmp_db, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text(CSV, encoding="utf-8")
    result = import_file(tmp_db, path, None)
    assert (result.rows, result.new) == (5, 3)
    assert len(result.errors) == 2
    assert result.errors[0].startswith(f"{path}:4: no text")
    assert result.errors[1].startswith(f"{path}:5: time 'hôm qua' is not a date")
    rows = {r["author"]: r for r in tmp_db.query(
        "SELECT items.*, sources.name AS source, sources.kind AS kind FROM items JOIN sources ON sources.id = source_id")}
    assert rows["Nguyễn Văn A"]["source"] == "facebook" and rows["Nguyễn Văn A"]["kind"] == "import"
    assert rows["Nguyễn Văn A"]["published_at"] == "2026-11-20T01:30:00Z"  # local Vietnam time → UTC
    assert rows["Nguyễn Văn A"]["canonical_url"] == "https://facebook.com/post/1"
    assert rows["Trần B"]["published_at"] == "2026-11-21T02:00:00Z"
    assert result.by_source == {"facebook": 1, "zalo": 1, "manual-import": 1}
    again = import_file(tmp_db, path, None)
    assert again.new == 0 and again.seen == 3


def test_import_jsonl_with_bad_json_line(tmp_db, tmp_path):
    path = tmp_path / "posts.jsonl"
    lines = [json.dumps({"text": "Thông tin sai sự thật về dịch bệnh ở Nghệ An", "source": "tiktok"}, ensure_ascii=False),
             "{not json",
             json.dumps(["a list"]),
             json.dumps({"content": "Bài đăng thứ hai về bão lũ miền Trung", "url": "https://tiktok.com/@x/video/2"},
                        ensure_ascii=False)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_file(tmp_db, path, None)
    assert result.new == 2
    assert [e.split(": ", 1)[0] for e in result.errors] == [f"{path}:2", f"{path}:3"]


def test_cli_import(tmp_path, tmp_db, db_path, capsys):
    path = tmp_path / "posts.csv"
    path.write_text(CSV, encoding="utf-8")
    code = main(["--db", str(db_path), "--feeds", str(tmp_path / "none.yaml"),
                 "import", str(path), "--no-score", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["new"] == 3 and len(out["errors"]) == 2


@pytest.fixture
def server():
    with TestServer() as running:
        yield running


@pytest.mark.parametrize("page, in_title, in_text", ARTICLES)
def test_report_link_fetches_and_extracts(server, tmp_db, page, in_title, in_text):
    url = server.serve_file("/bai-viet.html", page, content_type="text/html; charset=utf-8")
    settings = Settings(allow_private_networks=True, host_delay=0)
    result = submit_report(tmp_db, None, settings, url=url, submitted_by="mod1")
    assert result.new and result.item_id and result.error is None
    item = next(tmp_db.query("SELECT * FROM items WHERE id = ?", [result.item_id]))
    assert in_title in item["title"] and in_text in item["text"]
    assert item["author"] == "mod1"
    again = submit_report(tmp_db, None, settings, url=url + "?utm_source=zalo")
    assert not again.new and again.item_id == result.item_id


def test_report_link_to_internal_address_is_refused_but_report_kept(server, tmp_db):
    url = server.serve_file("/admin", ARTICLE, content_type="text/html")
    settings = Settings(allow_private_networks=False)
    result = submit_report(tmp_db, None, settings, url=url, text="Người dân gửi: bài này có dấu hiệu tin giả")
    assert "loopback address" in result.error
    assert not server.requests_to("/admin")
    item = next(tmp_db.query("SELECT * FROM items WHERE id = ?", [result.item_id]))
    assert item["text"] == "Người dân gửi: bài này có dấu hiệu tin giả" and item["url"] == url


def test_report_pasted_text_only(tmp_db):
    result = submit_report(tmp_db, None, Settings(), text="Tin giả: sắp phong tỏa toàn tỉnh Thanh Hoá từ ngày mai")
    assert result.new and result.item_id
    with pytest.raises(ValueError):
        submit_report(tmp_db, None, Settings(), text="  ")
    with pytest.raises(ValueError, match="not an http"):
        submit_report(tmp_db, None, Settings(), url="file:///etc/passwd")


class KindRecorder:
    """A scorer that records the kind each text was scored as (and scores nothing)."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def score(self, texts: list[str], kinds: list[str] | None = None) -> list:
        self.seen.update(zip(texts, kinds or ["post"] * len(texts), strict=True))
        return [None] * len(texts)


def test_import_reads_each_rows_kind_and_names_a_bad_one(tmp_db, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("text,kind\nBài báo về bão lũ miền Trung,article\nBình luận dưới bài báo,comment\n"
                    "Bài đăng không ghi loại,\nLoại sai,tweet\n", encoding="utf-8")
    scorer = KindRecorder()
    result = import_file(tmp_db, path, scorer)
    assert result.new == 3
    assert result.errors == [f"{path}:5: field 'kind': unknown kind 'tweet' (expected one of: post, article, comment)"]
    assert scorer.seen == {"Bài báo về bão lũ miền Trung": "article", "Bình luận dưới bài báo": "comment",
                           "Bài đăng không ghi loại": "post"}
