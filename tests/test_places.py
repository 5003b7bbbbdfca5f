"""Issue 11 item 1: the places an item mentions (classifiers.places), settings.jurisdiction, storage and
"about the jurisdiction" through ingest, the re-mark when the jurisdiction changes, the queue's boost."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

import db
from classifiers import places, places_build
from db.places import item_places, record_places, remark_jurisdiction
from db.sources import ensure_source, get_source
from monitor import config
from monitor.domain import RawItem
from monitor.pipeline import ingest
from monitor.pipeline.places import sync_jurisdiction
from monitor.pipeline.signals import jurisdiction_of

LABELLED = Path(__file__).parent / "fixtures" / "places" / "labelled.jsonl"
THANH_HOA, NGHE_AN, HA_TINH, HCM, PHU_THO, TUYEN_QUANG = "p:38", "p:40", "p:42", "p:79", "p:25", "p:8"
HAC_THANH = "c:14797"  # Phường Hạc Thành, Thanh Hóa


def codes(text: str, prefer: tuple[str, ...] = ()) -> list[str]:
    return [place.code for place in places.tag(text, prefer)]


@pytest.mark.parametrize("text, expected", [
    ("UBND tỉnh Thanh Hóa họp khẩn", [THANH_HOA]),
    ("Công an phường Hạc Thành triệu tập người tung tin", [HAC_THANH]),
    ("P. Hạc Thành mất điện", [HAC_THANH]),
    ("Chính quyền TP.HCM bác tin đồn", [HCM]),
    ("Chính quyền TP. Hồ Chí Minh bác tin đồn", [HCM]),
    ("thành phố Hồ Chí Minh mưa lớn", [HCM]),
])
def test_prefixes(text, expected):
    assert codes(text) == expected


@pytest.mark.parametrize("text", [
    "Mưa lớn ở Thanh Hóa", "mua lon o thanh hoa", "MƯA LỚN Ở THANH HÓA", "Mưa lớn ở Thanh Hoá",
    unicodedata.normalize("NFD", "Mưa lớn ở Thanh Hóa"),
])
def test_tone_marks_case_and_normal_forms_do_not_matter(text):
    assert codes(text) == [THANH_HOA]


def test_a_name_must_agree_in_accents():
    assert codes("Căn hộ có hai phòng ngủ") == []  # hai phòng is not Hải Phòng
    assert codes("Mưa ở Hải Phòng") == ["p:31"]
    assert codes("các tình nguyện viên quân đội") == []  # tình / quân are not the prefixes tỉnh / quận


@pytest.mark.parametrize("text", [
    "Anh Vinh đi làm từ sáng", "Hòa Bình là khát vọng chung", "Tư tưởng Hồ Chí Minh",
    "Cô ấy cao bằng anh trai", "Bạn Hà Giang lớp 12A", "Diễn biến phức tạp", "dien bien phuc tap",
    "xã hội an toàn", "sống trên phố Huế", "quán trên đường Hà Nội", "son la mau gi",
])
def test_ambiguous_names_without_context_do_not_count(text):
    assert codes(text) == []


@pytest.mark.parametrize("text, expected", [
    ("Nhà bác ở Vinh", [NGHE_AN]),  # a locative word
    ("TP Vinh mưa lạnh", [NGHE_AN]),  # a prefix
    ("Tôi sinh ra tại Hòa Bình", [PHU_THO]),
    ("huyện Lạc Sơn, Hòa Bình", [PHU_THO]),  # the tail of an address
    ("Quỳnh Lưu, Nghệ An", [NGHE_AN]),  # a district followed by its province
    ("Son La xuat khau xoai", ["p:14"]),  # toneless but in Title Case
])
def test_ambiguous_names_with_context_count(text, expected):
    assert codes(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Huyện Bá Thước bị cô lập", [THANH_HOA]),  # an old district → its province today
    ("thị xã Hoàng Mai ngập sâu", [NGHE_AN]),  # the written type picks the Nghệ An town
    ("quận Hoàng Mai ngập sâu", ["p:1"]),  # ... or the Hà Nội district
    ("Tỉnh Hà Giang cũ", [TUYEN_QUANG]),  # an old province → the province it joined
    ("Hà Tây sáp nhập vào Hà Nội năm 2008", ["p:1"]),
    ("Tỉnh Thừa Thiên Huế", ["p:46"]),
    ("Huyện Côn Đảo", ["c:26732"]),  # an old district that became exactly one unit: đặc khu Côn Đảo
])
def test_pre_2025_names(text, expected):
    assert codes(text) == expected


def test_every_alias_names_the_province_its_pre_2025_name_does():
    legacy = dict(json.loads(places_build.OUT.read_text(encoding="utf-8"))["provinces"])
    spelled = {"Kontum": "Kon Tum", "Daklak": "Đắk Lắk", "Đắc Lắc": "Đắk Lắk", "Daknong": "Đắk Nông",
               "Bà Rịa Vũng Tàu": "Bà Rịa - Vũng Tàu", "BR-VT": "Bà Rịa - Vũng Tàu", "Thừa Thiên Huế": "Huế",
               "Thừa Thiên - Huế": "Huế", "TPHCM": "Hồ Chí Minh", "HCM": "Hồ Chí Minh", "Sài Gòn": "Hồ Chí Minh",
               "Saigon": "Hồ Chí Minh", "Đắk Nông": "Đắk Nông"}
    for alias, code in places.ALIASES.items():
        if alias != "Hà Tây":  # merged into Hà Nội in 2008, before the package's pre-2025 list
            assert legacy[spelled[alias]] == code, alias


def test_a_shared_commune_name_is_resolved_by_context_or_preference():
    assert codes("xã Quảng Phú tổ chức lễ hội") == []  # Đắk Lắk or Lâm Đồng: nothing says which
    assert codes("xã Quảng Phú, Đắk Lắk") == ["c:24259", "p:66"]
    assert codes("Ở Lâm Đồng, xã Quảng Phú tổ chức lễ hội") == ["p:68", "c:24712"]
    assert codes("xã Quảng Phú tổ chức lễ hội", prefer=("p:66",)) == ["c:24259"]
    assert codes("phường Quảng Phú, Thanh Hóa") == ["c:16522", THANH_HOA]


def test_tagging_quality_on_the_labelled_set_both_halves():
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300
    assert {row["section"] for row in rows} >= {"news style, with tone marks", "social style", "without tone marks",
                                                 "ambiguous names: people, common words, streets", "pre-2025 names",
                                                 "no place"}
    for half in ("tune", "heldout"):
        scores = places.evaluate(row for row in rows if row["half"] == half)
        assert scores.precision >= 0.9 and scores.recall >= 0.9, (half, scores)


@pytest.mark.parametrize("text", [
    "Mưa lớn ở Thanh Hóa", "Giá gạo tăng 5%", "Chú tôi ở làng bên", "Đường về BR-VT tắc", "huyện M'Drắk mưa to",
    "huyện M\u2019Drắk, Đắk Lắk", "Quỹ 1 tỷ đ' cho dân", "thanh_hoa và nghe_an", "x\ufb4bThanh Hóa",
    unicodedata.normalize("NFD", "Lũ ở Quỳnh Lưu, Nghệ An"), "ở\u0301Vinh", "tại Vinh\n", "Tin mới: không có địa danh",
])
def test_the_folded_words_only_skip_texts_that_name_no_place(text):
    """Ingest hands `tag` the folded key and words it made anyway; a text they rule out is not scanned,
    which must never change the result (_may_name_a_place: punctuation, "_", characters folding away)."""
    import re

    from classifiers.text import Folded, search_key

    key = search_key(text)
    assert places.tag(text, (THANH_HOA,), Folded(key, re.findall(r"\w+", key))) == places.tag(text, (THANH_HOA,))


def test_only_texts_that_may_name_a_place_are_scanned():
    import re

    from classifiers.text import Folded, search_key

    def may(text: str) -> bool:
        key = search_key(text)
        return places._may_name_a_place(text, Folded(key, re.findall(r"\w+", key)), places.gazetteer())

    assert not may("Giá xăng giảm mạnh từ chiều nay") and not may("Quỹ 1 tỷ đồng cho dân")
    assert may("Quỹ 1 tỷ đ' cho dân")  # "đ'" may start a name like "D'Ran": the words do not show the "'"
    assert may("Mưa lớn ở Thanh Hóa") and may("Đường về BR-VT tắc") and may("huyện M\u2019Drắk")
    assert may("x\ufb4bThanh Hóa")  # a letter that NFC splits into two: scanned whatever its words


def test_the_committed_legacy_table_is_what_the_build_script_builds():
    built = json.loads(json.dumps(places_build.build(), ensure_ascii=False))
    assert json.loads(places_build.OUT.read_text(encoding="utf-8")) == built


def test_importing_the_tagger_builds_nothing():
    import subprocess
    import sys

    code = "import classifiers.places, sys; print('vietnam_provinces' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "False"


# -- settings.jurisdiction ---------------------------------------------------------------------------------

def settings(yaml_text: str) -> config.Settings:
    return config.load_text("settings:\n" + yaml_text + "sources: []\n").settings


def test_jurisdiction_forms():
    assert settings("  jurisdiction: Thanh Hóa\n").jurisdiction == (THANH_HOA,)
    assert settings('  jurisdiction: ["thanh hoa", "phường Hạc Thành"]\n').jurisdiction == (THANH_HOA, HAC_THANH)
    got = settings("  jurisdiction:\n    provinces: [Thanh Hóa]\n    communes: [Quảng Phú]\n").jurisdiction
    assert got == (THANH_HOA, "c:16522")  # of the four Quảng Phú, the one in the listed province
    assert settings("  jurisdiction:\n    communes: ['xã Quảng Phú, Đắk Lắk']\n").jurisdiction == ("c:24259",)
    assert settings("  flag_budget: 5\n").jurisdiction == ()


@pytest.mark.parametrize("yaml_text, line, field, message", [
    ("  jurisdiction:\n    provinces: [Tanh Hoa]\n", 3, "jurisdiction.provinces", "did you mean: Thanh Hóa"),
    ("  jurisdiction:\n    provinces: [Hà Giang]\n", 3, "jurisdiction.provinces", "part of Tuyên Quang"),
    ("  jurisdiction:\n    provinces: [Hạc Thành]\n", 3, "jurisdiction.provinces", "jurisdiction.communes"),
    ("  jurisdiction:\n    communes:\n      - xã Quảng Phú\n", 4, "jurisdiction.communes", "Xã Quảng Phú, Đắk Lắk"),
    ("  jurisdiction:\n    province: [Thanh Hóa]\n", 3, "jurisdiction.province", "unknown setting"),
    ("  jurisdiction: 5\n", 2, "jurisdiction", "must be a unit name or a list"),
    ("  jurisdiction: []\n", 2, "jurisdiction", "is empty"),
    ("  jurisdiction: {}\n", 2, "jurisdiction", "is empty"),
    ("  jurisdiction: [Thanh Hóa, xã Hạc Thành]\n", 2, "jurisdiction", "Phường Hạc Thành"),
])
def test_jurisdiction_errors_name_the_line_and_the_field(yaml_text, line, field, message):
    with pytest.raises(config.ConfigError) as error:
        settings(yaml_text)
    text = str(error.value)
    assert f":{line}:" in text and f"'{field}'" in text and message in text, text


# -- ingest, storage, re-marking ---------------------------------------------------------------------------

@pytest.fixture()
def source(tmp_db):
    return get_source(tmp_db, ensure_source(tmp_db, "Báo Thanh Hóa", "rss", "https://baothanhhoa.vn/rss", "vi"))


def raw(n: int, text: str) -> RawItem:
    return RawItem(guid=f"g{n}", title=f"Tin số {n}", text=text, url=f"https://baothanhhoa.vn/{n}.html")


def stored(database) -> dict[str, tuple[int, list[str]]]:
    rows = database.conn.execute("SELECT id, guid, about_jurisdiction, priority FROM items").fetchall()
    return {guid: (about, [p["code"] for p in item_places(database.conn, item_id)], priority)
            for item_id, guid, about, priority in rows}


def test_ingest_stores_places_and_about_jurisdiction(tmp_db, source):
    batch = [raw(1, "Công an phường Hạc Thành bác tin đồn."), raw(2, "Mưa lớn ở Nghệ An."),
             raw(3, "Giá vàng tăng."), raw(4, "Huyện Bá Thước, Thanh Hóa và TP Vinh, Nghệ An.")]
    ingest(tmp_db, source, batch, None, jurisdiction=frozenset({THANH_HOA}))
    rows = stored(tmp_db)
    assert {guid: row[:2] for guid, row in rows.items()} == {
        "g1": (1, [HAC_THANH]), "g2": (0, [NGHE_AN]), "g3": (0, []), "g4": (1, [THANH_HOA, NGHE_AN])}
    # The boost: +2.0 on the queue's priority for an item about the jurisdiction (same score, same time)
    assert rows["g1"][2] - rows["g3"][2] == pytest.approx(2.0, abs=0.01)
    assert rows["g2"][2] == pytest.approx(rows["g3"][2], abs=0.01)


def test_a_commune_jurisdiction_covers_that_commune_only(tmp_db, source):
    batch = [raw(1, "Phường Hạc Thành mất điện."), raw(2, "Phường Sầm Sơn mất điện."), raw(3, "Thanh Hóa mưa.")]
    ingest(tmp_db, source, batch, None, jurisdiction=frozenset({HAC_THANH}))
    assert {guid: row[0] for guid, row in stored(tmp_db).items()} == {"g1": 1, "g2": 0, "g3": 0}


def test_a_changed_jurisdiction_re_marks_every_item_once(tmp_db, source):
    ingest(tmp_db, source, [raw(1, "Mưa ở Thanh Hóa."), raw(2, "Mưa ở xã Con Cuông, Nghệ An."),
                            raw(3, "Giá vàng tăng.")], None, jurisdiction=frozenset({THANH_HOA}))
    assert sync_jurisdiction(tmp_db, frozenset({THANH_HOA})) == 0  # first run: recorded, nothing to change
    assert sync_jurisdiction(tmp_db, frozenset({THANH_HOA})) is None  # unchanged: no UPDATE at all
    before = stored(tmp_db)
    assert sync_jurisdiction(tmp_db, frozenset({NGHE_AN})) == 2
    after = stored(tmp_db)
    assert {guid: row[0] for guid, row in after.items()} == {"g1": 0, "g2": 1, "g3": 0}
    assert after["g2"][2] - before["g2"][2] == pytest.approx(2.0)  # the priority trigger followed
    assert after["g1"][2] - before["g1"][2] == pytest.approx(-2.0)
    assert sync_jurisdiction(tmp_db, frozenset()) == 1  # no jurisdiction: nothing is "about us"


def test_remark_is_one_update_over_item_places(tmp_db, source):
    ingest(tmp_db, source, [raw(1, "Mưa ở Hà Tĩnh.")], None)
    item_id = tmp_db.conn.execute("SELECT id FROM items").fetchone()[0]
    with db.transaction(tmp_db) as conn:
        record_places(conn, item_id, [("c:1", "commune", HA_TINH)])  # a second row; INSERT OR IGNORE twice
        record_places(conn, item_id, [("c:1", "commune", HA_TINH)])
        assert remark_jurisdiction(conn, ["c:1"]) == 1
        assert remark_jurisdiction(conn, [HA_TINH]) == 0  # already marked: the row is not rewritten
    assert [p["code"] for p in item_places(tmp_db.conn, item_id)] == [HA_TINH, "c:1"]


def test_jurisdiction_of_reads_the_settings():
    assert jurisdiction_of(settings("  jurisdiction: [Thanh Hóa]\n")) == frozenset({THANH_HOA})
    assert jurisdiction_of(None) == frozenset()


# -- item page and API ------------------------------------------------------------------------------------

def test_item_page_and_api_show_the_places(world):
    import db.tokens
    from tests import helpers

    path, info = world
    database = db.connect(path)
    source = get_source(database, info["sources"]["thanhhoa"])
    ingest(database, source, [raw(9, "Công an phường Hạc Thành, tỉnh Thanh Hóa bác tin <b>đồn</b>.")], None,
           jurisdiction=frozenset({THANH_HOA}))
    item_id = database.conn.execute("SELECT id FROM items WHERE guid = 'g9'").fetchone()[0]
    token = db.tokens.create_token(database, info["users"]["ana"], "places")
    database.conn.close()
    app = helpers.make_app(path)
    web = app.test_client()
    assert helpers.login(web, "ana").status_code in (302, 303)
    page = web.get(f"/items/{item_id}").get_data(as_text=True)
    assert 'id="item-places"' in page and 'data-code="c:14797"' in page and "Phường Hạc Thành" in page
    assert 'data-code="p:38"' in page and 'id="about-jurisdiction"' in page and "Về địa bàn" in page
    body = app.test_client().get(f"/api/v1/items/{item_id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["places"] == [{"name": "Thanh Hóa", "code": THANH_HOA, "level": "province"},
                              {"name": "Phường Hạc Thành", "code": HAC_THANH, "level": "commune"}]
    assert body["about_jurisdiction"] is True
    other = web.get(f"/items/{info['items']['mid']}").get_data(as_text=True)
    assert 'id="no-places"' in other and 'id="about-jurisdiction"' not in other


def test_the_scheduler_and_monitor_crawl_re_mark_when_feeds_yaml_changes_the_jurisdiction(tmp_path, tmp_db, source):
    from monitor.crawl.crawler import crawl_sources
    from monitor.schedule.scheduler import Scheduler

    ingest(tmp_db, source, [raw(1, "Mưa ở Thanh Hóa."), raw(2, "Mưa ở Hà Tĩnh.")], None,
           jurisdiction=frozenset({THANH_HOA}))
    feeds = tmp_path / "feeds.yaml"
    source_yaml = "sources:\n  - {name: a, kind: rss, url: 'https://baothanhhoa.vn/rss'}\n"
    feeds.write_text("settings:\n  jurisdiction: Thanh Hóa\n" + source_yaml, encoding="utf-8")
    scheduler = Scheduler(tmp_path / "monitor.db", feeds)
    feeds.write_text("settings:\n  jurisdiction: Hà Tĩnh\n" + source_yaml, encoding="utf-8")
    assert scheduler.reload().ok
    assert {guid: row[0] for guid, row in stored(tmp_db).items()} == {"g1": 0, "g2": 1}
    feeds.write_text("settings:\n  jurisdiction: [Thanh Hóa, Hà Tĩnh]\n" + source_yaml, encoding="utf-8")
    with pytest.raises(KeyError):  # no such source: the pass stops after the marks were brought up to date
        crawl_sources(tmp_db, config.load(feeds), None, only="nope")
    assert {guid: row[0] for guid, row in stored(tmp_db).items()} == {"g1": 1, "g2": 1}
