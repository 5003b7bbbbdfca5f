"""The signal (issue 18): the deployed score per kind, flags that flag, reasons a moderator can read.

The first tests use the shipped model on texts written here and run everywhere; the figures on the
research test splits, the recorded real news and the seed articles run where ../shared exists (as
in CI), through `monitor classify --json` as a user would.
"""

from __future__ import annotations

import pytest

from classifiers.data import seeds_dir
from classifiers.explain import is_stop
from classifiers.model import KINDS, load_model

# The figures read the research test splits: left out of the run (and counted in its summary) where they are not.
needs_data = pytest.mark.corpus("data")

BANK_RUMOUR = ("KHẨN CẤP: ngân hàng sẽ đóng cửa từ thứ hai, ai còn tiền trong tài khoản thì rút hết ngay, "
               "chính phủ giấu không cho dân biết, truyền tay nhau ngay!!!")
TOXIC = "mày là thằng ngu, câm mồm đi đồ mất dạy, cút về quê mà chăn bò"
NEWS = ("Chiều 13/12, UBND tỉnh Thanh Hóa tổ chức hội nghị tổng kết công tác chuyển đổi số năm 2024 và triển khai "
        "nhiệm vụ năm 2025. Đại diện các sở, ngành và địa phương tham dự hội nghị.")


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_every_kind_has_thresholds_and_scores(model):
    for kind in KINDS:
        (s,) = model.score([BANK_RUMOUR], kinds=[kind])
        assert s.kind == kind
        assert set(s.thresholds) == {"misinformation", "harm"}
        assert all(0.0 < t <= 1.0 for t in s.thresholds.values())
    with pytest.raises(ValueError, match="unknown kind 'tweet'"):
        model.score([BANK_RUMOUR], kinds=["tweet"])


def test_an_item_is_held_to_the_threshold_of_the_heads_that_judge_it(model):
    """A Vietnamese post and an English post go to different heads, each with its own dev threshold."""
    vi, en = model.score([BANK_RUMOUR, "BREAKING: 5G towers spread the virus, share before they delete it"])
    assert vi.thresholds["misinformation"] != pytest.approx(en.thresholds["misinformation"], abs=1e-3)
    for s in (vi, en):
        assert ("misinformation" in s.flagged) == (s.misinformation >= s.thresholds["misinformation"]
                                                   or any(h["category"] == "misinformation" for h in s.rule_hits))


def test_rumour_outscores_news_and_toxic_outscores_news(model):
    rumour, toxic, news = model.score([BANK_RUMOUR, TOXIC, NEWS])
    assert rumour.misinformation > news.misinformation + 0.2
    assert toxic.harm > news.harm + 0.2
    assert "misinformation" not in news.flagged and "harm" not in news.flagged


def test_reasons_are_whole_words_with_contributions(model):
    scores = model.score([BANK_RUMOUR, TOXIC])
    for s in scores:
        for terms in s.explanations.values():
            assert len(terms) <= 5
            assert [t["contribution"] for t in terms] == sorted((t["contribution"] for t in terms), reverse=True)
            for t in terms:
                words = t["term"].split()
                assert 1 <= len(words) <= 3 and t["contribution"] > 0
                assert not is_stop(words[0]) and not is_stop(words[-1]), t
                text = (BANK_RUMOUR if s is scores[0] else TOXIC).lower()
                assert t["term"] in text, t  # a whole stretch of the item's own words


def test_reasons_only_for_meaningful_scores(model):
    (news,) = model.score([NEWS])
    for category, terms in news.explanations.items():
        assert getattr(news, category) >= 0.5 * news.thresholds[category] or not terms


def test_stop_words_are_not_reasons():
    for word in ("này", "hãy", "bị", "là", "đi", "nay", "hay", "the", "and", "les", "12"):
        assert is_stop(word), word
    for word in ("ngân", "lừa", "virus", "chữa"):
        assert not is_stop(word), word


@pytest.mark.corpus("seeds")
def test_seed_articles_are_not_flagged():
    from tests.signal_support import seed_flags

    assert list(seeds_dir().glob("*.txt"))
    assert seed_flags() == [[]] * len(list(seeds_dir().glob("*.txt")))


@needs_data
@pytest.mark.parametrize("name", ["vi_reintel2020", "vi_vihsd", "vi_vlsp2019_hsd", "vi_victsd_toxicity",
                                  "en_constraint_covid19", "vi_vnnews_v2"])
def test_deployed_score_is_as_good_as_the_corpus_own_head(model, name):
    """Through `monitor classify --json` with the corpus' kind: never worse than the head inside the model
    (the old per-category stacker lost up to 0.05 ROC-AUC against them)."""
    from sklearn.metrics import roc_auc_score

    from classifiers.data import SPECS, load_split
    from tests.signal_support import split_figures

    rows = load_split(name, "test")
    head = roc_auc_score([SPECS[name].binary(r["label"]) for r in rows], model.head_proba(name, [r["text"] for r in rows]))
    assert split_figures(name)["all"]["roc_auc"] >= head - 0.0005


@needs_data
@pytest.mark.parametrize("name, auc, precision, recall", [
    ("vi_vihsd", 0.92, 0.75, 0.50),
    ("vi_vlsp2019_hsd", 0.93, 0.75, 0.50),
    ("vi_reintel2020", 0.90, 0.70, 0.50),
    ("vi_victsd_toxicity", 0.86, 0.0, 0.0),  # the issue sets no flag target for ViCTSD's comments
])
def test_figures_through_classify_cli(name, auc, precision, recall):
    from tests.signal_support import split_figures

    f = split_figures(name)["all"]
    assert f["roc_auc"] >= auc and f["precision"] >= precision and f["recall"] >= recall, f


@pytest.mark.corpus("realworld")
def test_real_news_is_rarely_flagged(tmp_path):
    from tests.signal_support import crawl_real_news

    news = crawl_real_news(tmp_path)
    assert news["items"] >= 100
    assert news["flag_rate"] <= 0.02, news["flagged_titles"]


def test_reasons_never_span_a_link_or_punctuation_and_tiny_batches_score(model):
    (s,) = model.score(["thằng ngu https://x.y/z mất dạy, đồ chó"])
    terms = [t["term"] for t in s.explanations.get("harm", [])]
    assert terms and not any("ngu mất" in t or "dạy đồ" in t for t in terms), terms
    for texts in (["ngu"], ["a"], [""], ["vcl"]):  # one token (or none) in the whole batch
        (one,) = model.score(texts, kinds=["comment"])
        assert 0.0 <= one.harm <= 1.0
