"""The second stage (issue 18 §1): the sentence encoder, its cache, the blend, and how the model uses them.

Runs on generated data and the bundled encoder only (no research data)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from classifiers import encoder as encoder_module
from classifiers.encoder import DIM, MAX_CHARS, EmbeddingCache, Encoder, EncoderUnavailable, encoder_text
from classifiers.model import Model
from classifiers.rescore import blended_logits, fit_rescorer, gain_lower_bound, typed_toneless
from classifiers.text import fold_diacritics
from classifiers.train import train
from tests.test_classifier_training import SMALL, write_small_data


def test_encoder_reads_the_canonical_text():
    shouted = "NGÂN HÀNG SẮP ĐÓNG CỬA, RÚT TIỀN NGAY"
    assert encoder_text(shouted) == shouted.lower()
    assert encoder_text("Ngân Hàng sắp đóng cửa") == "Ngân Hàng sắp đóng cửa"  # case kept when not shouted
    assert "http" not in encoder_text("rút tiền ngay https://example.com/x?y=1")
    assert encoder_text("ngân\u200bhàng") == "ngânhàng" or encoder_text("ngân\u200bhàng") == "ngân hàng"
    assert len(encoder_text("chữ " * 1000)) == MAX_CHARS


def test_embeddings_place_paraphrases_closer_than_unrelated_text():
    E = Encoder().embed(["Ngân hàng sắp phá sản, mọi người rút tiền gấp",
                         "Nhà băng sắp vỡ nợ, hãy rút hết tiền ngay",
                         "Đội tuyển bóng đá thắng 2-0 tối qua"])
    assert E.shape == (3, DIM) and E.dtype == np.float32
    assert np.allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-3)
    assert E[0] @ E[1] > E[0] @ E[2]


def test_cache_embeds_each_text_once_and_survives_a_restart(tmp_path):
    calls: list[int] = []

    class Counting(Encoder):
        def embed(self, texts):
            calls.append(len(texts))
            return super().embed(texts)

    path = tmp_path / "c.npz"
    first = EmbeddingCache(path, Counting()).embed(["một", "hai", "một"])
    again = EmbeddingCache(path, Counting()).embed(["hai", "một", "ba"])
    assert calls == [2, 1]  # "một" once in the first call; only "ba" is new after the restart
    assert np.allclose(first[0], again[1], atol=1e-3) and np.allclose(first[1], again[0], atol=1e-3)


def test_blend_gains_from_a_second_independent_view():
    rng = np.random.default_rng(0)
    n = 800
    y = rng.integers(0, 2, n)
    signal = y * 1.0
    head = signal + rng.normal(0, 1.0, n)  # the head: one noisy view
    E = np.c_[signal + rng.normal(0, 1.0, n), rng.normal(0, 0.05, (n, DIM - 1))].astype(np.float32)  # another
    tr, dv = slice(0, 400), slice(400, n)
    r = fit_rescorer(E[tr], y[tr], E[dv], y[dv], head[dv])
    assert r["alpha"] > 0 and r["beta"] > 0
    blended = blended_logits(r, head[dv], E[dv])
    assert roc_auc_score(y[dv], blended) > roc_auc_score(y[dv], head[dv]) + 0.03
    assert r["dev"]["blended"] == pytest.approx(roc_auc_score(y[dv], blended), abs=1e-4)


def test_typed_toneless_tells_toneless_text_from_marked_text():
    assert typed_toneless("ngan hang sap dong cua, rut tien ngay")
    assert typed_toneless("NGAN HANG SAP DONG CUA https://x.example/ă")  # the link is not read
    assert not typed_toneless("ngân hàng sắp đóng cửa")
    assert not typed_toneless("ngan hang sap đong cua")  # one mark is enough: đ
    assert not typed_toneless("") and not typed_toneless("12345 !!!")
    assert typed_toneless("cam mom di ko biet j")  # teencode is read as typed, not as model_text spells it out


def _views(rng, y, informative: bool) -> np.ndarray:
    first = y * 1.0 + rng.normal(0, 1.0, len(y)) if informative else rng.normal(0, 1.0, len(y))
    return np.c_[first, rng.normal(0, 0.05, (len(y), DIM - 1))].astype(np.float32)


@pytest.mark.parametrize("informative", [True, False])
def test_dev_decides_whether_toneless_text_is_rescored(informative):
    rng = np.random.default_rng(1)
    n = 1200
    y = rng.integers(0, 2, n)
    head = y * 1.0 + rng.normal(0, 1.0, n)
    E = _views(rng, y, True)
    # toneless copies: the head reads them a little worse; the encoder either still reads them or reads noise
    E_t, head_t = _views(rng, y, informative), head + rng.normal(0, 0.3, n)
    tr, dv = slice(0, 600), slice(600, n)
    r = fit_rescorer(E[tr], y[tr], E[dv], y[dv], head[dv], (E_t[dv], head_t[dv]))
    assert r["toneless"] is informative
    assert (r["dev"]["toneless_blended"] >= r["dev"]["toneless_head"]) is informative


def test_gain_lower_bound_separates_a_clear_gain_from_noise():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 600)
    base = y + rng.normal(0, 1.0, 600)
    assert gain_lower_bound(y, base, base + y * 0.8) > 0.02  # every resample gains
    assert gain_lower_bound(y, base, base + rng.normal(0, 0.05, 600)) <= 0  # a wobble, not a gain


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    return write_small_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def state(small_data, tmp_path_factory):
    # The generated corpus is too small for a clear gain on dev (see the test after next): these tests are
    # about how a fitted second stage is used, so the dev gate is opened for them.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("classifiers.train.clear_gain", lambda r: True)
        return train(data_root=small_data, rescore=True, embedding_cache=tmp_path_factory.mktemp("cache"), **SMALL)


def test_a_second_stage_without_a_clear_dev_gain_is_recorded_not_used(small_data, tmp_path):
    gated = train(data_root=small_data, rescore=True, embedding_cache=tmp_path, **SMALL)
    figures = gated["dev_metrics"]["vi_victsd_toxicity"]["rescore"]
    assert figures["used"] is (figures["gain_lower_bound"] > 0)
    assert ("rescore" in gated["experts"]["vi_victsd_toxicity"]) is figures["used"]


def test_training_without_the_second_stage_by_default_embeds_nothing(tmp_path, monkeypatch):
    def refuse(self, texts):
        raise AssertionError("the default training must not embed")

    monkeypatch.setattr(encoder_module.Encoder, "embed", refuse)
    plain = train(data_root=write_small_data(tmp_path / "data"), **SMALL)
    assert not any(e.get("rescore") for e in plain["experts"].values())


def test_training_adds_a_second_stage_to_the_comment_head(state):
    r = state["experts"]["vi_victsd_toxicity"]["rescore"]
    assert len(r["coef"]) == DIM and r["C"] > 0 and np.isfinite(r["threshold"])
    assert set(r["dev"]) >= {"head", "encoder", "blended", "toneless_head", "toneless_blended"}
    assert isinstance(r["toneless"], bool)
    assert "rescore" not in state["experts"]["vi_vnnews_v2"]  # only the corpora it serves


def test_comments_are_rescored_and_held_to_the_blend_threshold(state):
    model = Model(state)
    texts = ["câm mồm đi thằng ngu về giá xăng", "cảm ơn bạn về thời tiết", "óc lợn cút đi về học phí"]
    first = model.score(texts, kinds=["comment"] * 3, rescore=False)
    second = model.score(texts, kinds=["comment"] * 3)
    assert [a.harm for a in first] != [b.harm for b in second]
    assert second[0].harm > second[1].harm and second[2].harm > second[1].harm
    assert model.category_proba(texts, kinds=["comment"] * 3)[:, 1] == pytest.approx([s.harm for s in second])


def test_without_the_encoder_the_first_stage_scores_and_says_so_once(state, monkeypatch, caplog):
    def broken(self, texts):
        raise EncoderUnavailable("no engine for this machine")

    monkeypatch.setattr(encoder_module.Encoder, "embed", broken)
    monkeypatch.setattr(Model, "_encoder_warned", False)
    model = Model(state)
    texts = ["câm mồm đi thằng ngu", "cảm ơn bạn"]
    with caplog.at_level(logging.WARNING, logger="classifiers.model"):
        got = [s.harm for s in model.score(texts, kinds=["comment"] * 2)]
        model.score(texts, kinds=["comment"] * 2)
    assert got == [s.harm for s in model.score(texts, kinds=["comment"] * 2, rescore=False)]
    assert sum("second stage off" in r.getMessage() for r in caplog.records) == 1


def test_a_text_seen_again_with_trivial_changes_is_not_embedded_again():
    enc = Encoder()
    first = enc.embed(["ngân hàng sắp phá sản, rút tiền gấp"])
    calls: list[list[str]] = []
    engine = enc._engine
    real = engine.passage
    engine.passage = lambda texts: calls.append(list(texts)) or real(texts)
    again = enc.embed(["NGÂN HÀNG SẮP PHÁ SẢN, RÚT TIỀN GẤP https://x.example/a",
                       "ngân hàng sắp phá sản, rút tiền gấp", "Trận bóng tối qua"])
    assert calls == [["Trận bóng tối qua"]]
    assert np.array_equal(again[0], first[0]) and np.array_equal(again[1], first[0])


def _with_toneless(state: dict, toneless: bool) -> Model:
    """The trained model with ViCTSD's re-scorer told (as dev would) whether to read toneless text."""
    experts = {n: dict(e) for n, e in state["experts"].items()}
    experts["vi_victsd_toxicity"]["rescore"] = dict(experts["vi_victsd_toxicity"]["rescore"], toneless=toneless)
    return Model(dict(state, experts=experts))


