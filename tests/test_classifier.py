"""Tests for the shipped classifier (classifiers/models/default.skops) and the watchlist."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers import model as model_mod
from classifiers.model import Scores, load_model, trusted_types
from classifiers.watchlist import Watchlist
from tests.corpus import SEEDS

FAKE_VI = (
    "CHIA SẺ GẤP!!! Bộ Y tế cảnh báo khẩn: uống nước chanh nóng mỗi sáng chữa khỏi covid 100%, "
    "bọn nhà báo giấu không cho dân biết, share ngay kẻo bị xóa"
)
FAKE_VI_NO_RULES = (
    "Nóng: người dân truyền tai nhau uống nước lá tía tô, tỏi và gừng mỗi ngày sẽ không bao giờ "
    "nhiễm virus corona, bác sĩ Trung Quốc đã xác nhận, bọn chúng giấu thông tin nhé mọi người ơi"
)
NEUTRAL_VI = (
    "Chiều 13/12, UBND tỉnh tổ chức hội nghị tổng kết công tác chuyển đổi số năm 2024 và triển khai "
    "nhiệm vụ năm 2025, đại diện các sở, ngành tham dự."
)
TOXIC_VI = "mày là thằng ngu, câm mồm đi đồ óc chó, lũ mất dạy"
TOXIC_VI_NO_RULES = "câm mồm đi con chó, loại mất dạy như mày chết đi cho rồi"
CLEAN_VI = "Cảm ơn bạn đã chia sẻ, bài viết rất hữu ích cho mọi người."


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_loads_with_skops_allow_list(model):
    assert model_mod.DEFAULT_MODEL.exists()
    assert model_mod.DEFAULT_MODEL.stat().st_size <= 25 * 1024 * 1024
    assert set(trusted_types(model_mod.DEFAULT_MODEL)) <= model_mod.ALLOWED_TYPES
    assert model.version
    (s,) = model.score([NEUTRAL_VI])
    assert set(s.thresholds) == {"misinformation", "harm"}
    assert all(0.0 < t <= 1.0 for t in s.thresholds.values())
    assert model_mod.DEFAULT_MODEL.with_suffix(".card.md").exists()
    assert model_mod.DEFAULT_MODEL.with_suffix(".json").exists()


class Gadget:
    """A type skops does not trust by default (stands in for a malicious payload)."""

    def __init__(self) -> None:
        self.x = 1


def test_untrusted_types_refused(tmp_path):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    bad = tmp_path / "bad.skops"
    sio.dump({"stack": {}, "g": Gadget()}, str(bad))
    with pytest.raises(model_mod.UntrustedModelError, match="untrusted types"):
        load_model(bad)
    # types skops trusts by default are still refused: only plain arrays/containers are accepted
    odd = tmp_path / "odd.skops"
    sio.dump({"stack": {}, "m": LogisticRegression()}, str(odd))
    with pytest.raises(model_mod.UntrustedModelError):
        load_model(odd)


def test_scores_in_unit_interval_and_dict(model):
    out = model.score([FAKE_VI, NEUTRAL_VI, TOXIC_VI, CLEAN_VI, "", "hello world"])
    assert len(out) == 6
    for s in out:
        assert isinstance(s, Scores)
        assert 0.0 <= s.misinformation <= 1.0 and 0.0 <= s.harm <= 1.0
        d = s.to_dict()
        assert set(d) == {"misinformation", "harm", "flagged", "explanations", "rule_hits", "model_version", "kind",
                          "thresholds"}
        assert d["model_version"] == model.version


def test_fake_claim_scores_higher_than_news(model):
    fake, fake2, neutral = model.score([FAKE_VI, FAKE_VI_NO_RULES, NEUTRAL_VI])
    assert fake.misinformation > neutral.misinformation
    assert fake2.misinformation > neutral.misinformation
    assert "misinformation" in fake.flagged  # watchlist hit at least
    assert "misinformation" not in neutral.flagged


def test_toxic_comment_scores_higher_harm(model):
    toxic, toxic2, clean = model.score([TOXIC_VI, TOXIC_VI_NO_RULES, CLEAN_VI])
    assert toxic.harm > clean.harm
    assert toxic2.harm > clean.harm
    assert "harm" in toxic.flagged
    assert "harm" not in clean.flagged


def test_explanations_non_empty_and_readable(model):
    s = model.score_one(TOXIC_VI_NO_RULES)
    assert s.explanations["harm"], s.explanations
    assert len(s.explanations["harm"]) <= 5
    # terms are shown in original script (with diacritics): every word occurs in the text
    words = set(TOXIC_VI_NO_RULES.lower().replace(",", " ").split())
    terms = [t["term"] for t in s.explanations["harm"]]
    assert all(set(term.split()) <= words for term in terms)
    assert {"chó", "câm mồm", "mất dạy", "chết"} & set(" ".join(terms).split(" ")) | set(terms)
    f = model.score_one(FAKE_VI_NO_RULES)
    assert f.explanations["misinformation"]


def test_watchlist_diacritic_and_case_insensitive():
    wl = Watchlist.from_dict({"misinformation": {"phrases": ["chia se gap"]}})
    hits = wl.match("Mọi người CHIA SẺ GẤP nhé")
    assert hits == [{"category": "misinformation", "name": "chia se gap", "rule": "chia se gap",
                     "match": "CHIA SẺ GẤP"}]
    wl2 = Watchlist.from_dict({"misinformation": {"phrases": ["chia sẻ gấp"]}})
    assert wl2.match("chia se gap di moi nguoi")[0]["match"] == "chia se gap"
    assert wl2.match("chia sẻ gấp đôi") and not wl2.match("chia sẻ gấu")


def test_watchlist_patterns_and_shipped_file():
    wl = Watchlist.load()
    assert {"misinformation", "harm"} <= wl.categories
    hits = wl.match("Uống nước gừng mỗi sáng chữa khỏi Covid")
    assert any(h["category"] == "misinformation" for h in hits)
    assert not wl.match("Hội nghị tổng kết công tác phòng chống tin giả năm 2024")


def test_watchlist_hit_flags_category(model):
    s = model.score_one("Chia se gap: tin noi bo")
    assert "misinformation" in s.flagged
    assert s.rule_hits and s.rule_hits[0]["category"] == "misinformation"


@pytest.mark.corpus("seeds")  # real reporting about fake news, which must not itself be flagged
def test_seed_articles_not_flagged(model):
    seeds = sorted(SEEDS.glob("*.txt"))
    assert len(seeds) == 5
    texts = [p.read_text(encoding="utf-8") for p in seeds]
    for path, s in zip(seeds, model.score(texts, kinds=["article"] * len(texts)), strict=True):
        assert s.flagged == [], (path.name, s.misinformation, s.harm, s.rule_hits)


def test_uncertainty_orders_items_near_threshold_first(model):
    limits = model.score_one(TOXIC_VI_NO_RULES).thresholds
    near = Scores(misinformation=0.0001, harm=limits["harm"], model_version=model.version, thresholds=limits)
    far = Scores(misinformation=0.0001, harm=0.0001, model_version=model.version, thresholds=limits)
    assert model.uncertainty(near) == pytest.approx(1.0)
    assert 0.0 < model.uncertainty(far) < model.uncertainty(near)


def test_load_active_falls_back_to_shipped(tmp_path):
    from classifiers.registry import load_active

    assert load_active(tmp_path / "empty-registry").version == load_model().version


def test_reintel_metadata_variant_is_optional_and_uses_counts(model):
    """The ReINTEL head's metadata variant moves with engagement counts; missing counts still
    give a probability (the text-only head and score() need no metadata at all)."""
    texts = [FAKE_VI_NO_RULES, FAKE_VI_NO_RULES]
    text_only = model.head_proba("vi_reintel2020", texts)
    assert text_only[0] == pytest.approx(text_only[1])
    few = {"num_like_post": "1", "num_comment_post": "0", "num_share_post": "0.0"}
    many = {"num_like_post": "50000", "num_comment_post": "10", "num_share_post": "3.0"}
    p = model.head_proba_with_meta("vi_reintel2020", texts, [few, many])
    # compared as log-odds: the counts shift them by the same amount however sure the text head is
    assert abs(np.log(p[0] / (1 - p[0])) - np.log(p[1] / (1 - p[1]))) > 0.05
    missing = model.head_proba_with_meta("vi_reintel2020", texts[:1], [None])
    assert 0.0 < missing[0] < 1.0
