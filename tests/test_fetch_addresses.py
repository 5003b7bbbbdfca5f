"""The SSRF guard refuses every address that is not globally routable, in any spelling (issue 15 item 9).

tests/conftest.py allows private networks for the whole test process, so every policy here is built
with private networks refused explicitly.
"""

from __future__ import annotations

import socket

import pytest

from monitor.config import Settings
from monitor.crawl.fetch import AddressPolicy, Fetcher, FetchError
from tests.servers import TestServer, redirect

REFUSED = [
    "100.100.100.200",  # shared address space 100.64.0.0/10: a cloud metadata service
    "100.64.0.1",
    "192.0.0.8", "192.0.0.170",  # IETF protocol assignments 192.0.0.0/24
    "198.18.0.1",  # benchmarking
    "192.0.2.1", "198.51.100.7", "203.0.113.5",  # documentation
    "240.0.0.1", "255.255.255.255", "0.0.0.0", "0.1.2.3",
    "127.0.0.1", "10.0.0.5", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "224.0.0.1", "239.255.255.250",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "fec0::1",  # site-local (deprecated, still routed locally)
    "ff02::1", "2001:db8::1", "100::1",
    "::ffff:127.0.0.1", "::ffff:100.100.100.200", "::ffff:169.254.169.254",  # IPv4-mapped
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "2002:7f00:1::", "2002:a9fe:a9fe::", "2002:a00:5::1", "2002:6464:64c8::",  # 6to4 of non-global IPv4
    "2002:808:808::1",  # 6to4 is not globally routable even around a public IPv4
    "2001:0:7f00:1::1",  # Teredo with a loopback server
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo with a loopback client (stored inverted)
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo with public server and client: still not global
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1",  # NAT64 of non-global IPv4
    "64:ff9b:1::808:808",  # local-use NAT64 prefix
    "fe80::1%eth0",
]

PUBLIC = ["8.8.8.8", "1.1.1.1", "14.225.5.1", "2606:4700:4700::1111", "2001:4860:4860::8888",
          "::ffff:8.8.8.8", "64:ff9b::808:808"]  # NAT64 of a public IPv4 is how an IPv6-only host reaches it


def guarded_policy() -> AddressPolicy:
    return AddressPolicy(allow_private=False)


@pytest.mark.parametrize("address", REFUSED)
def test_non_global_addresses_are_refused(address):
    reason = guarded_policy().refusal(address)
    assert reason and reason.startswith("refused to connect to ") and "private networks are not allowed" in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert guarded_policy().refusal(address) is None


@pytest.mark.parametrize("address, named", [
    ("2002:7f00:1::", "loopback address 127.0.0.1"),
    ("2002:a9fe:a9fe::", "link-local address 169.254.169.254"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback address 127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "link-local address 169.254.169.254"),
    ("::ffff:100.100.100.200", "address 100.100.100.200"),
])
def test_refusal_names_the_embedded_ipv4_address(address, named):
    reason = guarded_policy().refusal(address)
    assert named in reason and address in reason


def test_allowing_private_networks_still_works():
    assert AddressPolicy(allow_private=True).refusal("100.100.100.200") is None
    assert AddressPolicy(allow_private=True).refusal("2002:7f00:1::") is None
    allowlisted = AddressPolicy(allow_private=False, allowlist=["100.64.0.0/10"])
    assert allowlisted.refusal("100.100.100.200") is None
    assert allowlisted.refusal("10.0.0.1") is not None  # outside the listed network


@pytest.fixture()
def resolves_to(monkeypatch):
    """Point the fetcher's DNS look-up of *.example.test at chosen addresses (the resolver hook)."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in names:
            family = socket.AF_INET6 if ":" in names[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr("monitor.crawl.fetch.socket.getaddrinfo", fake)
    return names


@pytest.mark.parametrize("address", ["100.100.100.200", "192.0.0.8", "2002:7f00:1::", "2002:a9fe:a9fe::",
                                     "fec0::1", "2001:0:4136:e378:8000:63bf:80ff:fffe", "64:ff9b::a9fe:a9fe"])
def test_redirect_to_a_refused_address_is_refused_without_connecting(address, resolves_to):
    resolves_to["metadata.example.test"] = address
    literal = f"[{address}]" if ":" in address else address
    with TestServer() as server:
        server.routes["/by-name"] = redirect("http://metadata.example.test/latest/meta-data/")
        server.routes["/by-address"] = redirect(f"http://{literal}/latest/meta-data/")
        fetcher = Fetcher(Settings(allow_private_networks=False, private_allowlist=["127.0.0.1/32"], host_delay=0.0,
                                   connect_timeout=1.0, read_timeout=1.0, deadline=3.0))
        with fetcher:
            for path in ("/by-name", "/by-address"):
                with pytest.raises(FetchError, match="refused to connect to .*private networks are not allowed"):
                    fetcher.fetch(server.url(path))
                assert server.requests_to(path)  # the first hop, allow-listed, was fetched


def test_the_suite_reaches_no_remote_host():
    """conftest's guard: a remote name does not resolve under test, localhost and address literals do."""
    import socket

    with pytest.raises(socket.gaierror, match="tests reach no remote host"):
        socket.getaddrinfo("example.vn", 443)
    assert socket.getaddrinfo("127.0.0.1", 80)
    assert socket.getaddrinfo("localhost", 80)
