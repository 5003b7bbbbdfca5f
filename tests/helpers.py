"""What many tests share, imported as `from tests.helpers import ...`: a small database with users of every
role and flagged items (`build`), the test app's configuration (`app_config` / `make_app`), logging in and
reading a CSRF token, and one fake scorer. One place, so a new config key or login rule changes one file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import db
import db.clusters
import db.users
from classifiers.model import Scores
from classifiers.text import content_hash
from db.items import insert_item
from db.sources import ensure_source

# How db.users hashes a password in production, taken when this module is first imported (by conftest,
# before its session patch swaps in a cheap hash), so a test can check the real one is still strong.
REAL_GENERATE_PASSWORD_HASH = db.users.generate_password_hash

PASSWORD = "correct horse battery"
USERS = {"mod": "moderator", "mod2": "moderator", "ana": "analyst", "adm": "admin"}


def make_item(database, source_id: int, n: int, *, title: str, text: str, status: str = "flagged",
              misinformation: float = 0.5, harm: float = 0.1, url: str | None = None, language: str = "vi",
              fetched_at: str = "2026-11-20T01:00:00Z", cluster_id: int | None = None,
              explanation: dict | None = None) -> int:
    with db.transaction(database) as conn:
        if cluster_id is None:
            cluster_id = conn.execute("INSERT INTO clusters (first_seen_at, last_seen_at) VALUES (?, ?) RETURNING id",
                                      (fetched_at, fetched_at)).fetchone()[0]
        item_id = insert_item(conn, {
            "source_id": source_id, "guid": f"g{n}", "url": url or f"https://example.vn/bai/{n}",
            "canonical_url": url or f"https://example.vn/bai/{n}", "title": title, "text": text,
            "author": "Tác giả", "published_at": fetched_at, "fetched_at": fetched_at, "language": language,
            "content_hash": content_hash(title, text + str(n)), "cluster_id": cluster_id,
            "score_misinformation": misinformation, "score_harm": harm,
            "explanation": explanation or {"terms": {"misinformation": ["tin giả", "chia sẻ"]}, "rules": []},
            "model_version": "test-1", "status": status,
            "flag_reasons": ["misinformation"] if status == "flagged" else [],
        })
        # The cluster's spread as the crawler keeps it: copies, sources, first and last seen.
        db.clusters.note_source(conn, cluster_id, source_id, fetched_at)
        db.clusters.refresh_after_item(conn, cluster_id, item_id, fetched_at)
        return item_id


def build(path: Path) -> dict:
    """Create a database with four users and a handful of items; return their ids."""
    database = db.connect(path)
    ids = {name: db.users.add_user(database, name, PASSWORD, role) for name, role in USERS.items()}
    src = ensure_source(database, "Báo Thanh Hóa", "rss", "https://baothanhhoa.vn/rss", "vi")
    src2 = ensure_source(database, "VnExpress", "rss", "https://vnexpress.net/rss", "vi")
    items = {
        "high": make_item(database, src, 1, title="Tin giả về vắc-xin lan truyền", text="Nội dung sai sự thật về vắc-xin.",
                          misinformation=0.95,
                          explanation={"terms": {"misinformation": ["tin giả", "chia sẻ"]},
                                       "rules": [{"category": "misinformation", "rule": "lời đồn",
                                                  "match": "<b>uống nước muối</b>"}]}),
        "mid": make_item(database, src2, 2, title="Đồn đoán giá xăng tăng gấp đôi", text="Tin đồn chưa kiểm chứng.",
                         misinformation=0.7, fetched_at="2026-11-21T03:00:00Z"),
        "low": make_item(database, src, 3, title="Cảnh báo lừa đảo qua điện thoại", text="Người dân cần cảnh giác.",
                         misinformation=0.55, language="vi"),
        "new": make_item(database, src2, 4, title="Thời tiết Nghệ An hôm nay", text="Trời nắng.", status="new",
                         misinformation=0.05),
        "english": make_item(database, src2, 5, title="Fake cure claims spread online", text="A false claim.",
                             misinformation=0.6, language="en"),
    }
    database.conn.close()
    return {"users": ids, "items": items, "sources": {"thanhhoa": src, "vnexpress": src2}}


# The app most tests want: no CSRF token to carry, no rate limits to trip over. A test about either turns it
# back on by override, and says so at its call.
# Nor a background evidence capture after every confirmation (it would fetch the items' made-up URLs): the
# evidence tests turn EVIDENCE_ON_DECIDE back on against their local server.
TEST_CONFIG: dict[str, Any] = {"SECRET_KEY": "test", "TESTING": True, "WTF_CSRF_ENABLED": False,
                               "RATELIMIT_ENABLED": False, "EVIDENCE_ON_DECIDE": False}


def app_config(path: Path | str, *, as_deployed: bool = False, **overrides: Any) -> dict[str, Any]:
    """The test app's config for the database at `path`; `overrides` are the keys this test is about.
    `as_deployed` leaves out TEST_CONFIG: CSRF, rate limits and the rest as create_app's defaults have them."""
    return {"DATABASE": str(path), **({} if as_deployed else TEST_CONFIG), **overrides}


