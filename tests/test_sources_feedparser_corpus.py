"""feedparser's own test feeds (and every other recorded feed) through our parser and pipeline.

The whole module reads the shared corpus (``realworld``): where it is missing, its tests are left out.

Every file must go through without an unhandled exception (a ParseError — "not a feed" — is a
handled outcome), and wherever feedparser's `Expect:` line states an entry's title or link, the
title and link we store must match it (after the same HTML-to-text normalisation every stored
title goes through).
"""

from __future__ import annotations

import ast
import json

import pytest

import db
from db.sources import ensure_source
from monitor.crawl.fetch import FetchResult
from monitor.crawl.sources import ParseError, rss
from monitor.pipeline import ingest, normalise
from monitor.text.html import clean_text, html_to_text
from tests.corpus import REALWORLD

pytestmark = pytest.mark.corpus("realworld")
FEEDS = REALWORLD / "feeds"
# Read at collection to name one test per expectation; nothing to name (and nothing runs) without the corpus.
MANIFEST = ([json.loads(line) for line in (FEEDS / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
            if (FEEDS / "manifest.jsonl").is_file() else [])
BY_PATH = {row["path"]: row for row in MANIFEST}
ALL_FILES = sorted(p for p in FEEDS.rglob("*") if p.is_file() and p.name != "manifest.jsonl"
                   and not p.name.endswith((".expected-items.json", "-output.json", ".txt", ".json.expected")))


def fetch_result(path) -> FetchResult:
    """The bytes as our fetcher would hand them over, with the manifest's HTTP headers and URL."""
    row = BY_PATH.get(str(path.relative_to(REALWORLD)), {})
    headers = {k.lower(): v for k, v in (row.get("http_headers") or {}).items()}
    url = row.get("served_url") or ""
    return FetchResult(url, url, 200, headers, path.read_bytes(), 0.0)


def _constant(node: ast.AST):
    """Value of a constant expression ('a' + 'b', u'x'); None if it is anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _constant(node.left), _constant(node.right)
        return None if left is None or right is None else left + right
    return None


def entry_expectations(expects: str) -> list[tuple[int, str, str]]:
    """(entry index, 'title' | 'link', value) for each `entries[i]['title'|'link'] == <string>` in an Expect."""
    try:
        tree = ast.parse(expects, mode="eval")
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)):
            continue
        left, value = node.left, _constant(node.comparators[0])
        if value is None:
            continue
        field = None
        if isinstance(left, ast.Subscript) and isinstance(left.slice, ast.Constant):
            field, target = left.slice.value, left.value
        elif isinstance(left, ast.Attribute):
            field, target = left.attr, left.value
        if field not in ("title", "link"):
            continue
        if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == "entries"
                and isinstance(target.slice, ast.Constant)):
            found.append((target.slice.value, field, value))
    return found


CASES = [(row["path"], index, field, value) for row in MANIFEST
         for index, field, value in entry_expectations(row["expects"])]


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    database = db.connect(tmp_path_factory.mktemp("corpus") / "corpus.db")
    outcomes: dict[str, str] = {}
    stored: dict[str, list] = {}
    for path in ALL_FILES:
        name = str(path.relative_to(REALWORLD))
        source = {"id": ensure_source(database, name, "rss", "https://example.invalid/" + name), "name": name}
        try:
            raws = rss.parse(fetch_result(path), source)
        except ParseError as exc:
            outcomes[name] = f"parse error: {exc}"
            continue
        ingest(database, source, raws, None)  # any exception here fails the test
        # What ingest stores for each item (the shared database keeps only the first copy of content
        # that several test files share, so compare per file on the normalised items themselves).
        stored[name] = [normalise(raw) for raw in raws]
        outcomes[name] = f"{len(raws)} items"
    yield database, outcomes, stored
    database.conn.close()


def test_every_feed_file_goes_through_without_unhandled_exception(corpus_db):
    database, outcomes, _ = corpus_db
    assert len(outcomes) == len(ALL_FILES) >= 450
    parsed = [name for name, outcome in outcomes.items() if not outcome.startswith("parse error")]
    assert len(parsed) >= 0.95 * len(ALL_FILES)
    assert outcomes["feeds/vietnamese/edge-cases/znews_rss_bong-da-viet-nam_404-html_from-braycolony1y-my-rss-reader.rss"] \
        == "parse error: not a feed: HTML page"
    stored = database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    assert stored > 300
    # Stored titles and texts are clean NFC text: markup from the feed became text.
    for title, text in database.conn.execute("SELECT title, text FROM items"):
        assert clean_text(title) == title and clean_text(text) == text


def test_there_are_title_and_link_expectations():
    assert len(CASES) >= 15
    assert {field for *_, field, _ in CASES} == {"title", "link"}


@pytest.mark.parametrize("path,index,field,value", CASES, ids=[f"{c[0]}[{c[1]}].{c[2]}" for c in CASES])
def test_stored_titles_and_links_match_feedparser_expectations(corpus_db, path, index, field, value):
    _, _, stored = corpus_db
    items = stored.get(path, [])
    if field == "title":
        expected = clean_text(html_to_text(value))
        assert expected in {item.title for item in items}
    else:
        assert value in {item.url for item in items}
