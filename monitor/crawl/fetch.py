"""All network policy in one place: timeouts, deadline, body cap, redirects, SSRF guard, pacing, robots.txt.

Sources run unattended for weeks against servers of every quality, so a fetch must
always end (connect/read timeouts plus an overall deadline), never hold more than a
bounded amount of memory (the cap is applied to the *decompressed* body, which is what
a gzip bomb inflates), never be steered into the internal network (every address is
checked, on every redirect hop and again at connect time), and never hammer one host
(a minimum delay between requests and a cap on concurrent requests per host).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from monitor.config import Settings
from monitor.crawl.response import FetchError, FetchResult, cache_seconds  # noqa: F401 - re-exported

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
MAX_RETRY_AFTER = 6 * 3600
ROBOTS_MAX_BYTES = 512 * 1024
ROBOTS_TTL = 3600.0
_CHUNK = 64 * 1024


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - time.time()
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


# --- SSRF guard -------------------------------------------------------------------------

def _parse_networks(values) -> list[ipaddress._BaseNetwork]:
    networks = []
    for value in values or ():
        if _is_endpoint(str(value)):
            continue
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"private_allowlist: {exc} (expected a network such as 10.20.0.0/16,"
                             " an address, or address:port such as 127.0.0.1:8765 or [::1]:8080)") from None
    return networks


def _is_endpoint(value: str) -> bool:
    """"127.0.0.1:8765" and "[::1]:8080" name one endpoint; a bare IPv6 address has more than one colon."""
    value = value.strip()
    return value.startswith("[") or value.count(":") == 1


def _parse_endpoints(values) -> set[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    """The allow-list entries that name an address and a port: only that port of that address is allowed."""
    endpoints = set()
    for value in values or ():
        text = str(value).strip()
        if not _is_endpoint(text):
            continue
        host, _, port = text.rpartition(":")
        try:
            address = _plain_ip(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
            number = int(port)
            if address is None or not 0 < number < 65536:
                raise ValueError
        except ValueError:
            raise ValueError(f"private_allowlist: {text!r} is not address:port (an IP address and a port"
                             " from 1 to 65535, such as 127.0.0.1:8765 or [::1]:8080)") from None
        endpoints.add((address, number))
    return endpoints


def _plain_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address as an ipaddress object (zone dropped, IPv4-mapped IPv6 unwrapped), or None if it is not one."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return None
    return getattr(ip, "ipv4_mapped", None) or ip


# Ranges of the IANA special-purpose address registries that are not globally reachable but that
# ipaddress before Python 3.11.10 / 3.12.4 (gh-113171) still calls global, plus fec0::/10 (deprecated
# site-local, still routed inside some networks). 6to4 (2002::/16) is refused whole, as newer Pythons
# do: no feed is reachable only through a 6to4 relay (a non-global IPv4 inside is named in the refusal).
_NOT_GLOBAL = tuple(ipaddress.ip_network(net) for net in (
    "192.0.0.0/24", "fec0::/10", "2002::/16", "64:ff9b:1::/48", "3fff::/20", "5f00::/16"))
# NAT64's well-known prefix (RFC 6052): the IPv4 address in the last 32 bits is the real destination,
# so it is judged by that address (an IPv6-only host with DNS64 reaches every IPv4 site this way).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries and a relay would deliver to: 6to4, Teredo server and
    client, NAT64. (IPv4-mapped addresses are unwrapped before this.)"""
    if ip.version != 6:
        return []
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    return []


