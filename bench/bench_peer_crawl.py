"""The peer bench (issue 17 §1): the same N local feeds to `monitor crawl` and to newsboat, side by side.

newsboat (Debian's C++ feed reader: fetch, parse, store in SQLite) is the yardstick for "a crawl pass
costs what fetching and storing feeds costs". Both get the same N feeds (default 1,000 feeds of 15 items,
200 ms latency per response) from one local server on 127.0.0.1, with the same number of concurrent
fetches (monitor `workers`, newsboat `reload-threads`), and the runs are interleaved so both see the same
machine load: monitor cold, newsboat cold (and prime), monitor warm, newsboat warm, repeated R times. A cold pass
starts from an empty database (scoring, clustering and full-text indexing on, as in production); a warm
pass is a later pass on that database, where every feed answers 304 to the conditional GET. newsboat 2.21
keeps a new feed's ETag / Last-Modified only from its second fetch on (the first fetch has no feed row to
update yet), so newsboat gets one more pass, "prime" (all 200s again, timed and shown, not in the ratios),
before its warm pass; without it newsboat's "warm" pass would download everything again.

Each client runs as its own process; its wall time covers start-up to exit and its peak RSS is the
child's ru_maxrss from wait4 plus the peaks of the helper processes it starts (monitor's parse helpers and
multiprocessing's resource tracker, sampled from /proc every 0.1 s: TreeWatch), a sum of peaks that may not
coincide, so an upper bound; the largest RSS of the whole tree at one sampled moment is shown beside it.
The feed server runs in this process, so it counts in neither. `monitor init` is done before the timed pass and not counted.

The items are distinct stories by default (bench.feedserver.feed with varied=True); --templated serves
bench_crawl_1000's one-sentence template items instead, where every item is a near-duplicate of hundreds
of others and clustering compares each new item with 200 candidates (its worst case).

Usage: python bench/bench_peer_crawl.py [--feeds N] [--items K] [--repeat R] [--workers W] [--templated]
Installs newsboat with apt-get when it is missing (needs root).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.feedserver import route_feeds  # noqa: E402
from tests.servers import TestServer  # noqa: E402

COLD_TARGET = 2.0  # monitor cold wall / newsboat cold wall
WARM_TARGET = 1.0
RSS_TARGET_MB = 350
PASSWORD = "bench-peer-password-1"


@dataclass
class Run:
    client: str  # "monitor" | "newsboat"
    phase: str  # "cold" | "prime" (newsboat only: see the module's docstring) | "warm"
    wall: float
    peak_mb: float  # the client's own peak RSS plus its helper processes' peaks (TreeWatch)
    exit_code: int
    stored: int  # items in the client's database after the pass
    requests: int  # feed requests the server saw during the pass
    conditional: int  # of which carried If-None-Match / If-Modified-Since
    helpers_mb: float = 0.0  # the helper processes' part of peak_mb
    together_mb: float = 0.0  # the largest RSS of the client and its helpers at one moment (sampled)


def ensure_newsboat() -> str:
    """The newsboat binary; installs Debian's package when it is missing."""
    found = shutil.which("newsboat")
    if found:
        return found
    print("newsboat not found: installing it with apt-get", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "newsboat"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    found = shutil.which("newsboat")
    if not found:
        raise SystemExit("error: newsboat is still missing after apt-get install")
    return found


def _children_of() -> dict[int, list[int]]:
    """Every process's children, from /proc/*/stat (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _descendants(pid: int) -> list[int]:
    children, found, todo = _children_of(), [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(VmHWM, VmRSS) of a process in kB; (0, 0) once it is gone."""
    hwm = rss = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return hwm, rss


class TreeWatch:
    """Samples a process's descendants (monitor's parse helpers, multiprocessing's resource tracker) every
    0.1 s while it runs: each one's peak RSS (VmHWM, last seen before it ended) and the largest RSS of the
    whole tree at one moment. wait4's ru_maxrss is the parent's own peak (or one child's, if larger): the
    helpers run beside the parent, so their peaks are added to it, not taken as a maximum."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peaks, self.together_kb = pid, {}, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            total = _memory_kb(self.pid)[1]
            for pid in _descendants(self.pid):
                hwm, rss = _memory_kb(pid)
                if hwm:
                    self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)
                total += rss
            self.together_kb = max(self.together_kb, total)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int, float, float]:
    """Run a command to its end; (wall seconds, peak RSS in MB of it and its helper processes — the sum of
    their peaks —, exit code, the helpers' part of that peak in MB, the tree's largest RSS at one moment in
    MB). Output goes to `log`."""
    with log.open("ab") as out:
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        watch = TreeWatch(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        watch.stop()
    process.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    helpers = sum(watch.peaks.values()) / 1024
    return wall, usage.ru_maxrss / 1024 + helpers, process.returncode, helpers, watch.together_kb / 1024


def count_rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names


class Monitor:
    """`monitor crawl` on its own database and feeds file in a temporary folder."""

    def __init__(self, home: Path, urls: list[str], workers: int) -> None:
        self.home, self.db, self.feeds = home, home / "monitor.db", home / "feeds.yaml"
        home.mkdir()
        lines = ["settings:", "  allow_private_networks: true", f"  workers: {workers}", "  host_delay: 0",
                 f"  host_concurrency: {workers}", "sources:"]
        lines += [f"  - {{name: feed-{n}, kind: rss, url: '{url}', language: vi}}" for n, url in enumerate(urls)]
        self.feeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.env = {**os.environ, "MONITOR_HOME": str(home), "HOME": str(home), "PYTHONPATH": str(ROOT),
                    "MONITOR_ADMIN_PASSWORD": PASSWORD}
        self.log = home / "monitor.log"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-c", "from monitor.cli import console; console()", "--db", str(self.db),
                "--feeds", str(self.feeds), *args]

    def reset(self) -> None:
        """A fresh database (made by `monitor init`, as a committee would), outside the timed pass."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        subprocess.run(self.command("init", "--admin", "bench"), env=self.env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)

    def crawl(self) -> tuple[tuple[float, float, int, float, float], int]:
        timing = timed(self.command("crawl"), self.env, self.log)
        return timing, count_rows(self.db, "items")


class Newsboat:
    """`newsboat -x reload` with its own urls file, cache file and config, in a temporary HOME."""

    def __init__(self, binary: str, home: Path, urls: list[str], workers: int) -> None:
        self.binary, self.home = binary, home
        home.mkdir()
        self.urls, self.cache, self.config = home / "urls", home / "cache.db", home / "config"
        self.urls.write_text("\n".join(urls) + "\n", encoding="utf-8")
        self.config.write_text(f"reload-threads {workers}\n", encoding="utf-8")
        self.env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                    "XDG_DATA_HOME": str(home / ".local")}
        self.log = home / "newsboat.log"

    def reset(self) -> None:
        for suffix in ("", ".lock", "-journal", "-wal", "-shm"):
            Path(f"{self.cache}{suffix}").unlink(missing_ok=True)

    def crawl(self) -> tuple[tuple[float, float, int, float, float], int]:
        command = [self.binary, "-q", "-u", str(self.urls), "-c", str(self.cache), "-C", str(self.config),
                   "-x", "reload"]
        timing = timed(command, self.env, self.log)
        return timing, count_rows(self.cache, "rss_item")