@pytest.mark.parametrize("toneless", [True, False])
def test_toneless_text_is_rescored_only_where_dev_chose_so(state, toneless):
    model = _with_toneless(state, toneless)
    texts = ["câm mồm đi thằng ngu về giá xăng", "cam mom di thang ngu ve gia xang"]
    first = [s.harm for s in model.score(texts, kinds=["comment"] * 2, rescore=False)]
    second = [s.harm for s in model.score(texts, kinds=["comment"] * 2)]
    assert second[0] != first[0]  # text with its marks is always re-scored
    assert (second[1] != first[1]) is toneless


def test_toneless_text_reaches_the_encoder_with_its_marks_put_back(state, monkeypatch):
    assert state.get("tone_restorer")  # trained with the second stage: the restorer is in the model
    seen: list[str] = []
    real = encoder_module.Encoder.embed
    monkeypatch.setattr(encoder_module.Encoder, "embed", lambda self, texts: seen.extend(texts) or real(self, texts))
    _with_toneless(state, True).score(["cam mom di thang ngu ve gia xang", "câm mồm đi, đồ ngu"], kinds=["comment"] * 2)
    assert "câm mồm đi, đồ ngu" in seen  # text with its marks is read as written
    restored = [t for t in seen if fold_diacritics(t) == "cam mom di thang ngu ve gia xang"]
    assert restored and restored[0] != "cam mom di thang ngu ve gia xang", seen
