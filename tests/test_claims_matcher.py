"""classifiers.claims: each rewrite type a rumour travels as still matches its claim; near misses on the
same topic do not; the quality figures on the hand-written set (tests/fixtures/claims) hold on the
held-out half with the threshold chosen on the dev half."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers.claims import THRESHOLD, ClaimIndex, features

FIXTURES = Path(__file__).parent / "fixtures" / "claims"
CLAIM = "Ngân hàng Nhà nước sẽ đổi tiền mới từ ngày 1/7, tiền cũ mệnh giá 500.000 đồng hết giá trị"
OTHER = "Vietcombank sẽ khóa toàn bộ tài khoản chưa xác thực sinh trắc học trước ngày 30/6"


@pytest.fixture(scope="module")
def index() -> ClaimIndex:
    return ClaimIndex([(1, CLAIM), (2, OTHER), (3, "Tiêm vắc xin COVID-19 gây vô sinh ở phụ nữ trẻ")])


@pytest.mark.parametrize("rewrite", [
    "Tiền cũ mệnh giá 500.000 đồng hết giá trị vì Ngân hàng Nhà nước sẽ đổi tiền mới từ ngày 1/7",  # reordered
    "Ngân hàng Nhà nước sẽ đổi tiền mới từ ngày 1/7, tiền cũ mệnh giá",  # truncated
    "ngan hang nha nuoc se doi tien moi tu ngay 1/7, tien cu menh gia 500.000 dong het gia tri",  # no tone marks
    "NGÂN HÀNG NHÀ NƯỚC SẼ ĐỔI TIỀN MỚI TỪ NGÀY 1/7, TIỀN CŨ MỆNH GIÁ 500.000 ĐỒNG HẾT GIÁ TRỊ",  # capitals
    "NHNN sẽ đổi tiền mới từ ngày 1/7, tiền cũ mệnh giá 500k ko còn giá trị nữa đâu mn",  # teencode, abbreviation
    "Ngân hàng Nhà nước sẽ đổi tiền mới từ ngày 15/9, tiền cũ mệnh giá 200.000 đồng hết giá trị",  # other numbers
    "NÓNG: " + CLAIM + ". Bà con rút tiền ngay và chia sẻ cho người thân biết.",  # sentences added
    "Ngân\u200b hàng Nhà nước sẽ đổi tiền mới từ ngày 1/7, tiền cũ mệnh giá 500.000 đồng hết giá trị",  # zero-width
])
def test_each_rewrite_type_matches_its_claim(index, rewrite):
    matches = index.match(rewrite)
    assert [m.claim_id for m in matches] == [1]
    assert THRESHOLD <= matches[0].similarity <= 1


def test_nfd_and_nfc_give_the_same_features():
    import unicodedata

    assert features(unicodedata.normalize("NFD", CLAIM)) == features(CLAIM)


@pytest.mark.parametrize("text", [
    CLAIM,  # model_text leaves it alone: the caller's words are read
    "NHNN sẽ đổi tiền mới từ ngày 1/7, tiền cũ mệnh giá 500k ko còn giá trị nữa đâu mn",  # teencode: refolded
    "Ngân hàng Nhà nước sẽ đổi tiền mới https://x.example/a?b=1 từ ngày 1/7, tiền cũ mệnh giá 500.000 đồng",
])
def test_the_callers_folded_words_give_the_same_matches(index, text):
    import re

    from classifiers.text import Folded, search_key

    folded = Folded(search_key(text), re.findall(r"\w+", search_key(text)))
    assert index.scores(text, folded) == index.scores(text)
    assert index.match(text, folded) == index.match(text)
    assert features(text, folded) == features(text)


@pytest.mark.parametrize("near_miss", [
    "Ngân hàng Nhà nước cho biết không có kế hoạch đổi tiền trong thời gian tới",
    "Tiền polymer mệnh giá 500.000 đồng vẫn được lưu hành bình thường",
    "Vietcombank khuyến cáo khách hàng cài đặt ứng dụng chỉ từ kho ứng dụng chính thức",
    "Nghiên cứu quốc tế không tìm thấy mối liên hệ giữa vắc xin COVID-19 và vô sinh",
    "Ngân hàng",  # a headline of two words never "contains" a claim
    "",
])
def test_same_topic_near_misses_do_not_match(index, near_miss):
    assert index.match(near_miss) == []


def test_an_article_quoting_the_claim_matches_by_containment(index):
    article = ("Trong những ngày qua, trên mạng xã hội lan truyền thông tin cho rằng " + CLAIM.lower()
               + ". Đại diện cơ quan chức năng cho biết đây là thông tin sai sự thật, người dân cần tỉnh táo "
               "và chỉ tin vào nguồn tin chính thống, không nên vội vàng rút tiền tiết kiệm.")
    assert [m.claim_id for m in index.match(article)] == [1]


def test_a_claim_twice_in_the_library_returns_both_and_a_short_claim_is_not_indexed():
    index = ClaimIndex([(7, CLAIM), (8, CLAIM + "!"), (9, "Tin giả!")])
    assert len(index) == 2
    assert sorted(m.claim_id for m in index.match(CLAIM)) == [7, 8]
    assert ClaimIndex([]).match(CLAIM) == []


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).open(encoding="utf-8")]


def quality(threshold: float, split: str | None) -> tuple[float, float]:
    """(precision, recall) on the fixtures: a rewrite is right when its own claim is matched; a wrong
    claim, or any match for a negative, is a false positive."""
    pairs, negatives = _load("pairs.jsonl"), _load("negatives.jsonl")
    index = ClaimIndex({p["claim_id"]: p["claim"] for p in pairs}.items(), threshold=threshold)
    right = wrong = total = 0
    for pair in pairs:
        if split in (None, pair["split"]):
            total += 1
            found = {m.claim_id for m in index.match(pair["rewrite"])}
            right += pair["claim_id"] in found
            wrong += len(found - {pair["claim_id"]})
    wrong += sum(len(index.match(n["text"])) for n in negatives if split in (None, n["split"]))
    return right / max(1, right + wrong), right / max(1, total)


def test_the_fixtures_are_big_enough_and_split():
    pairs, negatives = _load("pairs.jsonl"), _load("negatives.jsonl")
    assert len(pairs) >= 150 and len(negatives) >= 300
    assert {p["type"] for p in pairs} >= {"reordered", "truncated", "no_tones", "teencode", "number",
                                          "sentence_added"}
    assert {p["split"] for p in pairs} == {n["split"] for n in negatives} == {"dev", "test"}
    assert {p["language"] for p in pairs} == {"vi", "en", "fr"}
    dev_claims = {p["claim_id"] for p in pairs if p["split"] == "dev"}
    assert not dev_claims & {p["claim_id"] for p in pairs if p["split"] == "test"}  # split by claim


def test_threshold_is_the_one_the_dev_half_picks():
    grid = [round(0.3 + 0.05 * i, 2) for i in range(11)]
    picked = next(t for t in grid if quality(t, "dev")[0] >= 0.97)
    assert picked == THRESHOLD


@pytest.mark.parametrize("split", ["test", None])
def test_precision_and_recall_on_the_held_out_half_and_on_all(split):
    precision, recall = quality(THRESHOLD, split)
    print(f"claims quality split={split or 'all'}: precision {precision:.3f} recall {recall:.3f}")
    assert precision >= 0.95 and recall >= 0.8


def test_a_claim_of_a_few_syllables_is_not_indexed_and_matches_nothing():
    """"Bão số 3" has four features but says one thing: every item about that storm would contain it whole."""
    index = ClaimIndex([(1, "Bão số 3"), (2, "Vắc xin gây vô sinh ở phụ nữ trẻ tuổi")])
    assert len(index) == 1
    assert index.match("Chiều nay bão số 3 đổ bộ vào Thanh Hóa, người dân cần chủ động phòng tránh") == []
