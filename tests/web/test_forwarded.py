"""Client address rules (pure logic), and the same table on real listeners."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from contrib_awsstorage.web.forwarded import TrustedProxies, parse_node
from contrib_awsstorage.webserver import Website

from .harness import Listener, in_reactor, request, wait_for

TRUSTED = ["127.0.0.1", "10.0.0.0/8", "192.168.1.1", "2001:db8:aaaa::/48", "::1"]
PEER = "127.0.0.1"
REAL = "203.0.113.5"

# (id, X-Forwarded-For field lines (None = header absent), REMOTE_ADDR Django must see)
CASES = [
    ("absent", None, PEER),
    ("single", [REAL], REAL),
    ("spoofed-left", ["1.1.1.1, " + REAL], REAL),
    ("spoofed-many-left", ["6.6.6.6, 7.7.7.7, 8.8.8.8, " + REAL], REAL),
    ("trusted-cidr-hop", ["6.6.6.6, " + REAL + ", 10.1.2.3"], REAL),
    ("two-lines", ["6.6.6.6", REAL], REAL),
    ("two-lines-trusted-last", ["6.6.6.6, " + REAL, "10.0.0.7"], REAL),
    ("ipv6", ["2001:db8::1"], "2001:db8::1"),
    ("ipv6-bracket-port", ["[2001:db8::2]:4711"], "2001:db8::2"),
    ("ipv6-trusted-cidr-hop", ["2001:db8::3, 2001:db8:aaaa::9"], "2001:db8::3"),
    ("ipv4-port", [REAL + ":8080"], REAL),
    ("ipv4-mapped", ["::ffff:203.0.113.9"], "203.0.113.9"),
    ("all-trusted", ["10.0.0.1, 192.168.1.1"], "10.0.0.1"),
    ("garbage", ["not-an-ip"], PEER),
    ("garbage-right", [REAL + ", garbage"], PEER),
    ("garbage-left", ["garbage, " + REAL], REAL),
    ("unknown", ["unknown"], PEER),
    ("trailing-comma", [REAL + ","], PEER),
    ("zone-id", ["fe80::1%eth0"], PEER),
    ("unbalanced-bracket", ["[2001:db8::1"], PEER),
    ("bad-octet", ["999.1.1.1"], PEER),
    ("html", ["<script>alert(1)</script>"], PEER),
    ("non-ascii", [b"203.0.113.\xff"], PEER),
    ("8kb-spoof-then-real", [", ".join(["1.2.3.4"] * 1000) + ", " + REAL], REAL),
    ("8kb-garbage", ["x" * 8000], PEER),
    ("whitespace", ["  " + REAL + "  "], REAL),
]


@pytest.mark.parametrize("lines, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules(lines, expected):
    assert TrustedProxies(TRUSTED).client_address(PEER, lines) == expected


def test_untrusted_peer_header_ignored():
    proxies = TrustedProxies(["10.0.0.1"])
    assert proxies.client_address(PEER, [REAL]) == PEER
    assert proxies.client_address("10.0.0.1", [REAL]) == REAL


def test_bad_upstream_setting_is_named():
    with pytest.raises(ValueError, match="UPSTREAM_IPS.*'localhost'"):
        TrustedProxies(["127.0.0.1", "localhost"])


# (id, UPSTREAM_IPS, socket peer, whether the peer's X-Forwarded-For is believed).
# Peers ``::ffff:a.b.c.d`` (dual-stack sockets) are compared as IPv4, so
# IPv4-mapped entries must be too.
MAPPED_CASES = [
    ("mapped-net-v4-peer", ["::ffff:10.0.0.0/104"], "10.1.2.3", True),
    ("mapped-net-mapped-peer", ["::ffff:10.0.0.0/104"], "::ffff:10.1.2.3", True),
    ("mapped-net-first", ["::ffff:10.0.0.0/104"], "10.0.0.0", True),
    ("mapped-net-last", ["::ffff:10.0.0.0/104"], "10.255.255.255", True),
    ("mapped-net-outside", ["::ffff:10.0.0.0/104"], "11.0.0.1", False),
    ("mapped-net-below", ["::ffff:10.0.0.0/104"], "9.255.255.255", False),
    ("mapped-net-outside-mapped-peer", ["::ffff:10.0.0.0/104"], "::ffff:11.0.0.1", False),
    ("mapped-net-v6-peer", ["::ffff:10.0.0.0/104"], "2001:db8::1", False),
    ("mapped-net-not-strict", ["::ffff:10.1.2.3/104"], "10.200.0.1", True),
    ("mapped-net-120", ["::ffff:192.168.1.0/120"], "192.168.1.77", True),
    ("mapped-net-120-outside", ["::ffff:192.168.1.0/120"], "192.168.2.1", False),
    ("mapped-96-is-all-ipv4", ["::ffff:0.0.0.0/96"], "198.51.100.7", True),
    ("mapped-address", ["::ffff:10.0.0.1"], "10.0.0.1", True),
    ("mapped-address-other", ["::ffff:10.0.0.1"], "10.0.0.2", False),
    ("mapped-address-128", ["::ffff:10.0.0.1/128"], "::ffff:10.0.0.1", True),
    ("v4-net-mapped-peer", ["10.0.0.0/8"], "::ffff:10.1.2.3", True),
    ("v4-net-outside-mapped-peer", ["10.0.0.0/8"], "::ffff:11.0.0.1", False),
    ("v6-net-untouched", ["2001:db8::/32"], "2001:db8::1", True),
    ("v6-net-v4-peer", ["2001:db8::/32"], "10.1.2.3", False),
]


@pytest.mark.parametrize(
    "upstream, peer, trusted", [c[1:] for c in MAPPED_CASES], ids=[c[0] for c in MAPPED_CASES]
)
def test_ipv4_mapped_upstream_entries(upstream, peer, trusted):
    proxies = TrustedProxies(upstream)
    assert proxies.is_trusted(peer) is trusted
    assert proxies.client_address(peer, [REAL]) == (REAL if trusted else peer)


@pytest.mark.parametrize("entry", ["::ffff:10.0.0.0/95", "::ffff:10.0.0.0/64", "::ffff:0:0/0"])
def test_ipv4_mapped_network_too_wide_is_refused(entry):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured) as caught:
        TrustedProxies(["127.0.0.1", entry])
    message = str(caught.value)
    assert message.startswith(f"UPSTREAM_IPS: {entry!r} ") and "/96" in message
    assert "Fix: " in message and "'10.0.0.0/8'" in message
    assert isinstance(caught.value, ValueError)  # what bad entries always raised
    with pytest.raises(ImproperlyConfigured, match="UPSTREAM_IPS"):
        Website(None, trusted_upstreams=[entry])


@pytest.mark.parametrize(
    "text, expected",
    [("1.2.3.4", "1.2.3.4"), ("[::1]:80", "::1"), ("::1", "::1"), ("1.2.3.4:x", None), ("", None)],
)
def test_parse_node(text, expected):
    node = parse_node(text)
    assert (str(node) if node else None) == expected


def _headers(lines):
    return [("X-Forwarded-For", line) for line in (lines or [])]


@pytest.fixture
def ip_site(django_site):
    return django_site(maxthreads=4, trusted_upstreams=TRUSTED)


def _remote(conn, lines):
    code, _, body = request(conn, "/ip/", _headers(lines))
    assert code == 200
    return body.decode()


@pytest.mark.parametrize("lines, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_django_sees_it_first_request_and_keepalive(ip_site, lines, expected):
    conn = ip_site.listener.connection()
    try:
        assert _remote(conn, lines) == expected  # first request of a fresh connection
        assert _remote(conn, None) == PEER  # next request without header: peer again
        assert _remote(conn, [REAL]) == REAL  # a different header on the same connection
        assert _remote(conn, lines) == expected
    finally:
        conn.close()


def test_untrusted_peer_on_real_listener(django_site):
    site = django_site(maxthreads=2, trusted_upstreams=["10.0.0.1"])
    conn = site.listener.connection()
    try:
        assert _remote(conn, [REAL]) == PEER
        assert _remote(conn, ["10.0.0.1"]) == PEER
    finally:
        conn.close()


def test_ipv4_mapped_upstream_on_real_listener(django_site):
    site = django_site(maxthreads=2, trusted_upstreams=["::ffff:127.0.0.0/104"])
    conn = site.listener.connection()
    try:
        assert _remote(conn, ["6.6.6.6, " + REAL]) == REAL
        assert _remote(conn, None) == PEER
    finally:
        conn.close()


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_ipv6_peer(django_site, wsgi_app):
    if not _ipv6_loopback():
        pytest.fail("no IPv6 loopback on this machine; the IPv6 peer case cannot run")
    site = django_site(maxthreads=2, trusted_upstreams=["::1"])
    v6 = Listener(site.site, interface="::1")
    try:
        conn = v6.connection()
        assert _remote(conn, None) == "::1"
        assert _remote(conn, ["6.6.6.6, " + REAL]) == REAL
        conn.close()
    finally:
        v6.close()


def test_access_log_uses_the_decided_address(django_site, tmp_path):
    log = tmp_path / "http.log"
    site = django_site(maxthreads=2, trusted_upstreams=TRUSTED, debug=True, logPath=str(log))
    conn = site.listener.connection()
    request(conn, "/ip/", _headers(["6.6.6.6, " + REAL]))
    # WSGI finishes the request (and logs it) just after the client has the
    # bytes; a client gone by then makes it an unlogged, aborted request.
    wait_for(lambda: in_reactor(site.root.status)["pending"] == 0, what="request finished")
    conn.close()
    site.listener.close()  # stops the factory: the access log is flushed and closed
    text = log.read_text()
    assert text.startswith(f'"{REAL}" ') and "6.6.6.6" not in text


def test_debug_off_logs_nothing(django_site, tmp_path):
    log = tmp_path / "http.log"
    site = django_site(maxthreads=2, debug=False, logPath=str(log))
    conn = site.listener.connection()
    assert request(conn, "/ip/")[0] == 200
    wait_for(lambda: in_reactor(site.root.status)["pending"] == 0, what="request finished")
    conn.close()
    site.listener.close()  # stops the factory: the access log is flushed and closed
    assert log.exists() and log.read_text() == ""


def test_no_global_monkey_patch():
    from twisted.web import http

    import contrib_awsstorage.webserver  # noqa: F401

    assert (
        http.HTTPFactory.protocol is not contrib_awsstorage.webserver.HTTPChannelWithXForwardedFor
    )
    assert Website.protocol is contrib_awsstorage.webserver.HTTPChannelWithXForwardedFor
    assert Website(None, is_portal=True).logPrefix() == "Webserver-proxy"
    assert Website(None).logPrefix() == "Webserver"


# -- property: a value the client wrote left of a trusted hop is never chosen ---------

_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None).map(str)
_addr = st.one_of(_ipv4, _ipv6)
_junk = st.one_of(_addr, st.text(max_size=20).filter(lambda t: "," not in t))


@hsettings(max_examples=300, deadline=None)
@given(
    injected=st.lists(_junk, max_size=6),
    client=_addr,
    trusted_hops=st.lists(
        st.sampled_from(["127.0.0.1", "10.1.2.3", "::1", "10.200.0.9"]), max_size=3
    ),
)
def test_property_rightmost_untrusted(injected, client, trusted_hops):
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8", "::1"])
    chain = injected + [client] + trusted_hops  # what honest trusted proxies would produce
    got = proxies.client_address("127.0.0.1", [", ".join(chain)])
    if proxies.is_trusted(client):
        # the client is itself a trusted address: anything at or right of it, or the peer
        allowed = {str(parse_node(a)) for a in [client] + trusted_hops} | {"127.0.0.1"}
        allowed |= {str(parse_node(a)) for a in injected if parse_node(a) is not None}
        assert got in allowed
    else:
        assert got == str(parse_node(client))
