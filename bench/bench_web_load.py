"""20 concurrent moderators for 2 minutes against a real server on 127.0.0.1.

The app runs under waitress in its own process on the 1M-item bench database; each simulated
moderator logs in, loads the queue, picks one of the top rows (so moderators collide on purpose)
and decides it with the page's CSRF token and version. Afterwards the database must account for
every decision exactly: one row per 303 answer, none for a 409, each item's version advanced by
its number of decisions, and the hash chain intact. Env: BENCH_WEB_LOAD_SECONDS (default 120),
BENCH_WEB_LOAD_USERS (default 20).
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from bench_web_data import PASSWORD, ensure_db  # noqa: E402

import db  # noqa: E402
from db.decisions import verify_chain  # noqa: E402

SECONDS = float(os.environ.get("BENCH_WEB_LOAD_SECONDS", "120"))
USERS = int(os.environ.get("BENCH_WEB_LOAD_USERS", "20"))
ROW = re.compile(r'data-item-id="(\d+)" data-version="(\d+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SERVER = """
import logging
import sys
sys.path.insert(0, {root!r})
logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" is expected under load
from waitress import serve
from web import create_app
app = create_app({{"DATABASE": {db!r}, "SECRET_KEY": "load", "RATELIMIT_LOGIN": "1000 per minute"}})
serve(app, host="127.0.0.1", port={port}, threads=8, connection_limit=200, channel_timeout=30, _quiet=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Moderator(threading.Thread):
    def __init__(self, index: int, base: str, deadline: float, results: Counter, accepted: list, lock):
        super().__init__(daemon=True)
        self.name_ = f"mod{index:02d}"
        self.base, self.deadline, self.results, self.accepted, self.lock = base, deadline, results, accepted, lock
        self.rng = random.Random(index)
        self.latencies: list[float] = []

    def count(self, key: str) -> None:
        with self.lock:
            self.results[key] += 1

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30, follow_redirects=False) as client:
            page = client.get("/login").text
            token = CSRF.search(page).group(1)
            response = client.post("/login", data={"name": self.name_, "password": PASSWORD, "csrf_token": token})
            if response.status_code != 302:
                self.count(f"login {response.status_code}")
                return
            actions = ["confirm_misinformation", "confirm_harm", "dismiss"]
            while time.monotonic() < self.deadline:
                try:
                    started = time.perf_counter()
                    queue = client.get("/queue")
                    self.latencies.append(time.perf_counter() - started)
                    if queue.status_code >= 500:
                        self.count(f"queue {queue.status_code}")
                        continue
                    rows = ROW.findall(queue.text)
                    token = CSRF.search(queue.text).group(1)
                    item_id, version = self.rng.choice(rows[:8])
                    started = time.perf_counter()
                    answer = client.post(f"/items/{item_id}/decide", data={
                        "action": self.rng.choice(actions), "version": version, "note": "",
                        "csrf_token": token, "next": "/queue"})
                    self.latencies.append(time.perf_counter() - started)
                    self.count(f"decide {answer.status_code}")
                    if answer.status_code == 303:
                        with self.lock:
                            self.accepted.append((int(item_id), self.name_))
                except httpx.HTTPError as exc:
                    self.count(f"error {type(exc).__name__}")


def main() -> int:
    path = ensure_db()
    database = db.connect(path)
    first_decision = database.conn.execute("SELECT COALESCE(MAX(id), 0) FROM decisions").fetchone()[0]
    database.conn.close()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT), db=str(path), port=port)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        results: Counter = Counter()
        accepted: list[tuple[int, str]] = []
        lock = threading.Lock()
        deadline = time.monotonic() + SECONDS
        moderators = [Moderator(i, base, deadline, results, accepted, lock) for i in range(USERS)]
        for m in moderators:
            m.start()
        for m in moderators:
            m.join(SECONDS + 60)
    finally:
        server.terminate()
        server.wait(10)

    database = db.connect(path)
    rows = database.conn.execute(
        "SELECT decisions.item_id, users.name FROM decisions JOIN users ON users.id = decisions.user_id"
        " WHERE decisions.id > ? ORDER BY decisions.id", (first_decision,)).fetchall()
    per_item = Counter(item for item, _ in rows)
    mismatched_versions = 0
    for item_id, _n in per_item.items():
        total = database.conn.execute("SELECT COUNT(*) FROM decisions WHERE item_id = ?", (item_id,)).fetchone()[0]
        version = database.conn.execute("SELECT version FROM items WHERE id = ?", (item_id,)).fetchone()[0]
        if version - 1 != total:
            mismatched_versions += 1
    chain = verify_chain(database)
    database.conn.close()

    server_errors = sum(v for k, v in results.items() if k.split()[-1].startswith("5") or k.startswith("error"))
    lost = Counter(accepted) - Counter(rows)
    double = Counter(rows) - Counter(accepted)
    latencies = sorted(x for m in moderators for x in m.latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000 if latencies else float("nan")
    print(f"  responses: {dict(results)}", file=sys.stderr)
    print(f"FIGURE web load {USERS} moderators x {SECONDS:.0f}s server errors: {server_errors} (target: 0)")
    print(f"FIGURE web load decisions accepted/recorded: {len(accepted)}/{len(rows)}, lost {sum(lost.values())}, "
          f"double {sum(double.values())}, version mismatches {mismatched_versions}, conflicts (409) "
          f"{results.get('decide 409', 0)}, chain problems {len(chain)} (target: 0 lost, 0 double)")
    print(f"FIGURE web load request p95 under load: {p95:.0f} ms over {len(latencies)} requests "
          f"({len(latencies) / SECONDS:.0f} req/s) (target: no errors)")
    ok = server_errors == 0 and not lost and not double and not mismatched_versions and not chain
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