def one_pass(client: Monitor | Newsboat, name: str, phase: str, server: TestServer) -> Run:
    before = len(server.requests)
    (wall, peak, code, helpers, together), stored = client.crawl()
    seen = server.requests[before:]
    conditional = sum(1 for r in seen if "if-none-match" in r.headers or "if-modified-since" in r.headers)
    run = Run(name, phase, wall, peak, code, stored, len(seen), conditional, helpers, together)
    print(f"  {name:<9} {phase:<5} {wall:6.1f} s  peak {peak:5.0f} MB (helpers {helpers:3.0f} MB; together"
          f" {together:4.0f} MB)  exit {code}  items stored {stored:>6}  requests {len(seen)}"
          f" ({conditional} conditional)  load {os.getloadavg()[0]:.2f}", flush=True)
    return run


def ratio_line(label: str, runs: list[Run], phase: str, target: float) -> float:
    """Print monitor/newsboat wall-time ratios of one phase (per repeat and of the medians); the median ratio."""
    ours = [r.wall for r in runs if r.client == "monitor" and r.phase == phase]
    theirs = [r.wall for r in runs if r.client == "newsboat" and r.phase == phase]
    ratio = statistics.median(ours) / statistics.median(theirs)
    each = ", ".join(f"{a / b:.2f}x" for a, b in zip(ours, theirs, strict=True))
    print(f"{label}: monitor {min(ours):.1f}-{max(ours):.1f} s, newsboat {min(theirs):.1f}-{max(theirs):.1f} s;"
          f" ratio {ratio:.2f}x (each repeat: {each}; target <= {target:g}x)")
    return ratio


