"""`monitor demo`: the main job against sample feeds served on 127.0.0.1, for a machine with no internet.

The sample posts in monitor/demo_data/ were written for this project (fictional, in Vietnamese,
English and French); nothing here is copied from the shared datasets.
"""

from __future__ import annotations

import argparse
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import db
from db.users import add_user, find_user
from monitor.domain import Role

DEMO_USERS = (("demo-admin", Role.ADMIN.value), ("demo-mod", Role.MODERATOR.value), ("demo-analyst", Role.ANALYST.value))
DEMO_PASSWORD = "demo-password"
FEEDS = (
    ("Tin địa phương (demo)", "tin-dia-phuong.rss", "vi", ["demo", "provincial"]),
    ("World desk (demo)", "world-news.atom", "en", ["demo", "english"]),
    ("Actualités (démo)", "actualites.rss", "fr", ["demo", "french"]),
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature fixed by http.server
        pass


def serve_demo_feeds(port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Serve the bundled sample feeds on 127.0.0.1; return the server and its base URL."""
    from monitor.service import listen_error

    folder = str(resources.files("monitor") / "demo_data")
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), partial(_QuietHandler, directory=folder))
    except OSError as exc:
        raise listen_error("127.0.0.1", port, exc) from None
    threading.Thread(target=server.serve_forever, name="demo-feeds", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def write_demo_feeds(path: Path, base_url: str) -> Path:
    """The demo's feeds file. Private networks stay refused: only the feed server's own address and
    port is allowed, so the report-a-link form cannot be used to read other local or intranet pages."""
    endpoint = urlsplit(base_url).netloc
    lines = ["# Written by `monitor demo`: the bundled sample feeds served on 127.0.0.1.",
             "settings:", f"  private_allowlist: [\"{endpoint}\"]", "  host_delay: 0", "sources:"]
    for name, filename, language, tags in FEEDS:
        lines += [f"  - name: \"{name}\"", "    kind: rss", f"    url: {base_url}/{filename}",
                  f"    language: {language}", "    interval: 30s", f"    tags: [{', '.join(tags)}]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prepare_demo(home: Path, base_url: str) -> tuple[Path, Path]:
    """Demo database with one user per role, and a feeds file pointing at the local server."""
    home.mkdir(parents=True, exist_ok=True)
    db_path = home / "demo.db"
    database = db.connect(db_path)
    for name, role in DEMO_USERS:
        if not find_user(database, name):
            add_user(database, name, DEMO_PASSWORD, role)
    database.conn.close()
    return db_path, write_demo_feeds(home / "feeds.demo.yaml", base_url)


def run_demo(args: argparse.Namespace) -> int:
    """Check the web port, serve the feeds, crawl once, then run the main job on the demo database."""
    from monitor.service import ServiceError, check_port

    try:
        check_port(args.host, args.port)  # before anything slow: a taken port would only fail after the crawl
        server, base_url = serve_demo_feeds(args.feed_port)
    except ServiceError as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return 2
    try:
        return _crawl_and_serve(args, server, base_url)
    finally:
        server.shutdown()


def _crawl_and_serve(args: argparse.Namespace, server: ThreadingHTTPServer, base_url: str) -> int:
    from monitor import service
    from monitor.cli import default_data_dir
    from monitor.config import load
    from monitor.crawl.crawler import crawl_sources
    from monitor.scoring import load_scorer

    db_path, feeds_path = prepare_demo(default_data_dir() / "demo", base_url)
    # One pass now, so the queue is full before the browser opens.
    database = db.connect(db_path)
    results = crawl_sources(database, load(feeds_path), load_scorer())
    database.conn.close()
    print(f"Sample feeds served at {base_url}; first crawl stored {sum(r.new for r in results)} new items.")
    print(f"Demo database: {db_path}")
    print("Users (password '" + DEMO_PASSWORD + "'): " + ", ".join(f"{name} ({role})" for name, role in DEMO_USERS))
    print(f"Open http://{args.host}:{args.port}/ and log in. Press Ctrl+C to stop.")
    return service.run(str(db_path), str(feeds_path), args.host, args.port, start_scheduler=True)
