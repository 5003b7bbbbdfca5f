"""Shared fixtures for the web tests: a small database with users of every role and flagged items."""

from __future__ import annotations

import re
from pathlib import Path

import db
import db.users
from classifiers.text import content_hash
from db.items import insert_item
from db.sources import ensure_source

PASSWORD = "correct horse battery"
USERS = {"mod": "moderator", "mod2": "moderator", "ana": "analyst", "adm": "admin"}


def make_item(database, source_id: int, n: int, *, title: str, text: str, status: str = "flagged",
              misinformation: float = 0.5, harm: float = 0.1, url: str | None = None, language: str = "vi",
              fetched_at: str = "2026-11-20T01:00:00Z", cluster_id: int | None = None,
              explanation: dict | None = None) -> int:
    with db.transaction(database) as conn:
        if cluster_id is None:
            cluster_id = conn.execute("INSERT INTO clusters (first_seen_at, last_seen_at) VALUES (?, ?)",
                                      (fetched_at, fetched_at)).lastrowid
        else:
            conn.execute("UPDATE clusters SET size = size + 1 WHERE id = ?", (cluster_id,))
        return insert_item(conn, {
            "source_id": source_id, "guid": f"g{n}", "url": url or f"https://example.vn/bai/{n}",
            "canonical_url": url or f"https://example.vn/bai/{n}", "title": title, "text": text,
            "author": "Tác giả", "published_at": fetched_at, "fetched_at": fetched_at, "language": language,
            "content_hash": content_hash(title, text + str(n)), "cluster_id": cluster_id,
            "score_misinformation": misinformation, "score_harm": harm,
            "explanation": explanation or {"terms": {"misinformation": ["tin giả", "chia sẻ"]}, "rules": []},
            "model_version": "test-1", "status": status,
            "flag_reasons": ["misinformation"] if status == "flagged" else [],
        })


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


def login(client, name: str, password: str = PASSWORD):
    return client.post("/login", data={"name": name, "password": password}, follow_redirects=False)


def csrf_token(client, path: str = "/queue") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "page carries no CSRF token"
    return match.group(1)
