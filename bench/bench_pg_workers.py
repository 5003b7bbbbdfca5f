"""Items stored per second by 1, 2 and 4 `monitor worker` processes on one PostgreSQL (issue 14 §5), the
database's write ceiling, and where a worker's time goes.

1. Workers. A throw-away cluster (tests/pg.py) and one local feed server on 127.0.0.1 serving SOURCES feeds of
   ITEMS distinct Vietnamese items each (bench/feedserver.py, `varied`). For N in 1, 2, 4 (--order): a fresh database set
   up by `monitor init`, N `monitor worker` processes (default concurrency) started and given time to connect,
   then one crawl job per source queued at once (the queue's own enqueue_crawl, as the scheduler's dispatch
   does) and the stored items counted until all are in. Politeness is on but does not pace: host_delay 0 and
   host_concurrency HOST_CONCURRENCY (every source is on 127.0.0.1, so otherwise the per-host pacer is what
   would be measured). The figure is the steady rate, items stored between 10 % and 90 % of the total over
   that time: a worker loads the classifier on its first job, which would otherwise count against few workers.
2. Write ceiling. The ingest's storage step alone (pipeline._store in db.transaction, one transaction per
   source of ITEMS items, as `ingest` writes them), from 1, 2 and 4 processes at once into one database; the
   items were parsed, scored and annotated beforehand, outside the timing.
3. Where a worker's time goes: py-spy samples one worker of the N=1 run (if py-spy is installed), grouped by
   pipeline step.

Run: python bench/bench_pg_workers.py [--sources 200] [--items 50]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["MONITOR_ALLOW_PRIVATE_NETWORKS"] = "1"

import db  # noqa: E402
from bench.feedserver import feed, route_feeds  # noqa: E402
from db.sources import sync_sources  # noqa: E402
from monitor import config as config_module  # noqa: E402
from monitor.distributed import queue  # noqa: E402
from tests import pg  # noqa: E402
from tests.scheduler_fixtures import stop_process  # noqa: E402
from tests.servers import TestServer  # noqa: E402

HOST_CONCURRENCY = 64
PROFILE_SECONDS = 20.0
HOST = 1  # feedserver's host number: names the items (bao1.example.vn)
CLI = "from monitor.cli import console; console()"
PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", MONITOR_ADMIN_PASSWORD="bench-Passw0rd-long!")


def _feeds_file(folder: Path, server: TestServer, sources: int) -> Path:
    lines = ["settings:", "  allow_private_networks: true", "  host_delay: 0",
             f"  host_concurrency: {HOST_CONCURRENCY}", "sources:"]
    for number in range(sources):
        lines.append(f"  - {{name: s{number}, kind: rss, url: '{server.url(f'/rss/{number}.rss')}',"
                     " language: vi, interval: 1d}")
    path = folder / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _count(url: str) -> int:
    database = db.connect(url, migrate_schema=False)
    try:
        return int(database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
    finally:
        database.close()


def _live_workers(url: str) -> int:
    database = db.connect(url, migrate_schema=False)
    try:
        return int(database.conn.execute("SELECT COUNT(*) FROM workers WHERE kind = 'worker'").fetchone()[0])
    finally:
        database.close()


def _cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) of a live process from /proc; with `children`, also of its live children
    and of the children it has reaped (the PostgreSQL postmaster's backends)."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = (int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)) / tick
    if children:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parts = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(parts[1]) == pid:
                total += (int(parts[11]) + int(parts[12])) / tick
    return total


def run_workers(server: pg.Server, feeds: Path, folder: Path, count: int, total: int,
                profile_seconds: float = 0.0) -> dict:
    """One measurement: `count` workers crawl every source once into a fresh database."""
    url = server.create_database()
    init = subprocess.run([sys.executable, "-c", CLI, "--db", url, "--feeds", str(feeds), "init", "--admin", "bench"],
                          cwd=ROOT, env=_env(), capture_output=True, text=True)
    if init.returncode:
        raise RuntimeError(f"monitor init failed: {init.stderr.strip()[-500:]}")
    database = db.connect(url)
    ids = sync_sources(database, config_module.load(feeds).sources)
    database.close()
    queue.ensure_schema(url)
    processes = [subprocess.Popen([sys.executable, "-c", CLI, "--db", url, "--feeds", str(feeds), "worker"],
                                  cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                                  stderr=open(folder / f"worker-{count}-{n}.log", "wb"))
                 for n in range(count)]
    spy = None
    try:
        deadline = time.monotonic() + 60
        while _live_workers(url) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"workers did not start; see {folder}/worker-{count}-*.log")
            time.sleep(0.2)
        app = queue.make_app(url)
        cpu_before = (sum(_cpu_seconds(p.pid) for p in processes), _cpu_seconds(server.process.pid, children=True))
        started = time.monotonic()
        with app.open():
            for source_id in ids.values():
                queue.enqueue_crawl(app, source_id)
        marks: list[tuple[float, int]] = []
        deadline = time.monotonic() + 900
        while True:
            stored = _count(url)
            marks.append((time.monotonic() - started, stored))
            if profile_seconds and spy is None and stored >= 0.1 * total and os.path.exists(PY_SPY):
                # after the first 10 %: the classifier is loaded, the worker is in its steady state
                spy = subprocess.Popen([PY_SPY, "record", "--pid", str(processes[0].pid), "--format", "raw",
                                        "--rate", "100", "--nonblocking", "-d", str(int(profile_seconds)), "-o", str(SPY_OUT)],
                                       stdout=subprocess.DEVNULL, stderr=open(folder / "spy.log", "wb"))
            if stored >= total or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        cpu_after = (sum(_cpu_seconds(p.pid) for p in processes), _cpu_seconds(server.process.pid, children=True))
        if spy is not None:
            spy.wait(profile_seconds + 30)
    finally:
        for process in processes:
            stop_process(process, 40)
        if spy is not None and spy.poll() is None:
            spy.kill()
    wall, stored = marks[-1]
    low = next(t for t, n in marks if n >= 0.1 * total)
    high = next(t for t, n in marks if n >= 0.9 * total)
    server.drop_database(url)
    return {"workers": count, "stored": stored, "wall": wall, "steady": 0.8 * total / max(high - low, 1e-9),
            "overall": stored / wall, "worker_cpu": cpu_after[0] - cpu_before[0],
            "postgres_cpu": cpu_after[1] - cpu_before[1]}


# --------------------------------------------------------------------------- write ceiling

def _writer(url: str, first: int, sources: int, items: int, barrier, out) -> None:
    """One writer process: prepare its sources' items (parse, score, annotate), wait for the others, then
    time the storage step alone."""
    sys.path.insert(0, str(ROOT))
    from classifiers.model import load_model
    from db.sources import ensure_source
    from monitor.crawl.fetch import FetchResult
    from monitor.crawl.sources import rss
    from monitor.pipeline import _annotate, _prepare, _score, _store

    database = db.connect(url, migrate_schema=False)
    scorer = load_model()
    batches = []
    for number in range(first, first + sources):
        name = f"w{number}"
        source = {"id": ensure_source(database, name, "rss", f"https://bao{HOST}.example.vn/rss/{number}.rss"),
                  "name": name, "kind": "rss", "language": "vi"}
        raws = rss.parse(FetchResult("", "", 200, {}, feed(HOST, number, items=items, varied=True), 0.0))
        batch = _prepare(database, source, raws)
        _score([batch], scorer)
        _annotate(database, [batch], frozenset())
        batches.append(batch)
    barrier.wait()
    began = time.monotonic()
    stored = 0
    for batch in batches:
        with db.transaction(database) as conn:
            stored += _store(conn, batch, db.utcnow()).new
    out.put((began, time.monotonic(), stored))
    database.close()


def write_ceiling(server: pg.Server, writers: int, total_sources: int, items: int) -> dict:
    url = server.create_database()
    db.connect(url).close()  # the schema
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(writers), context.Queue()
    share = total_sources // writers
    processes = [context.Process(target=_writer, args=(url, n * share, share, items, barrier, out))
                 for n in range(writers)]
    for process in processes:
        process.start()
    results = [out.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(30)
    began, ended = min(r[0] for r in results), max(r[1] for r in results)
    stored = sum(r[2] for r in results)
    server.drop_database(url)
    return {"writers": writers, "stored": stored, "seconds": ended - began, "rate": stored / (ended - began)}


# --------------------------------------------------------------------------- profile

SPY_OUT = Path(tempfile.gettempdir()) / "bench-pg-workers-spy.txt"  # kept: the raw stacks, for a closer look
STEPS = [  # (step, marks in a frame "function (file:line)"); the first step with a frame in the stack wins
    ("fetch (HTTP, shared politeness)", ("crawl/fetch.py", "distributed/politeness.py", "db/hosts.py")),
    ("parse (rss.parse, feedparser)", ("sources/rss.py", "feedparser/")),
    ("store (write transaction: inserts, clusters, index)", ("_store (", "transaction (")),
    ("score (classifier)", ("_score (", "score_texts (")),
    ("annotate (search keys, places, claims)", ("_annotate (",)),
    ("prepare (normalise, language, dedup look-ups)", ("_prepare (", "normalise")),
    ("job bookkeeping (crawl run, next poll)", ("plan_next_poll", "schedule/locks.py", "crawl/crawler.py",
                                                "db/sources.py")),
    ("queue (procrastinate, heartbeats)", ("procrastinate/", "workers.py")),
]


def profile_breakdown(path: Path) -> list[tuple[str, float]]:
    """py-spy's raw output (one `frame;frame;... count` line per stack) grouped by pipeline step."""
    counts: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        step = next((name for name, marks in STEPS if any(mark in stack for mark in marks)), "other")
        counts[step] += int(number)
    total = sum(counts.values()) or 1
    return [(step, counts[step] / total) for step, _ in counts.most_common()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--writer-sources", type=int, default=80, help="sources stored in the write-ceiling test")
    parser.add_argument("--order", default="1,2,4", help="worker and writer counts, in the order run (e.g. 4,2,1:"
                                                         " on a shared machine, the other order shows the noise)")
    parser.add_argument("--no-warmup", action="store_true", help="leave out the unrecorded first pass")
    args = parser.parse_args()
    total = args.sources * args.items
    counts = [int(n) for n in args.order.split(",")]
    load = os.getloadavg()
    print(f"{args.sources} sources × {args.items} items = {total} items; host_delay 0, host_concurrency "
          f"{HOST_CONCURRENCY}; cores {os.cpu_count()}; load average before {load[0]:.1f}", flush=True)
    server = pg.start()
    feeds_server = TestServer(host="127.0.0.1").start()
    route_feeds(feeds_server, HOST, args.sources, items=args.items, latency=0.0, varied=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            feeds = _feeds_file(folder, feeds_server, args.sources)
            runs = []
            if not args.no_warmup:  # the first pass after the server starts cost PostgreSQL ~2x CPU per item
                warm = run_workers(server, feeds, folder, 2, total, profile_seconds=0)
                print(f"warm-up pass (not counted): 2 workers, {warm['steady']:.0f} items/s steady", flush=True)
            for count in counts:
                result = run_workers(server, feeds, folder, count, total, profile_seconds=PROFILE_SECONDS if count == 1 else 0)
                runs.append(result)
                print(f"{count} worker(s): {result['stored']} items in {result['wall']:.1f} s from enqueue "
                      f"({result['overall']:.0f} items/s overall, {result['steady']:.0f} items/s steady 10-90 %); CPU "
                      f"seconds per 1,000 items: workers {1000 * result['worker_cpu'] / result['stored']:.1f}, "
                      f"PostgreSQL {1000 * result['postgres_cpu'] / result['stored']:.1f}",
                      flush=True)
            steps = profile_breakdown(SPY_OUT) if SPY_OUT.exists() else []
            ceilings: list[dict] = []
            for writers in counts:
                result = write_ceiling(server, writers, args.writer_sources, args.items)
                ceilings.append(result)
                print(f"storage step alone, {writers} process(es): {result['stored']} items in "
                      f"{result['seconds']:.2f} s = {result['rate']:.0f} items/s", flush=True)
    finally:
        feeds_server.stop()
        server.stop()
    if steps:
        print(f"one worker's CPU samples (py-spy, N=1 run, {PROFILE_SECONDS:.0f} s from 10 % stored; {SPY_OUT}):")
        for step, share in steps:
            print(f"  {share:6.1%}  {step}")
    runs.sort(key=lambda r: r["workers"])
    ceilings.sort(key=lambda r: r["writers"])
    base = runs[0]["steady"]
    for result in runs:
        print(f"FIGURE pg_workers_{result['workers']}_items_per_s: {result['steady']:.0f} items/s "
              f"(ratio to 1 worker {result['steady'] / base:.2f}; overall incl. start-up {result['overall']:.0f}) "
              f"(target: scales with workers up to the cores)")
    for result in ceilings:
        print(f"FIGURE pg_store_ceiling_{result['writers']}_writers: {result['rate']:.0f} items/s "
              f"(ratio to 1 writer {result['rate'] / ceilings[0]['rate']:.2f}) (target: above the workers' rate)")
    print(f"load average after {os.getloadavg()[0]:.1f}")
    return 0 if all(r["stored"] >= total for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
