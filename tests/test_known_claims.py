"""The library of debunked claims (issue 11 item 2): storage, `monitor claims import`/`list`, matching at
ingest (the flag, the reason, the cached index that sees claims added by another process), claims from
confirmed decisions, ClaimReview markup and `role: rebuttal` sources crawled from 127.0.0.1, the item
page, the queue row and the API.

Storage, matching at ingest and the claims from decisions run on both backends; the CLI, crawls and pages
stay on SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import db
import db.decisions
import db.followups
import db.known_claims
import db.queue
import db.tokens
import db.users
from db.known_claims import NewClaim
from monitor.cli import main
from monitor.config import ConfigError, load_text
from monitor.crawl.crawler import crawl_sources
from monitor.domain import RawItem
from monitor.known_claims.claimreview import claims_in_html
from monitor.known_claims.harvest import rebuttal_claims
from monitor.pipeline import ingest
from monitor.pipeline.intake import import_file
from tests import helpers
from tests.servers import TestServer

FIXTURES = Path(__file__).parent / "fixtures" / "claims"
RUMOUR = "Uống nước chanh ấm pha muối mỗi sáng giúp tiêu diệt virus corona trong cổ họng"
REWRITE = "Mẹ mình dặn sáng nào cũng uống nc chanh ấm pha muối, giúp tiêu diệt virus corona trong cổ họng đó mn"


def _claim(text: str = RUMOUR, url: str | None = "https://kiemchung.example.vn/1", origin: str = "import") -> NewClaim:
    return NewClaim(text=text, verdict="Sai sự thật", origin=origin, url=url, language="vi")


def _source(database, name: str = "Nhóm Facebook") -> dict:
    from db.sources import ensure_source

    source_id = ensure_source(database, name, "import", "file:x")
    return dict(next(database.query("SELECT * FROM sources WHERE id = ?", [source_id])))


# --- storage --------------------------------------------------------------------------------------------

def test_adding_is_idempotent_on_folded_text_and_url_even_without_url(any_db):
    first = db.known_claims.add(any_db, _claim())
    assert first[1] is True
    assert db.known_claims.add(any_db, _claim(RUMOUR.upper())) == (first[0], False)  # case and tone marks folded
    assert db.known_claims.add(any_db, _claim("  " + RUMOUR + " ")) == (first[0], False)
    assert db.known_claims.add(any_db, _claim(url=None))[1] is True
    assert db.known_claims.add(any_db, _claim(url=None))[1] is False  # NULL urls are one key, not distinct
    assert db.known_claims.add(any_db, _claim(url="https://other.example.vn/2"))[1] is True
    with pytest.raises(ValueError):
        db.known_claims.add(any_db, _claim(origin="rumour"))


def test_version_changes_on_every_add_and_removal_and_search_ignores_tone_marks(any_db):
    empty = db.known_claims.version(any_db)
    claim_id, _ = db.known_claims.add(any_db, _claim())
    added = db.known_claims.version(any_db)
    assert added != empty
    with db.transaction(any_db) as conn:
        conn.execute("DELETE FROM known_claims WHERE id = ?", (claim_id,))
    db.known_claims.add(any_db, _claim(url="https://kiemchung.example.vn/2"))  # same count, never the same id
    assert db.known_claims.version(any_db) not in (empty, added)
    before_edit = db.known_claims.version(any_db)
    with db.transaction(any_db) as conn:  # a new rebuttal url: the cached (text, url) pairs must be rebuilt
        conn.execute("UPDATE known_claims SET url = ? WHERE url = ?",
                     ("https://kiemchung.example.vn/3", "https://kiemchung.example.vn/2"))
        assert db.known_claims.version(any_db) == before_edit + 1
        conn.execute("UPDATE known_claims SET verdict = 'Sai' WHERE url = ?", ("https://kiemchung.example.vn/3",))
    assert db.known_claims.version(any_db) == before_edit + 1  # neither text nor url: the index stands
    assert [r["url"] for r in db.known_claims.list_claims(any_db, "UONG NUOC CHANH")] == ["https://kiemchung.example.vn/3"]
    assert db.known_claims.list_claims(any_db, "vắc xin") == []


# --- monitor claims import / list ---------------------------------------------------------------------

CSV = f"""claim,url,verdict,language,date,publisher
"{RUMOUR}",https://kiemchung.example.vn/1,Sai sự thật,vi,01/03/2025,Trung tâm Kiểm chứng
,https://kiemchung.example.vn/2,Sai,vi,,
"Bão số 3 đổ bộ vào Hà Nội với sức gió cấp 17",ftp://kiemchung.example.vn/3,Sai,vi,,
"Bão số 3 đổ bộ vào Hà Nội với sức gió cấp 17",https://kiemchung.example.vn/3,Sai,vietnamese,,
"Bão số 3 đổ bộ vào Hà Nội với sức gió cấp 17",https://kiemchung.example.vn/3,Sai,vi,hôm qua,
"Bão số 3 đổ bộ vào Hà Nội với sức gió cấp 17",https://kiemchung.example.vn/3,,vi,,
"Agribank phá sản, người gửi tiết kiệm mất toàn bộ tiền",https://kiemchung.example.vn/4,False,,2025-05-02,
"""


def test_cli_import_names_each_bad_line_and_field_and_imports_the_rest(tmp_path, db_path, tmp_db, capsys):
    path = tmp_path / "claims.csv"
    path.write_text(CSV, encoding="utf-8")
    assert main(["--db", str(db_path), "claims", "import", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rows"], out["new"], out["already_known"]) == (7, 2, 0)
    assert out["errors"] == [
        f"{path}:3: field 'claim' is missing or empty",
        f"{path}:4: field 'url': 'ftp://kiemchung.example.vn/3' is not an http(s) URL",
        f"{path}:5: field 'language': 'vietnamese' is not a language code (vi, en, fr...)",
        f"{path}:6: field 'date': 'hôm qua' is not a date (use ISO 8601 or dd/mm/yyyy)",
        f"{path}:7: field 'verdict' is missing or empty"]
    assert main(["--db", str(db_path), "claims", "import", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{path}: 7 rows, 0 new claims, 2 already known, 5 rejected")
    assert main(["--db", str(db_path), "claims", "list", "--json", "--search", "uong nuoc chanh"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["origin"], row["claim_date"], row["publisher"], row["matched_items"]) == (
        "import", "2025-03-01", "Trung tâm Kiểm chứng", 0)


def test_cli_import_jsonl_and_one_line_errors(tmp_path, db_path, tmp_db, capsys):
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join([json.dumps({"claim": RUMOUR, "url": "https://kiemchung.example.vn/1",
                                           "verdict": "Sai"}, ensure_ascii=False), "{broken", "[1]", ""]),
                    encoding="utf-8")
    assert main(["--db", str(db_path), "claims", "import", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["new"] == 1 and [e.split(": ", 1)[0] for e in out["errors"]] == [f"{path}:2", f"{path}:3"]
    assert main(["--db", str(db_path), "claims", "import", str(tmp_path / "missing.csv")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    header = tmp_path / "header.csv"
    header.write_text("text,link\nx,https://a.example.vn\n", encoding="utf-8")
    assert main(["--db", str(db_path), "claims", "import", str(header)]) == 1
    err = capsys.readouterr().err
    assert f"{header}:1: no column 'claim', 'url', 'verdict' in the header row" in err


# --- matching at ingest --------------------------------------------------------------------------------

def test_an_imported_item_repeating_an_imported_claim_is_flagged_with_the_reason(tmp_path, any_db):
    claim_id, _ = db.known_claims.add(any_db, _claim())
    posts = tmp_path / "posts.jsonl"
    posts.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in [
        {"text": REWRITE, "url": "https://facebook.com/post/1"},
        {"text": "Bộ Y tế khuyến cáo người dân rửa tay thường xuyên bằng xà phòng", "url": "https://facebook.com/post/2"},
    ]) + "\n", encoding="utf-8")
    # The model says "nothing here" (0.0 on both): the claim match flags the item on its own.
    result = import_file(any_db, posts, helpers.FakeScorer())
    assert (result.new, result.flagged) == (2, 1)
    rows = {r["url"]: r for r in any_db.query("SELECT id, url, status, flag_reasons, top_reason FROM items")}
    hit, miss = rows["https://facebook.com/post/1"], rows["https://facebook.com/post/2"]
    assert (hit["status"], json.loads(hit["flag_reasons"]), hit["top_reason"]) == ("flagged", ["claim_match"], RUMOUR)
    assert (miss["status"], json.loads(miss["flag_reasons"])) == ("new", [])
    [match] = db.known_claims.matches_for_item(any_db, hit["id"])
    assert (match["claim_id"], match["url"]) == (claim_id, "https://kiemchung.example.vn/1")
    assert 0.55 <= match["similarity"] <= 1
    assert db.known_claims.matches_for_item(any_db, miss["id"]) == []


def test_claims_added_by_another_process_are_matched_on_the_next_ingest(database_url, any_db):
    source = _source(any_db)
    first = ingest(any_db, source, [RawItem(guid="a", text=REWRITE)], None)
    assert first.flagged == 0  # the library was empty
    other = db.connect(database_url)  # `monitor claims import` beside a running service
    db.known_claims.add(other, _claim())
    other.conn.close()
    second = ingest(any_db, source, [RawItem(guid="b", text=REWRITE + " Chia sẻ ngay.")], None)
    assert second.flagged == 1


def test_a_model_flag_keeps_its_reason_and_gains_the_claim_match(any_db):
    db.known_claims.add(any_db, _claim())
    scorer = helpers.FakeScorer("chanh", hit=(0.95, 0.0))
    result = ingest(any_db, _source(any_db), [RawItem(guid="a", text=REWRITE)], scorer)
    row = next(any_db.query("SELECT flag_reasons, top_reason FROM items WHERE id = ?", [result.new_ids[0]]))
    assert json.loads(row["flag_reasons"]) == ["misinformation", "claim_match"]
    assert row["top_reason"] == RUMOUR  # the claim says more than the term "chanh"


# --- claims from the committee's own decisions ------------------------------------------------------

def _decide(database, item_id: int, user_id: int, action: str) -> int:
    from monitor.domain import Action

    version = next(database.query("SELECT version FROM items WHERE id = ?", [item_id]))["version"]
    return db.queue.apply_decision(database, item_id=item_id, user_id=user_id, action=action,
                                   new_status=Action(action).new_status.value, note="x", expected_version=version)


def _decision_claims(database) -> list[dict]:
    return list(database.query("SELECT * FROM known_claims WHERE origin = 'decision'"))


def test_confirming_misinformation_adds_the_item_and_its_rebuttal_link_follows(any_world):
    path, info = any_world
    database = db.connect(path)
    item, mod = info["items"]["high"], info["users"]["mod"]
    _decide(database, item, mod, "confirm_misinformation")
    [claim] = _decision_claims(database)
    assert (claim["item_id"], claim["url"], claim["verdict"]) == (item, None, "misinformation")
    assert claim["text"].startswith("Tin giả về vắc-xin lan truyền")
    db.followups.add(database, item_id=item, user_id=mod, kind="rebuttal_published",
                     values={"link": "https://tinh.example.gov.vn/bac-bo/1"})
    assert _decision_claims(database)[0]["url"] == "https://tinh.example.gov.vn/bac-bo/1"
    _decide(database, item, mod, "reopen")  # no longer confirmed: out of the library
    assert _decision_claims(database) == []
    _decide(database, item, mod, "confirm_misinformation")  # the story's rebuttal is found at confirmation
    assert [c["url"] for c in _decision_claims(database)] == ["https://tinh.example.gov.vn/bac-bo/1"]


def test_undoing_a_confirmation_takes_its_claim_out_and_undoing_a_dismissal_brings_it_back(any_world):
    path, info = any_world
    database = db.connect(path)
    item, mod = info["items"]["mid"], info["users"]["mod"]
    confirmed = _decide(database, item, mod, "confirm_misinformation")
    assert len(_decision_claims(database)) == 1
    db.decisions.undo(database, decision_id=confirmed, user_id=mod)
    assert _decision_claims(database) == []
    _decide(database, item, mod, "confirm_misinformation")
    dismissed = _decide(database, item, mod, "dismiss")
    assert _decision_claims(database) == []
    db.decisions.undo(database, decision_id=dismissed, user_id=mod)
    assert len(_decision_claims(database)) == 1
    _decide(database, item, mod, "confirm_harm")  # harm, not misinformation: not a debunked claim
    assert _decision_claims(database) == []


def test_a_confirmed_item_flags_a_new_copy_of_its_story(any_world):
    path, info = any_world
    database = db.connect(path)
    _decide(database, info["items"]["mid"], info["users"]["mod"], "confirm_misinformation")
    result = ingest(database, _source(database), [RawItem(
        guid="copy", title="Đồn đoán giá xăng tăng gấp đôi", text="Tin đồn chưa kiểm chứng, mọi người đổ xăng ngay")],
        None)
    assert result.flagged == 1


# --- ClaimReview and rebuttal sources ---------------------------------------------------------------

def test_claimreview_markup_is_read_from_a_page():
    page = (FIXTURES / "claimreview.html").read_text(encoding="utf-8")
    claims = claims_in_html(page, "https://kiemchung.example.vn/trang")
    assert [(c.text[:28], c.verdict, c.url, c.publisher, c.claim_date, c.language, c.origin) for c in claims] == [
        ("Ngân hàng Nhà nước sẽ đổi ti", "Sai sự thật", "https://kiemchung.example.vn/doi-tien",
         "Trung tâm Kiểm chứng", "2025-06-20", "vi", "claimreview"),
        ("Typhoon Yagi destroyed the P", "2/5", "https://kiemchung.example.vn/trang", "Fact Desk", "2024-09-12",
         None, "claimreview"),
    ]  # the broken block, the ftp url and the empty claim are skipped
    assert claims_in_html("<p>no markup</p>") == []


def test_a_rebuttal_title_becomes_the_claim_it_rebuts():
    [claim] = rebuttal_claims([RawItem(guid="1", title="Thông tin Agribank phá sản là sai sự thật",
                                       url="https://tinh.example.gov.vn/1"),
                               RawItem(guid="2", title="Không có đường dẫn")], "Cổng thông tin tỉnh")
    assert (claim.text, claim.url, claim.publisher, claim.origin) == (
        "Agribank phá sản", "https://tinh.example.gov.vn/1", "Cổng thông tin tỉnh", "rebuttal")


def test_source_role_is_checked_with_file_and_line():
    text = "sources:\n  - name: a\n    kind: rss\n    url: https://a.example.vn/rss\n    role: debunk\n"
    with pytest.raises(ConfigError) as error:
        load_text(text, "feeds.yaml")
    assert str(error.value).startswith("feeds.yaml:5: field 'role': unknown role 'debunk'")
    assert load_text(text.replace("debunk", "rebuttal")).sources[0].role == "rebuttal"
    assert load_text(text.replace("    role: debunk\n", "")).sources[0].role is None


def _feeds(server: TestServer, sources: list[tuple[str, str, str | None]]) -> object:
    lines = ["settings:", "  allow_private_networks: true", "  host_delay: 0", "  deadline: 10", "sources:"]
    for name, path, role in sources:
        lines += [f"  - name: {name}", "    kind: rss", f"    url: {server.url(path)}"]
        lines += [f"    role: {role}"] if role else []
    return load_text("\n".join(lines) + "\n", "test-feeds.yaml")


def test_crawled_rebuttal_and_factcheck_sources_fill_the_library_and_flag_a_crawled_copy(tmp_db):
    with TestServer() as server:
        for name in ("rebuttal", "rumours", "factcheck"):
            server.serve_file(f"/{name}.rss", FIXTURES / f"{name}.rss")
        config = _feeds(server, [("Cổng tỉnh", "/rebuttal.rss", "rebuttal"),
                                 ("Kiểm chứng", "/factcheck.rss", "factcheck")])
        results = crawl_sources(tmp_db, config, scorer=None)
        assert [r.status for r in results] == ["ok", "ok"]
        claims = {c["origin"]: c for c in db.known_claims.list_claims(tmp_db)}
        assert len(db.known_claims.list_claims(tmp_db)) == 3
        assert claims["claimreview"]["url"] == "https://kiemchung.example.vn/chanh-muoi"
        rebuttals = db.known_claims.list_claims(tmp_db, origin="rebuttal")
        assert {c["text"] for c in rebuttals} == {
            "Vỡ đập thủy điện Hố Hô, nước lũ tràn về hạ du huyện Hương Khê",
            "Sáp nhập tỉnh Quảng Bình vào Quảng Trị khiến toàn bộ cán bộ bị cho nghỉ việc"}
        assert {c["publisher"] for c in rebuttals} == {"Cổng tỉnh"}
        # The rebuttals themselves state the claims: they are not flagged for it.
        assert [r.flagged for r in results] == [0, 0]
        again = crawl_sources(tmp_db, _feeds(server, [("Cổng tỉnh", "/rebuttal.rss", "rebuttal"),
                                                     ("Cộng đồng", "/rumours.rss", None)]), scorer=None)
    assert len(db.known_claims.list_claims(tmp_db)) == 3  # nothing added twice
    assert [r.flagged for r in again] == [0, 1]
    row = next(tmp_db.query("SELECT id, flag_reasons, top_reason FROM items WHERE url = ?",
                            ["https://congdong.example.vn/bai/1"]))
    assert json.loads(row["flag_reasons"]) == ["claim_match"]
    assert row["top_reason"].startswith("Vỡ đập thủy điện Hố Hô")
    [match] = db.known_claims.matches_for_item(tmp_db, row["id"])
    assert match["url"] == "https://tinh.example.gov.vn/tin-sai/vo-dap-ho-ho"


# --- web: item page, queue row, API ------------------------------------------------------------------

@pytest.fixture
def matched(world):
    """The world with an imported claim and a crawled item flagged for repeating it."""
    path, info = world
    database = db.connect(path)
    db.known_claims.add(database, NewClaim(text=RUMOUR, verdict="Sai sự thật", origin="import",
                                           url="https://kiemchung.example.vn/1", publisher="Trung tâm <Kiểm chứng>"))
    result = ingest(database, _source(database), [RawItem(guid="m", text=REWRITE)], None)
    token = db.tokens.create_token(database, info["users"]["ana"], "script")
    database.conn.close()
    return helpers.make_app(path), result.new_ids[0], token


def test_item_page_links_the_rebuttal_and_queue_row_reads_the_reason(matched):
    app, item_id, _ = matched
    client = app.test_client()
    helpers.login(client, "ana")
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert 'id="claim-matches"' in page and "Trùng với tin đã được bác bỏ" in page
    assert '<a class="rebuttal-link" href="https://kiemchung.example.vn/1"' in page
    assert "Trung tâm &lt;Kiểm chứng&gt;" in page  # escaped like any untrusted text
    queue = client.get("/queue").get_data(as_text=True)
    row = queue[queue.index(f'data-item-id="{item_id}"'):]
    row = row[:row.index("</tr>")]
    assert "trùng với tin đã được bác bỏ" in row and RUMOUR in row


def test_api_item_has_claim_matches(matched):
    app, item_id, token = matched
    body = app.test_client().get(f"/api/v1/items/{item_id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    [match] = body["claim_matches"]
    assert match["url"] == "https://kiemchung.example.vn/1" and match["similarity"] >= 0.55
    assert set(match) == {"claim_id", "url", "similarity"}
    assert "claim_match" in body["flag_reasons"]
    other = app.test_client().get("/api/v1/items/1", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert other["claim_matches"] == []


def test_a_dismissed_claim_match_teaches_the_model_categories_only(tmp_db):
    from monitor.schedule.retrain import collect_examples

    db.known_claims.add(tmp_db, _claim())
    result = ingest(tmp_db, _source(tmp_db), [RawItem(guid="a", text=REWRITE)], None)
    user = db.users.add_user(tmp_db, "mod", helpers.PASSWORD, "moderator")
    _decide(tmp_db, result.new_ids[0], user, "dismiss")
    assert {e["category"] for e in collect_examples(tmp_db)} == {"misinformation", "harm"}


def test_claimreview_in_an_article_page_read_for_full_text_is_harvested(tmp_db):
    with TestServer() as server:
        page = server.serve_file("/kiem-chung/doi-tien", FIXTURES / "claimreview.html", content_type="text/html")
        feed = f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Kiểm chứng</title>
<link>{server.url('/')}</link><description>x</description><item><title>Kiểm chứng: chuyện đổi tiền</title>
<link>{page}</link><description>Tóm tắt bài kiểm chứng.</description></item></channel></rss>"""
        server.route("/feed.rss", feed, content_type="application/rss+xml")
        server.route("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        lines = ["settings:", "  allow_private_networks: true", "  host_delay: 0", "  deadline: 10", "sources:",
                 "  - name: Kiểm chứng", "    kind: rss", f"    url: {server.url('/feed.rss')}", "    full_text: true",
                 "    role: factcheck"]
        [result] = crawl_sources(tmp_db, load_text("\n".join(lines) + "\n", "feeds.yaml"), scorer=None)
    assert result.status == "ok"
    claims = db.known_claims.list_claims(tmp_db, origin="claimreview")
    assert {c["url"] for c in claims} == {"https://kiemchung.example.vn/doi-tien", page}  # page: the review had no url
    assert {c["verdict"] for c in claims} == {"Sai sự thật", "2/5"}


def test_claimreview_markup_on_a_source_without_a_role_adds_nothing(tmp_db):
    """Any crawled site can carry ClaimReview markup: only sources the committee marked as fact-checkers (or
    rebuttal columns) may add to the library, or a site could plant a "debunked claim" that flags real news."""
    with TestServer() as server:
        for path in ("/a.rss", "/b.rss"):  # the same feed twice: a second crawl of one URL is "not modified"
            server.serve_file(path, FIXTURES / "factcheck.rss")
        [result] = crawl_sources(tmp_db, _feeds(server, [("Trang lạ", "/a.rss", None)]), scorer=None)
        assert result.status == "ok" and db.known_claims.list_claims(tmp_db) == []
        crawl_sources(tmp_db, _feeds(server, [("Kiểm chứng", "/b.rss", "factcheck")]), scorer=None)
    assert [c["origin"] for c in db.known_claims.list_claims(tmp_db)] == ["claimreview"]