def report(runs: list[Run], feeds: int, items: int) -> bool:
    """Print the summary and FIGURE lines; whether every pass did its job (all items stored, warm = 304s)."""
    cold = ratio_line("cold pass", runs, "cold", COLD_TARGET)
    warm = ratio_line("warm pass", runs, "warm", WARM_TARGET)
    peaks = {(c, p): max(r.peak_mb for r in runs if r.client == c and r.phase == p)
             for c in ("monitor", "newsboat") for p in ("cold", "warm")}
    print("peak RSS: " + ", ".join(f"{c} {p} {mb:.0f} MB" for (c, p), mb in peaks.items()))
    print(f"FIGURE peer_cold_ratio: {cold:.2f}x (target: <= {COLD_TARGET:g}x)")
    print(f"FIGURE peer_warm_ratio: {warm:.2f}x (target: <= {WARM_TARGET:g}x)")
    print(f"FIGURE peer_cold_peak_rss: {peaks['monitor', 'cold']:.0f} MB (target: <= {RSS_TARGET_MB} MB)")
    print(f"FIGURE peer_newsboat_cold_peak_rss: {peaks['newsboat', 'cold']:.0f} MB (target: -)")
    problems = [f"{r.client} {r.phase}: exit {r.exit_code}" for r in runs if r.exit_code != 0]
    problems += [f"{r.client} {r.phase}: {r.stored} items stored, expected {feeds * items}"
                 for r in runs if r.stored != feeds * items]
    problems += [f"{r.client} warm: {r.conditional} of {r.requests} requests conditional"
                 for r in runs if r.phase == "warm" and r.conditional < feeds]
    for problem in problems:
        print(f"problem: {problem}")
    return not problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=15, help="items per feed")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per response")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=32, help="concurrent fetches, for both clients")
    parser.add_argument("--templated", action="store_true",
                        help="one-sentence template items (every item a near-duplicate of hundreds: clustering's"
                             " worst case) instead of distinct items")
    args = parser.parse_args(argv)
    binary = ensure_newsboat()
    server = TestServer().start()
    try:
        urls = route_feeds(server, 1, args.feeds, items=args.items, latency=args.latency, varied=not args.templated)
        print(f"{args.feeds} feeds x {args.items} {'templated' if args.templated else 'distinct'} items on"
              f" {server.url('/')}, {args.latency * 1000:.0f} ms latency,"
              f" {args.workers} concurrent fetches each; load average {os.getloadavg()[0]:.2f}", flush=True)
        with tempfile.TemporaryDirectory(prefix="peer-bench-") as tmp:
            ours = Monitor(Path(tmp) / "monitor", urls, args.workers)
            theirs = Newsboat(binary, Path(tmp) / "newsboat", urls, args.workers)
            runs: list[Run] = []
            for repeat in range(1, args.repeat + 1):
                print(f"repeat {repeat}", flush=True)
                ours.reset()
                theirs.reset()
                runs.append(one_pass(ours, "monitor", "cold", server))
                runs.append(one_pass(theirs, "newsboat", "cold", server))
                runs.append(one_pass(theirs, "newsboat", "prime", server))
                runs.append(one_pass(ours, "monitor", "warm", server))
                runs.append(one_pass(theirs, "newsboat", "warm", server))
            print(f"load average after: {os.getloadavg()[0]:.2f}")
            return 0 if report(runs, args.feeds, args.items) else 1
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
