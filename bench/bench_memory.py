"""Memory of `monitor serve` and `monitor run`, and start-up of `monitor classify` and `monitor status` (issue 17).

Why: committees run this on a small virtual machine (2 cores, 2–4 GB shared with other services), so the
resident memory of the long-running processes is what decides whether it fits beside the rest. Each
figure is measured on a fresh `python -m monitor.cli` process of this checkout, read from /proc/<pid>/status
(VmHWM: the peak resident set; VmRSS: now):

1. `monitor serve` on a small generated database (tests/helpers.build plus BENCH_ITEMS items), after
   logging in and opening the queue, an item and the reports page ROUNDS times. Target: peak <= 150 MB.
2. `monitor run` with 200 sources on 20 local hosts (127.0.2.x; `allow_private_networks` on), ~15 items
   each: the first pass over all of them, then IDLE seconds with nothing due. Target: <= 250 MB (peak and
   steady are both printed; the issue measured 470 MB within seconds). Its parse helper processes count
   with it: the peak adds each helper's VmHWM (sampled; an upper bound), steady adds their VmRSS.
3. Start-up: seconds from launching the process to its first output line, median of RUNS fresh processes:
   `monitor classify --json` fed one JSONL line, and `monitor status`. Target: <= 1 s each.

Usage: python bench/bench_memory.py [--idle 30] [--runs 5] [--rounds 3] [--only serve,run,startup]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SERVE_TARGET_MB = 150
RUN_TARGET_MB = 250
STARTUP_TARGET_S = 1.0
SOURCES, HOSTS, ITEMS = 200, 20, 15
BENCH_ITEMS = 200
SECRET = "bench-memory-" + "k" * 40
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOPICS = ["bão lũ miền Trung", "giá xăng dầu", "tuyển sinh đại học", "dịch sốt xuất huyết", "giao thông Hà Nội",
          "chuyển đổi số Thanh Hóa", "nông sản Nghệ An", "thời tiết nắng nóng", "an toàn thực phẩm", "lừa đảo qua mạng"]


def memory_kb(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of a process, in kB."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmHWM:", "VmRSS:")):
                name, value = line.split(":", 1)
                fields[name] = int(value.split()[0])
    return fields


def helpers_kb(pid: int) -> dict[int, dict[str, int]]:
    """VmHWM and VmRSS of each descendant of a process (`monitor run`'s parse helpers), in kB."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    children.setdefault(int(stat.read().rsplit(b")", 1)[1].split()[1]), []).append(int(entry.name))
            except OSError:
                continue
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            try:
                found[child] = memory_kb(child)
            except OSError:
                continue
            todo.append(child)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}): {proc.stderr.read()[-800:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {timeout} s")


def monitor_process(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m monitor.cli ARGS` of this checkout, its output kept for an error message."""
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "MONITOR_SECRET_KEY": SECRET, **(env or {})})


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def small_database(path: Path) -> dict:
    """tests/helpers.build's users and items, and BENCH_ITEMS more flagged items for the queue to page."""
    import db
    from tests.helpers import build, make_item

    ids = build(path)
    database = db.connect(path)
    for n in range(BENCH_ITEMS):
        topic = TOPICS[n % len(TOPICS)]
        make_item(database, ids["sources"]["thanhhoa"], 100 + n, title=f"Tin đồn {n} về {topic}",
                  text=f"Bài {n}: chia sẻ gấp tin chưa kiểm chứng về {topic}. " * 8,
                  misinformation=0.5 + (n % 50) / 100)
    database.conn.close()
    return ids


def browse(base: str, ids: dict, rounds: int) -> None:
    """Log in as the admin and open the queue, two items and the reports page `rounds` times."""
    import httpx

    from tests.helpers import PASSWORD

    with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as client:
        token = CSRF.search(client.get("/login").text)
        answer = client.post("/login", data={"name": "adm", "password": PASSWORD,
                                             "csrf_token": token.group(1) if token else ""})
        if answer.status_code != 200 or "/login" in str(answer.url):
            raise SystemExit(f"login failed: {answer.status_code} {answer.url}")
        for _ in range(rounds):
            for path in ("/queue", f"/items/{ids['items']['high']}", f"/items/{ids['items']['mid']}", "/reports/"):
                page = client.get(path)
                if page.status_code != 200:
                    raise SystemExit(f"{path}: {page.status_code}")


def bench_serve(tmp: Path, rounds: int) -> dict[str, float]:
    """Peak and current RSS (MB) of `monitor serve`: after start, and after browsing."""
    path = tmp / "serve.db"
    ids = small_database(path)
    feeds = tmp / "serve.yaml"
    feeds.write_text("sources: []\n", encoding="utf-8")
    port = free_port()
    proc = monitor_process(["--db", str(path), "--feeds", str(feeds), "serve", "--port", str(port)])
    try:
        wait_for_port(port, proc)
        started = memory_kb(proc.pid)
        browse(f"http://127.0.0.1:{port}", ids, rounds)
        time.sleep(1)
        after = memory_kb(proc.pid)
    finally:
        stop(proc)
    return {"started": started["VmRSS"] / 1024, "peak": after["VmHWM"] / 1024, "steady": after["VmRSS"] / 1024}


def feed(host: int, number: int) -> bytes:
    """An RSS feed of ITEMS items of ~60 words each, different on every source."""
    items = []
    for i in range(ITEMS):
        topic = TOPICS[(host + number + i) % len(TOPICS)]
        body = (f"Bài số {i} của chuyên mục {number} trên báo {host} nói về {topic}; mã bài "
                f"{host * 10_000 + number * 100 + i}. ") + (f"Người dân quan tâm đến {topic} và chính quyền "
                                                             "địa phương đã có thông báo chính thức. ") * 4
        items.append(f"<item><title>Tin {host}-{number}-{i}: {topic}</title>"
                     f"<link>https://bao{host}.example.vn/tin/{number}/{i}.html</link>"
                     f"<guid>https://bao{host}.example.vn/tin/{number}/{i}.html</guid>"
                     f"<pubDate>Mon, 23 Nov 2026 0{i % 10}:00:00 +0700</pubDate>"
                     f"<description>{body}</description></item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Báo {host}</title>'
            + "".join(items) + "</channel></rss>").encode("utf-8")


def feed_servers() -> tuple[list, list[str]]:
    """SOURCES feeds on HOSTS local servers; the servers and the sources' lines of feeds.yaml."""
    from tests.servers import TestServer

    servers, lines = [], []
    for host in range(1, HOSTS + 1):
        server = TestServer(host=f"127.0.2.{host}").start()
        servers.append(server)
        for number in range(SOURCES // HOSTS):
            url = server.route(f"/rss/{number}.rss", feed(host, number), content_type="application/rss+xml",
                               etag=f'"{host}-{number}"')
            lines.append(f"  - {{name: s{host}-{number}, kind: rss, url: '{url}', language: vi, interval: 1h}}")
    return servers, lines


def crawled_sources(path: Path) -> tuple[int, int]:
    """(sources crawled to the end, items stored) so far, read without disturbing the writer."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        attempted = conn.execute("SELECT count(*) FROM sources WHERE last_success_at IS NOT NULL "
                                 "OR last_error_at IS NOT NULL").fetchone()[0]
        items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    return attempted, items


def bench_run(tmp: Path, idle: float) -> dict[str, float]:
    """Peak and steady RSS (MB) of `monitor run` with SOURCES sources: after the first pass, and after `idle` s."""
    path = tmp / "run.db"
    small_database(path)
    servers, lines = feed_servers()
    feeds = tmp / "run.yaml"
    feeds.write_text("\n".join(["settings:", "  allow_private_networks: true", "  host_delay: 0", "sources:",
                                *lines]) + "\n", encoding="utf-8")
    port = free_port()
    proc = monitor_process(["--db", str(path), "--feeds", str(feeds), "run", "--port", str(port)])
    samples: list[int] = []
    helper_peaks: dict[int, int] = {}  # the parse helpers (monitor.crawl.offload) count with the service

    def sample() -> int:
        helpers = helpers_kb(proc.pid)
        for child, memory in helpers.items():
            helper_peaks[child] = max(helper_peaks.get(child, 0), memory["VmHWM"])
        return memory_kb(proc.pid)["VmRSS"] + sum(memory["VmRSS"] for memory in helpers.values())

    try:
        wait_for_port(port, proc)
        started, deadline, previous = time.monotonic(), time.monotonic() + 600, (-1, -1)
        while time.monotonic() < deadline:  # until every source is done and the item count holds still
            samples.append(sample())
            now = crawled_sources(path)
            if now[0] >= SOURCES and now == previous:
                break
            previous = now
            time.sleep(0.5)
        first_pass = time.monotonic() - started
        attempted, items = crawled_sources(path)
        after_pass = memory_kb(proc.pid)
        idle_end = time.monotonic() + idle
        while time.monotonic() < idle_end:
            samples.append(sample())
            time.sleep(1)
        after_idle = memory_kb(proc.pid)
        idle_helpers = helpers_kb(proc.pid)
    finally:
        stop(proc)
        for server in servers:
            server.stop()
    helpers_peak = sum(helper_peaks.values())
    return {"first_pass_s": first_pass, "attempted": attempted, "items": items,
            "after_pass": after_pass["VmRSS"] / 1024, "peak": (after_idle["VmHWM"] + helpers_peak) / 1024,
            "helpers_peak": helpers_peak / 1024, "idle_helpers": len(idle_helpers),
            "steady": (after_idle["VmRSS"] + sum(m["VmRSS"] for m in idle_helpers.values())) / 1024,
            "max_sampled": max(samples) / 1024}


def status_first_line(path: Path) -> float:
    """Seconds from launching `monitor status` to its first output line."""
    started = time.perf_counter()
    proc = monitor_process(["--db", str(path), "status"])
    first = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.communicate()
    if proc.returncode != 0 or not first.strip():
        raise SystemExit(f"status failed ({proc.returncode})")
    return elapsed


def bench_startup(tmp: Path, runs: int) -> dict[str, float]:
    """Median seconds to the first line of `monitor classify` (one JSONL line) and `monitor status`."""
    from bench_classify_startup import LINE, first_line_seconds

    path = tmp / "status.db"
    small_database(path)
    first_line_seconds(ROOT, [LINE])  # warm the page cache: the figure is start-up, not a cold disk
    status_first_line(path)
    classify = [first_line_seconds(ROOT, [LINE])[0] for _ in range(runs)]
    status = [status_first_line(path) for _ in range(runs)]
    return {"classify": statistics.median(classify), "status": statistics.median(status),
            "classify_runs": classify, "status_runs": status}


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=30.0, help="seconds `monitor run` idles after the first pass")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per start-up figure")
    parser.add_argument("--rounds", type=int, default=3, help="times the pages are opened in `monitor serve`")
    parser.add_argument("--only", default="serve,run,startup", help="comma-separated: serve, run, startup")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        if "serve" in only:
            serve = bench_serve(Path(tmp), args.rounds)
            print(f"serve: {serve['started']:.0f} MB after start")
            print(f"FIGURE serve_peak_rss: {serve['peak']:.0f} MB, steady {serve['steady']:.0f} MB "
                  f"(target: <= {SERVE_TARGET_MB} MB; {verdict(serve['peak'], SERVE_TARGET_MB)})")
        if "run" in only:
            run = bench_run(Path(tmp), args.idle)
            print(f"run: first pass {run['attempted']} of {SOURCES} sources done, {run['items']} items in the "
                  f"database, {run['first_pass_s']:.1f} s; {run['after_pass']:.0f} MB right after it; "
                  f"highest sample {run['max_sampled']:.0f} MB (with its helpers); helpers' peaks"
                  f" {run['helpers_peak']:.0f} MB, {run['idle_helpers']} helper(s) left when idle")
            print(f"FIGURE run_200_sources_peak_rss: {run['peak']:.0f} MB (target: <= {RUN_TARGET_MB} MB; "
                  f"{verdict(run['peak'], RUN_TARGET_MB)})")
            print(f"FIGURE run_200_sources_idle_rss: {run['steady']:.0f} MB after {args.idle:.0f} s idle "
                  f"(target: <= {RUN_TARGET_MB} MB; {verdict(run['steady'], RUN_TARGET_MB)})")
        if "startup" in only:
            start = bench_startup(Path(tmp), args.runs)
            print("start-up runs (s): classify " + ", ".join(f"{x:.2f}" for x in start["classify_runs"])
                  + "; status " + ", ".join(f"{x:.2f}" for x in start["status_runs"]))
            for name in ("classify", "status"):
                print(f"FIGURE {name}_first_line: {start[name]:.2f} s, median of {args.runs} (target: <= "
                      f"{STARTUP_TARGET_S:g} s; {verdict(start[name], STARTUP_TARGET_S)})")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