def make_app(path: Path | str, *, as_deployed: bool = False, **overrides: Any) -> Flask:
    """`create_app(app_config(path, ...))`."""
    from web import create_app

    return create_app(app_config(path, as_deployed=as_deployed, **overrides))


def copy_database(source: Path, target_dir: Path, name: str | None = None) -> Path:
    """Copy a closed database and the files named after it (`<db>.secret`, `<db>.audit-key`, ...) into
    `target_dir`, as `name` if given; return the copy's path. Closed: its last connection checkpointed the
    write-ahead log, so the file alone is the whole database."""
    name = name or source.name
    for file in source.parent.iterdir():
        if file.name == source.name or file.name.startswith(source.name + "."):
            shutil.copy2(file, target_dir / (name + file.name[len(source.name):]))
    return target_dir / name


def app_after_one_decision(path: Path | str, ids: dict) -> Flask:
    """An app on the world at `path` where moderator "mod" has dismissed the "high" item: one decision in the
    log, for the tests that then tamper with the database and look at what the audit pages make of it."""
    app = make_app(path)
    moderator = app.test_client()
    login(moderator, "mod")
    answer = moderator.post(f"/items/{ids['items']['high']}/decide",
                            data={"action": "dismiss", "version": "1", "note": "x"})
    assert answer.status_code in (302, 303), answer.status_code
    return app


def login(client: FlaskClient, name: str, password: str = PASSWORD) -> TestResponse:
    """Post the login form (no CSRF token: for apps with WTF_CSRF_ENABLED off); the answer, not followed."""
    return client.post("/login", data={"name": name, "password": password}, follow_redirects=False)


def csrf_token(client: FlaskClient, path: str = "/queue") -> str:
    """The CSRF token of the form on `path`, for apps that check it."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "page carries no CSRF token"
    return match.group(1)


# The fake model's thresholds by item kind, as the shipped model has its own per kind.
FAKE_THRESHOLDS = {"post": {"misinformation": 0.8, "harm": 0.8}, "article": {"misinformation": 0.9, "harm": 0.9},
                   "comment": {"misinformation": 0.8, "harm": 0.8}}
_WRITTEN_SCORE = re.compile(r"\b([mh])=([0-9.]+)")
RULE_MARK = "RULE"
RULE_HIT = {"category": "misinformation", "name": "Kêu gọi chia sẻ gấp", "rule": "chia sẻ gấp", "match": "chia sẻ gấp"}


class FakeScores(Scores):
    """Scores as the fake gives them: its explanations name the phrase alone, not {"term", "contribution"}."""

    def top_reason(self) -> str:
        """A rule hit's name first, as the model's; else the phrase."""
        reasons = [hit.get("name") or hit.get("rule") for hit in self.rule_hits]
        reasons += [term for terms in self.explanations.values() for term in terms]
        return str(next((reason for reason in reasons if reason), ""))


class FakeScorer:
    """Stands in for the shipped model, scoring by what the text says, and records each batch in `calls`.

    Scores written in the text ("m=0.95 h=0.10") are taken as they are; else a text that mentions `phrase`
    scores `hit` (misinformation, harm), explained by the phrase and with `phrase_rule` as its rule hit,
    and any other text scores `miss`. "RULE" in the text is a watchlist hit (RULE_HIT). It flags like the
    model: a score at its kind's threshold (FAKE_THRESHOLDS), or a rule hit in that category.
    """

    def __init__(self, phrase: str | None = None, *, hit: tuple[float, float] = (0.9, 0.0),
                 miss: tuple[float, float] = (0.0, 0.0), phrase_rule: dict | None = None,
                 model_version: str = "fake-1") -> None:
        self.phrase, self.hit, self.miss, self.phrase_rule = phrase, hit, miss, phrase_rule
        self.model_version = model_version
        self.calls: list[list[str]] = []

    def score(self, texts: list[str], kinds: list[str] | None = None) -> list[FakeScores]:
        self.calls.append(list(texts))
        kinds = kinds or ["post"] * len(texts)
        return [self._one(text, kind) for text, kind in zip(texts, kinds, strict=True)]

    def _one(self, text: str, kind: str) -> FakeScores:
        written = dict(_WRITTEN_SCORE.findall(text))
        mentions = self.phrase is not None and self.phrase in text.lower()
        misinformation, harm = self.hit if mentions else self.miss
        if written:
            misinformation, harm = float(written.get("m", 0.0)), float(written.get("h", 0.0))
        probs = {"misinformation": misinformation, "harm": harm}
        hits = [dict(RULE_HIT)] if RULE_MARK in text else []
        if mentions and self.phrase_rule is not None:
            hits.append(dict(self.phrase_rule))
        thresholds = dict(FAKE_THRESHOLDS[kind])
        flagged = [c for c in probs if probs[c] >= thresholds[c] or any(h.get("category") == c for h in hits)]
        explanations = {"misinformation": [self.phrase]} if mentions else {}
        return FakeScores(misinformation=misinformation, harm=harm, flagged=flagged, explanations=explanations,
                          rule_hits=hits, model_version=self.model_version, kind=kind, thresholds=thresholds)