def _range_label(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address (without the embedded ones) is not globally routable, or None if it is."""
    for label, test in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                        ("private", ip.is_private), ("multicast", ip.is_multicast),
                        ("reserved", ip.is_reserved), ("unspecified", ip.is_unspecified),
                        ("site-local", getattr(ip, "is_site_local", False))):
        if test:
            return label
    if not ip.is_global or any(ip in net for net in _NOT_GLOBAL if net.version == ip.version):
        return "non-global"
    return None


def _range_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, given: str) -> str | None:
    """Why an address may not be fetched from unless private networks are allowed, or None.

    Every address must be globally routable, and so must every IPv4 address embedded in it: a
    6to4 or Teredo address of 127.0.0.1, or a NAT64 address of 169.254.169.254, reaches the
    internal network through a relay as surely as the plain address would.
    """
    embedded = _embedded_ipv4(ip)
    for inner in embedded:
        label = _range_label(inner)
        if label:
            return (f"refused to connect to {label} address {inner} embedded in {given}"
                    " (private networks are not allowed)")
    label = None if ip in _NAT64 else _range_label(ip)  # NAT64 is judged by the IPv4 it carries
    if label:
        spelled = f" (as {given})" if ip.version == 4 and ":" in given else ""
        return f"refused to connect to {label} address {ip}{spelled} (private networks are not allowed)"
    return None


def parse_allowlist(values) -> tuple[list[ipaddress._BaseNetwork],
                                     set[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]]:
    """`settings.private_allowlist` as (networks, address:port endpoints); ValueError naming a bad entry.

    The one parser of the list: AddressPolicy uses it at fetch time and monitor.config when the file is
    loaded, so a bad entry is a configuration error instead of a failure of every later fetch.
    """
    return _parse_networks(values), _parse_endpoints(values)


class AddressPolicy:
    """Which IP addresses we may connect to: public ones, plus private ones only when allowed.

    `allowlist` names specific private networks that are fine even when private networks are
    refused (an intranet feed server; in tests, the local test server's own address). An entry
    with a port ("127.0.0.1:8765", "[::1]:8080") allows that one endpoint only: `monitor demo`'s
    feed server, without opening every other service on the machine.
    """

    def __init__(self, allow_private: bool, allowlist=()):
        self.allow_private = allow_private
        self.allowlist, self.endpoints = parse_allowlist(allowlist)

    def refusal_at(self, address: str, port: int) -> str | None:
        """None if a connection to this address and port may be made, else why not."""
        ip = _plain_ip(address)
        if ip is not None and (ip, port) in self.endpoints:
            return None
        return self.refusal(address)

    def refusal(self, address: str) -> str | None:
        """None if the address may be used, else why not."""
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return f"not an IP address: {address}"
        if getattr(ip, "ipv4_mapped", None):
            ip = ip.ipv4_mapped
        if self.allow_private or any(ip in net for net in self.allowlist if net.version == ip.version):
            return None
        return _range_refusal(ip, address)

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve a host and check every address it resolves to; raise FetchError if any is refused."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError(f"cannot resolve host {host}: {exc}") from None
        addresses = []
        for info in infos:
            address = info[4][0]
            reason = self.refusal_at(address, port)
            if reason:
                raise FetchError(f"{reason} for host {host}")
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise FetchError(f"cannot resolve host {host}: no addresses")
        return addresses


_policed = threading.local()
_install_lock = threading.Lock()
_urllib3_connect: Any = None  # urllib3's own create_connection, once connections_checked has wrapped it


def _checked_connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    """urllib3's create_connection, to the addresses this thread's policy allows (connections_checked):
    the host is resolved and checked once, and the connection made to the checked address itself, so no
    second look-up can answer otherwise. TLS still names and verifies the host (urllib3 passes it apart)."""
    policy = getattr(_policed, "policy", None)
    if policy is None:
        return _urllib3_connect(address, *args, **kwargs)
    host, port = address
    try:
        addresses = policy.resolve(host.strip("[]"), port)
    except FetchError as exc:
        raise socket.gaierror(exc.reason) from None  # urllib3: a name that does not resolve
    last_error: OSError | None = None
    for ip in addresses:
        try:
            return _urllib3_connect((ip, port), *args, **kwargs)
        except OSError as exc:
            last_error = exc
    raise last_error or OSError(f"cannot connect to {host}")


@contextlib.contextmanager
def connections_checked(policy: AddressPolicy) -> Iterator[None]:
    """Connections this thread opens through urllib3 meanwhile (Apprise's, through requests) go only to
    addresses `policy` allows, checked when the connection is made. Checking a host beforehand leaves a
    gap: the library resolves it again, and a name that answered a public address to the check can answer
    127.0.0.1 to the connection (DNS rebinding). The crawler's own client checks at connect time through
    _GuardedBackend. Other threads connect as before. Through a proxy the connection is the proxy's, which
    resolves the host itself: the caller leaves such sends out (see monitor.alerts.send.deliver)."""
    global _urllib3_connect
    import urllib3.util.connection as urllib3_connection

    with _install_lock:
        if _urllib3_connect is None:  # installed once: a later wrapper of ours must not become "urllib3's own"
            _urllib3_connect = urllib3_connection.create_connection
            urllib3_connection.create_connection = _checked_connect
    saved = getattr(_policed, "policy", None)
    _policed.policy = policy
    try:
        yield
    finally:
        _policed.policy = saved


class _GuardedBackend(httpcore.SyncBackend):
    """Checks the address at connect time, so DNS rebinding between check and connect cannot slip through."""

    def __init__(self, policy: AddressPolicy):
        super().__init__()
        self.policy = policy

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last_error: Exception | None = None
        for address in self.policy.resolve(host, port):
            try:
                return super().connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                           socket_options=socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"cannot connect to {host}")


# --- Per-host pacing ----------------------------------------------------------------------

class HostPacer:
    """A minimum delay between request starts to one host and a cap on concurrent requests to it."""

    def __init__(self, delay: float, concurrency: int):
        self.delay = max(0.0, delay)
        self.concurrency = max(1, concurrency)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next: dict[str, float] = {}
        self._held: dict[str, float] = {}

    def _semaphore(self, host: str) -> threading.Semaphore:
        with self._lock:
            if host not in self._slots:
                self._slots[host] = threading.BoundedSemaphore(self.concurrency)
            return self._slots[host]

    def acquire(self, host: str, deadline: float) -> None:
        semaphore = self._semaphore(host)
        if not semaphore.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise FetchError(f"deadline exceeded waiting for a free connection to {host}")
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, 0.0))
            self._next[host] = start + self.delay
        wait = start - now
        if wait > 0:
            if start > deadline:
                semaphore.release()
                held = self._held.get(host)
                if held and held >= start - self.delay:
                    raise FetchError(f"host {host} asked us to wait (Retry-After) until"
                                     f" {wait:.0f}s from now; not fetched in this pass")
                raise FetchError(f"deadline exceeded waiting for pacing slot on {host}")
            time.sleep(wait)

    def release(self, host: str) -> None:
        self._semaphore(host).release()

    def hold_off(self, host: str, seconds: float) -> None:
        """After a 429/503 with Retry-After: no request to the host before then."""
        with self._lock:
            until = time.monotonic() + seconds
            self._held[host] = until
            self._next[host] = max(self._next.get(host, 0.0), until)


# --- Decoding ------------------------------------------------------------------------------

class _Decoder:
    """Content-Encoding decoding with a cap on output, so a gzip bomb stops at the cap."""

    def __init__(self, encoding: str, cap: int, url: str):
        self.cap = cap
        self.url = url
        encodings = [e.strip().lower() for e in encoding.split(",") if e.strip() and e.strip().lower() != "identity"]
        if len(encodings) > 1 or any(e not in ("gzip", "x-gzip", "deflate") for e in encodings):
            raise FetchError(f"unsupported content-encoding '{encoding}' from {url}")
        self.kind = encodings[0] if encodings else None
        self.total = 0
        self.parts: list[bytes] = []
        self._z = None
        if self.kind in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.kind == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
        self._first = True

    def _add(self, data: bytes) -> None:
        self.total += len(data)
        if self.total > self.cap:
            raise FetchError(f"body larger than {self.cap} bytes (after decompression) from {self.url}")
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self._z is None:
            self._add(chunk)
            return
        if self.kind == "deflate" and self._first:
            # Servers send both zlib-wrapped and raw deflate under the one name.
            self._first = False
            try:
                zlib.decompressobj(zlib.MAX_WBITS).decompress(chunk[:2])
            except zlib.error:
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        data = chunk
        try:
            while data:
                out = self._z.decompress(data, self.cap - self.total + 1)
                self._add(out)
                data = self._z.unconsumed_tail
        except zlib.error as exc:
            raise FetchError(f"corrupt {self.kind} body from {self.url}: {exc}") from None

    def finish(self) -> bytes:
        if self._z is not None:
            try:
                self._add(self._z.flush())
            except zlib.error as exc:
                raise FetchError(f"corrupt {self.kind} body from {self.url}: {exc}") from None
        return b"".join(self.parts)


# --- The fetcher ---------------------------------------------------------------------------

class Fetcher:
    """One shared HTTP client for a crawl pass; thread-safe, so workers share pacing and robots caches."""

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None,
                 pacer: HostPacer | None = None):
        """`pacer`: the per-host politeness to use instead of this process's own HostPacer (a `monitor worker`
        on PostgreSQL shares it with every other worker: monitor.distributed.politeness); closed with the fetcher."""
        self.settings = settings
        self.policy = AddressPolicy(settings.allow_private_networks, getattr(settings, "private_allowlist", ()))
        self.pacer = pacer or HostPacer(settings.host_delay, settings.host_concurrency)
        self.user_agent = f"{settings.user_agent} (+{settings.contact_url})" if settings.contact_url \
            else settings.user_agent
        timeout = httpx.Timeout(connect=settings.connect_timeout, read=settings.read_timeout,
                                write=settings.read_timeout, pool=settings.deadline)
        if transport is None:
            transport = httpx.HTTPTransport(proxy=settings.proxy or None, retries=0)
            pool = getattr(transport, "_pool", None)
            if not settings.proxy and pool is not None and hasattr(pool, "_network_backend"):
                # With a proxy the socket goes to the proxy (often on a private network);
                # then the pre-request DNS check is the guard.
                pool._network_backend = _GuardedBackend(self.policy)
        workers = max(4, settings.workers * 2)
        self.client = httpx.Client(
            transport=transport, timeout=timeout, follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers),
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"})
        self._robots: dict[str, tuple[float, RobotFileParser | None]] = {}
        self._robots_lock = threading.Lock()

    def close(self) -> None:
        self.client.close()
        close_pacer = getattr(self.pacer, "close", None)  # a shared pacer's database connection
        if close_pacer is not None:
            close_pacer()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_url(self, url: str) -> tuple[str, int]:
        """Scheme and address checks for one URL; returns (host, port)."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchError(f"bad URL {url!r}: {exc}", url=url) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"refused URL {url!r}: only http(s) URLs with a host are fetched", url=url)
        try:
            self.policy.resolve(parts.hostname, port)
        except FetchError as exc:
            if self.settings.proxy and exc.reason.startswith("cannot resolve host"):
                # Behind a proxy the proxy resolves names; a name we cannot resolve locally is its job.
                return parts.hostname.lower(), port
            raise FetchError(f"{exc.reason} ({url})", url=url) from None
        return parts.hostname.lower(), port

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
              accept: str | None = None, max_bytes: int | None = None, deadline: float | None = None,
              check_robots: bool = False) -> FetchResult:
        """GET a URL under every limit; 2xx and 304 return, anything else raises FetchError."""
        started = time.monotonic()
        end = started + (deadline if deadline is not None else self.settings.deadline)
        cap = max_bytes or self.settings.max_body_bytes
        headers = {"Accept": accept or "*/*"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        hops: list[str] = []
        while True:
            host, _ = self.check_url(current)
            if check_robots and not self.robots_allowed(current):
                raise FetchError(f"disallowed by robots.txt: {current}", url=current)
            status, response_headers, body = self._one_request(current, host, headers, cap, end)
            if status in REDIRECT_STATUSES:
                location = response_headers.get("location")
                if not location:
                    raise FetchError(f"HTTP {status} redirect without Location from {current}", status=status,
                                     url=current)
                hops.append(current)
                if len(hops) > self.settings.max_redirects:
                    raise FetchError(f"too many redirects (more than {self.settings.max_redirects}) from {url}",
                                     status=status, url=url)
                following = urljoin(current, location.strip())
                if following in hops:
                    raise FetchError(f"redirect loop at {following} (from {url})", status=status, url=url)
                current = following
                continue
            elapsed = time.monotonic() - started
            if status == 304:
                return FetchResult(url, current, status, response_headers, b"", elapsed, True, hops)
            if 200 <= status < 300:
                return FetchResult(url, current, status, response_headers, body, elapsed, False, hops)
            retry_after = parse_retry_after(response_headers.get("retry-after")) if status in (429, 503) else None
            if retry_after is not None:
                self.pacer.hold_off(host, retry_after)
            reason = f"HTTP {status} from {current}"
            if status == 429:
                reason += " (rate limited" + (f"; retry after {retry_after:.0f}s)" if retry_after is not None
                                              else ")")
            raise FetchError(reason, status=status, url=current, retry_after=retry_after)

    def _one_request(self, url: str, host: str, headers: dict, cap: int, end: float):
        self.pacer.acquire(host, end)
        try:
            try:
                request = self.client.build_request("GET", url, headers=headers)
            except httpx.InvalidURL as exc:  # not an httpx.HTTPError: a control character, a bad host...
                raise FetchError(f"bad URL {url!r}: {_describe(exc)}", url=url) from None
            try:
                response = self.client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise FetchError(f"timeout ({type(exc).__name__}) fetching {url}", url=url) from None
            except httpx.HTTPError as exc:
                raise FetchError(f"cannot fetch {url}: {_describe(exc)}", url=url) from None
            except httpx.InvalidURL as exc:
                # httpx works out a redirect's next request even when not following it, and a Location
                # such as `http:foo` fails there.
                raise FetchError(f"invalid redirect Location from {url!r}: {_describe(exc)}", url=url) from None
            except FetchError as exc:  # raised by the guarded backend at connect time
                raise FetchError(f"{exc.reason} ({url})", url=url) from None
            try:
                status = response.status_code
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                if status in REDIRECT_STATUSES or status == 304 or status >= 400:
                    return status, response_headers, b""
                length = response_headers.get("content-length", "")
                if length.isdigit() and "content-encoding" not in response_headers and int(length) > cap:
                    raise FetchError(f"body larger than {cap} bytes (Content-Length {length}) from {url}",
                                     status=status, url=url)
                decoder = _Decoder(response_headers.get("content-encoding", ""), cap, url)
                try:
                    for chunk in response.iter_raw():
                        if time.monotonic() > end:
                            raise FetchError(f"deadline of {self.settings.deadline:g}s exceeded reading {url}",
                                             status=status, url=url)
                        decoder.feed(chunk)
                except httpx.TimeoutException as exc:
                    raise FetchError(f"timeout ({type(exc).__name__}) reading {url}", status=status,
                                     url=url) from None
                except httpx.HTTPError as exc:
                    raise FetchError(f"error reading {url}: {_describe(exc)}", status=status, url=url) from None
                if time.monotonic() > end:
                    raise FetchError(f"deadline of {self.settings.deadline:g}s exceeded reading {url}",
                                     status=status, url=url)
                return status, response_headers, decoder.finish()
            finally:
                response.close()
        finally:
            self.pacer.release(host)

    # --- robots.txt --------------------------------------------------------------------------

    def robots_allowed(self, url: str) -> bool:
        """robots.txt verdict for our User-Agent; unreachable or missing robots.txt allows."""
        if not self.settings.respect_robots:
            return True
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            cached = self._robots.get(origin)
        if cached is None or cached[0] < time.monotonic():
            parser: RobotFileParser | None = None
            try:
                result = self.fetch(origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES,
                                    deadline=min(self.settings.deadline, 15.0))
                parser = RobotFileParser()
                parser.parse(result.body.decode("utf-8", "replace").splitlines())
            except FetchError as exc:
                if exc.status in (401, 403):
                    parser = RobotFileParser()
                    parser.disallow_all = True
                # 404, 5xx, timeouts: treat as no robots.txt (what major crawlers do for 4xx).
            with self._robots_lock:
                self._robots[origin] = (time.monotonic() + ROBOTS_TTL, parser)
            cached = self._robots[origin]
        parser = cached[1]
        if parser is None:
            return True
        agent = self.settings.user_agent.split("/")[0]
        return parser.can_fetch(agent, url)


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]
