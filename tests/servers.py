"""Local HTTP servers for tests: recorded real feeds and hostile behaviour, on 127.0.0.1 only.

Usage:

    with TestServer() as server:
        server.route("/feed.xml", body=path.read_bytes(), headers={"Content-Type": "application/rss+xml"})
        server.route("/slow", handler=slow_drip(b"x" * 100, delay=0.2))
        fetch(server.url("/feed.xml"))

A route is (status, headers, body) or a callable `handler(request) -> Response | None` that may
also write to `request.wfile` itself (for slow drips and torn connections). Every request is
logged in `server.requests` (path, headers), so tests can assert conditional GETs were sent.
Conditional GET is built in: a route with `etag=` / `last_modified=` answers 304 when the
client presents them.

Recorded real responses come from the shared corpus (`REALWORLD / ...`, located by tests/corpus.py);
tests that serve them are marked `corpus`.
"""

from __future__ import annotations

import gzip
import http.server
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.corpus import REALWORLD, SHARED  # noqa: F401 - kept importable from here for existing tests


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    handler: Callable | None = None
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0


@dataclass
class RequestLog:
    method: str
    path: str
    headers: dict[str, str]
    host: str
    body: bytes = b""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - silence stderr noise in tests
        pass

    def do_GET(self):  # noqa: N802
        owner = self.server.owner
        path = self.path
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner.requests.append(RequestLog("GET", path, headers, self.server.server_address[0]))
        route = owner.find(path, self.server.server_address[0])
        if route is None:
            self._send(Response(404, {"Content-Type": "text/html"}, b"<html><body><h1>404 Not Found</h1></body></html>"))
            return
        if route.delay:
            time.sleep(route.delay)
        if route.handler is not None:
            response = route.handler(self)
            if response is not None:
                self._send(response)
            return
        if (route.etag and headers.get("if-none-match") == route.etag) or (
                route.last_modified and headers.get("if-modified-since") == route.last_modified):
            self._send(Response(304, {"ETag": route.etag or "", "Last-Modified": route.last_modified or ""}, b""))
            return
        extra = dict(route.headers)
        if route.etag:
            extra["ETag"] = route.etag
        if route.last_modified:
            extra["Last-Modified"] = route.last_modified
        self._send(Response(route.status, extra, route.body))

    def do_POST(self):  # noqa: N802 - a webhook or a Telegram-Bot-API-shaped call: the body is kept in the log
        owner = self.server.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = self.posted = self.rfile.read(int(headers.get("content-length") or 0))
        owner.requests.append(RequestLog("POST", self.path, headers, self.server.server_address[0], body))
        route = owner.find(self.path, self.server.server_address[0])
        if route is None:
            self._send(Response(404, {"Content-Type": "text/plain"}, b"not found"))
        elif route.handler is not None:
            response = route.handler(self)
            if response is not None:
                self._send(response)
        else:
            self._send(Response(route.status, dict(route.headers), route.body))

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            names = {k.lower() for k in response.headers}
            for key, value in response.headers.items():
                if value != "":
                    self.send_header(key, value)
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.body and self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: TestServer

    def handle_error(self, request, client_address) -> None:
        # Clients hanging up mid-response is what hostile tests do on purpose.
        pass


class TestServer:
    """A threaded HTTP server on a loopback address with a route table; a context manager.

    `host` may be any 127.x.y.z address (Linux routes all of 127.0.0.0/8 to loopback), which is
    how benchmarks simulate many distinct hosts. `routes_by_host` lets one route table serve a
    path differently per address when several servers share it.
    """

    __test__ = False  # not a pytest class

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        if not host.startswith("127."):
            raise ValueError("test servers listen on loopback addresses only")
        self.host = host
        self._requested_port = port
        self.routes: dict[str, Route] = {}
        self.requests: list[RequestLog] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- routes -------------------------------------------------------------------------------
    def route(self, path: str, body: bytes | str = b"", *, status: int = 200, headers: dict | None = None,
              handler: Callable | None = None, etag: str | None = None, last_modified: str | None = None,
              delay: float = 0.0, content_type: str | None = None) -> str:
        """Add or replace a route; returns its full URL."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = dict(headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        self.routes[path] = Route(status, headers, body, handler, etag, last_modified, delay)
        return self.url(path)

    def serve_file(self, path: str, file: Path, content_type: str = "application/rss+xml", **kwargs) -> str:
        return self.route(path, file.read_bytes(), content_type=content_type, **kwargs)

    def find(self, path: str, host: str) -> Route | None:
        route = self.routes.get(path)
        if route is None and "?" in path:
            route = self.routes.get(path.split("?", 1)[0])
        return route

    def requests_to(self, path: str) -> list[RequestLog]:
        return [r for r in self.requests if r.path == path]

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> TestServer:
        self._server = _Server((self.host, self._requested_port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- Hostile handlers -----------------------------------------------------------------------------

def slow_drip(body: bytes, delay: float, chunk: int = 1, content_type: str = "application/rss+xml") -> Callable:
    """Send the body a few bytes at a time with a pause between: each read succeeds, the whole never ends."""

    def handler(request: _Handler) -> None:
        try:
            request.send_response(200)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            for start in range(0, len(body), chunk):
                request.wfile.write(body[start:start + chunk])
                request.wfile.flush()
                time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            pass
        request.close_connection = True

    return handler


def endless(chunk: bytes = b"A" * 65536, content_type: str = "application/rss+xml") -> Callable:
    """A chunked body that never ends (until the client hangs up): a huge body without Content-Length."""

    def handler(request: _Handler) -> None:
        try:
            request.send_response(200)
            request.send_header("Content-Type", content_type)
            request.send_header("Transfer-Encoding", "chunked")
            request.end_headers()
            for _ in range(100_000):
                request.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        request.close_connection = True

    return handler


def gzip_bomb(decompressed_size: int = 200 * 1024 * 1024) -> bytes:
    """A small gzip body that inflates to `decompressed_size` bytes of zeros."""
    compressor_input = b"\0" * (1024 * 1024)
    out = bytearray()
    with gzip.GzipFile(fileobj=_Sink(out), mode="wb", compresslevel=9) as stream:
        for _ in range(decompressed_size // len(compressor_input)):
            stream.write(compressor_input)
    return bytes(out)


class _Sink:
    def __init__(self, out: bytearray):
        self.out = out

    def write(self, data: bytes) -> int:
        self.out.extend(data)
        return len(data)

    def flush(self) -> None:
        pass


def redirect(location: str, status: int = 302) -> Route:
    return Route(status=status, headers={"Location": location})


ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>http://example.com/bomb</link><description>&lol9;</description></item>
</channel></rss>
"""
