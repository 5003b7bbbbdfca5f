"""Parsing and the items' text work in helper processes (monitor.crawl.offload, issue 17 §2): the same rows
as in-process, a dead helper loses no feed, and no helper outlives its crawl."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

import db
from monitor.config import ConfigError, load_text
from monitor.crawl.crawler import crawl_sources
from monitor.crawl.offload import ParseWorkers, processes_for
from monitor.crawl.response import FetchResult
from monitor.crawl.sources import Parsed, ParseError, rss
from monitor.domain import RawItem
from monitor.pipeline import dedup, ingest
from tests.corpus import FIXTURES
from tests.servers import TestServer
from tests.test_ingest_groups import CountingScorer, feeds, snapshot

FEED = (FIXTURES / "feeds" / "tin-tong-hop.rss").read_bytes()


def _result(body: bytes, url: str = "https://tin-tong-hop.example.vn/rss") -> FetchResult:
    return FetchResult(url=url, final_url=url, status=200, headers={"content-type": "application/rss+xml"},
                       body=body, elapsed=0.0)


def _source(name: str = "tin-tong-hop"):
    return load_text(f"sources:\n  - {{name: {name}, kind: rss, url: 'https://tin-tong-hop.example.vn/rss'}}\n"
                     ).sources[0]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        return subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True,
                              check=False).stdout.strip()[:1] not in ("Z", "")
    except OSError:
        return True


@pytest.fixture
def workers():
    pool = ParseWorkers(1)
    yield pool
    pool.close()


def test_a_helper_parses_what_this_process_parses(workers):
    source = _source()
    here = rss.parse(_result(FEED), source)
    there = workers.parse("rss", _result(FEED), source)
    assert isinstance(there, Parsed) and len(there) == 25
    assert there == here and (there.warning, there.ttl_seconds) == (here.warning, here.ttl_seconds)
    helper = workers._helpers[0].process
    assert helper.pid != os.getpid() and helper.poll() is None  # it did run elsewhere


def test_a_helpers_parse_error_is_raised_here_with_its_reason(workers):
    page = b"<html><head><title>Error 404</title></head><body>Not Found</body></html>"
    with pytest.raises(ParseError) as here:
        rss.parse(_result(page), _source())
    with pytest.raises(ParseError) as there:
        workers.parse("rss", _result(page), _source())
    assert str(there.value) == str(here.value) and "HTML page" in str(there.value)


def test_prepared_texts_store_the_same_rows_as_the_write_path_alone(tmp_path, workers):
    alone, prepared = db.connect(tmp_path / "a.db"), db.connect(tmp_path / "b.db")
    for source, raws in feeds(alone):
        ingest(alone, source, raws, CountingScorer())
    for source, raws in feeds(prepared):
        made = workers.prepare(raws, source)
        assert made is not None and made.texts and made.texts[0].shingle_hashes is not None
        ingest(prepared, source, raws, CountingScorer(), prepared=made)
    assert snapshot(prepared) == snapshot(alone)
    for query in ("SELECT item_id, signature FROM item_minhash ORDER BY item_id",
                  "SELECT band_key, item_id FROM minhash_bands ORDER BY band_key, item_id",
                  "SELECT id, language, author, published_at FROM items ORDER BY id"):
        assert prepared.conn.execute(query).fetchall() == alone.conn.execute(query).fetchall()
    assert alone.conn.execute("SELECT COUNT(*) FROM item_minhash").fetchone()[0] > 0


def test_signature_from_shingle_hashes_is_the_minhash_bit_for_bit():
    """The helper sends each shingle's crc32; the signature made from them here is the one made from the
    shingles (the numpy code before the split, kept inline as the reference)."""
    rng = random.Random(17)
    a, b = dedup._PERM_A, dedup._PERM_B
    for size in (1, 3, 50, 400):
        grams = {bytes(rng.getrandbits(8) for _ in range(rng.randint(3, 30))) for _ in range(size)}
        hashes = np.fromiter((zlib.crc32(g) for g in grams), dtype=np.uint32, count=len(grams)).reshape(-1, 1)
        for shift, mult in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
            hashes ^= hashes >> np.uint32(shift)
            hashes *= np.uint32(mult)
        hashes ^= hashes >> np.uint32(16)
        expected = (hashes * a + b).min(axis=0).astype(np.uint64)
        assert np.array_equal(dedup.signature_of_hashes(dedup.shingle_hashes(grams)).hashvalues, expected)
        assert np.array_equal(dedup.signature_of_shingles(grams).hashvalues, expected)
    assert dedup.signature_of_hashes(b"") is None and dedup.signature_of_shingles(set()) is None


def test_a_killed_helper_loses_no_feed_and_another_takes_its_place(workers, caplog):
    source = _source()
    workers.parse("rss", _result(FEED), source)  # started
    first = workers._helpers[0].process
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    with caplog.at_level(logging.WARNING, logger="monitor.crawl"):
        items = workers.parse("rss", _result(FEED), source, source_id=42)
    assert len(items) == 25  # parsed here instead
    warning = next(r for r in caplog.records if "helper process died" in r.getMessage())
    assert (warning.source, warning.source_id) == ("tin-tong-hop", 42)
    assert len(workers.parse("rss", _result(FEED), source)) == 25
    [second] = workers._helpers
    assert second.process.pid != first.pid and second.process.poll() is None


def test_after_too_many_deaths_the_pool_parses_in_process(workers):
    deaths = 0
    while workers.active and deaths < 10:
        assert len(workers.parse("rss", _result(FEED), _source())) == 25  # parsed somewhere, every time
        for helper in list(workers._helpers):
            helper.process.kill()
            helper.process.wait(timeout=10)
            deaths += 1
    assert not workers.active and workers._restarts == 4 and workers._helpers == []
    assert len(workers.parse("rss", _result(FEED), _source())) == 25
    assert workers.prepare([RawItem(guid="a", title="x", text="y")], {"name": "s"}) is None


def test_no_helper_outlives_a_killed_crawl_process(tmp_path):
    """kill -9 of the crawl's process: its helper sees its stdin close and ends by itself."""
    script = (f"import sys; sys.path[:0] = {[p for p in sys.path if p]!r}\n"
              "from monitor.crawl.offload import ParseWorkers\n"
              "from monitor.domain import RawItem\n"
              "w = ParseWorkers(1); w.prepare([RawItem(guid='a', title='t', text='x')], {'name': 's'})\n"
              "print(w._helpers[0].process.pid, flush=True)\n"
              "import time; time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        helper = int(parent.stdout.readline())
        assert _alive(helper)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(helper) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(helper)
    finally:
        parent.kill()


def _serve(server: TestServer, count: int) -> list[str]:
    urls = []
    for n in range(count):
        body = FEED.replace(b"bai-41", f"bai-{n}-41".encode()).replace(b"<title>", f"<title>[{n}] ".encode())
        server.route(f"/f{n}.rss", body=body, content_type="application/rss+xml")
        urls.append(server.url(f"/f{n}.rss"))
    return urls


def test_a_crawl_pass_with_helpers_stores_what_one_without_stores(tmp_path):
    stored = {}
    with TestServer() as server:
        urls = _serve(server, 6)
        for processes in (0, 1):
            lines = ["settings:", "  allow_private_networks: true", "  host_delay: 0", "  workers: 4",
                     f"  parse_processes: {processes}", "sources:"]
            lines += [f"  - {{name: f{n}, kind: rss, url: '{url}', language: vi}}" for n, url in enumerate(urls)]
            config = load_text("\n".join(lines) + "\n")
            database = db.connect(tmp_path / f"m{processes}.db")
            results = crawl_sources(database, config, CountingScorer())
            again = crawl_sources(database, config, CountingScorer())
            assert [(r.status, r.new) for r in results] == [("ok", 25)] * 6
            assert [r.status for r in again] == ["not_modified"] * 6
            stored[processes] = database.conn.execute(
                "SELECT s.name, i.guid, i.title, i.text, i.url, i.language, i.published_at, i.content_hash,"
                " i.score_misinformation, m.signature FROM items i JOIN sources s ON s.id = i.source_id"
                " LEFT JOIN item_minhash m ON m.item_id = i.id ORDER BY s.name, i.guid").fetchall()
    assert len(stored[1]) == 150 and len({row[1] for row in stored[1]}) == 150
    assert stored[1] == stored[0]


def test_a_crawl_pass_over_several_feeds_uses_a_helper_and_leaves_none(tmp_path, monkeypatch):
    started = []
    real_init = ParseWorkers.__init__

    def recording_init(self, processes):
        real_init(self, processes)
        started.append(self)

    monkeypatch.setattr(ParseWorkers, "__init__", recording_init)
    with TestServer() as server:
        urls = _serve(server, 3)
        lines = ["settings:", "  allow_private_networks: true", "  host_delay: 0", "  parse_processes: 1",
                 "sources:"] + [f"  - {{name: f{n}, kind: rss, url: '{url}'}}" for n, url in enumerate(urls)]
        results = crawl_sources(db.connect(tmp_path / "m.db"), load_text("\n".join(lines) + "\n"), None)
    assert [r.new for r in results] == [25, 25, 25]
    [pool] = started
    assert pool.processes == 1 and pool._closed and pool._helpers == []


def test_parse_processes_setting():
    def settings(value: str):
        return load_text(f"settings:\n  parse_processes: {value}\nsources: []\n").settings

    assert settings("auto").parse_processes is None and settings("0").parse_processes == 0
    assert settings("2").parse_processes == 2
    assert processes_for(settings("3")) == 3 and processes_for(settings("0")) == 0
    cores = len(os.sched_getaffinity(0))
    assert processes_for(settings("auto")) == max(0, min(cores - 1, 2))
    assert processes_for(settings("auto"), scheduled=True) == 0  # monitor run: only when asked
    assert processes_for(settings("1"), scheduled=True) == 1
    for bad in ("-1", "true", "two", "17", "1.5"):
        with pytest.raises(ConfigError, match="parse_processes") as error:
            settings(bad)
        assert error.value.line == 2


def test_band_keys_are_blake2b_of_each_band_as_before():
    import hashlib
    import struct

    rng = np.random.RandomState(3)
    for _ in range(20):
        sig = dedup.Signature(rng.randint(0, 1 << 32, dedup.NUM_PERM, dtype=np.uint64))
        expected = [struct.unpack("<q", hashlib.blake2b(
            bytes([band]) + sig.hashvalues[band * dedup.ROWS:(band + 1) * dedup.ROWS].astype(np.uint64).tobytes(),
            digest_size=8).digest())[0] for band in range(dedup.BANDS)]
        assert sig.band_keys() == expected


def test_a_crawl_runs_records_queue_on_the_process_write_lock(tmp_path, monkeypatch):
    """start_run / finish_run wait on the lock the group writer holds, not in SQLite's busy handler, whose
    sleeps (up to 100 ms) kept workers from fetching while the writer had free gaps."""
    from monitor.crawl import crawler

    held = []
    for name in ("start_run", "finish_run"):
        real = getattr(crawler, name)

        def recording(*args, _real=real, _name=name, **kwargs):
            held.append((_name, crawler._INGEST_LOCK.locked()))
            return _real(*args, **kwargs)

        monkeypatch.setattr(crawler, name, recording)
    with TestServer() as server:
        urls = _serve(server, 2)
        lines = ["settings:", "  allow_private_networks: true", "  host_delay: 0", "  parse_processes: 0",
                 "sources:"] + [f"  - {{name: f{n}, kind: rss, url: '{url}'}}" for n, url in enumerate(urls)]
        crawl_sources(db.connect(tmp_path / "m.db"), load_text("\n".join(lines) + "\n"), None)
    assert sorted(held) == [("finish_run", True)] * 2 + [("start_run", True)] * 2


def test_idle_helpers_stop_and_the_next_feed_starts_one(workers):
    source = _source()
    workers.parse("rss", _result(FEED), source)
    [first] = workers._helpers
    assert workers.stop_idle() == 1 and workers._helpers == []
    assert first.process.wait(timeout=10) is not None  # ended
    assert len(workers.parse("rss", _result(FEED), source)) == 25
    [second] = workers._helpers
    assert second.process.pid != first.process.pid and second.process.poll() is None
    assert workers.active  # stopping idle helpers is not a death


def test_an_idle_scheduler_stops_its_parse_helpers(tmp_path):
    """`monitor run` between passes keeps no helper process: the release_memory job stops them."""
    from monitor.schedule.scheduler import Scheduler

    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("settings:\n  parse_processes: 1\nsources:\n"
                     "  - {name: s0, kind: rss, url: 'http://127.0.0.1:9/0', interval: 1h}\n", encoding="utf-8")
    scheduler = Scheduler(tmp_path / "m.db", feeds, crawl=lambda *args, **kwargs: None, housekeeping=False)
    pool = scheduler.resources.parsers(scheduler.config.settings)
    assert pool.processes == 1
    pool.parse("rss", _result(FEED), _source())
    [helper] = pool._helpers
    with scheduler._inflight.running():
        assert scheduler.release_memory() is False  # a crawl is running: its helper stays
    assert helper.process.poll() is None
    assert scheduler.release_memory() is True
    assert helper.process.wait(timeout=10) is not None and pool._helpers == []
    scheduler.resources.close()


def test_a_request_the_helper_cannot_read_is_answered_and_the_helper_goes_on(workers):
    class Explodes:  # pickles here; unpickling it in the helper raises
        def __reduce__(self):
            return (eval, ("1/0",))

    class Unsendable:  # a local class: cannot be pickled here at all
        pass

    source = _source()
    workers.parse("rss", _result(FEED), source)
    [helper] = workers._helpers
    with pytest.raises(ZeroDivisionError):
        workers._run("parse", ("rss", Explodes(), source), ("x", None))
    with pytest.raises(TypeError):  # parsed in this process instead, where rss.parse refuses it
        workers._run("parse", ("rss", Unsendable(), source), ("x", None))
    assert len(workers.parse("rss", _result(FEED), source)) == 25
    assert workers._helpers == [helper] and helper.process.poll() is None and workers._restarts == 0
