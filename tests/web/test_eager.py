"""Sending at once (``eager``): bytes leave in the call to ``write``, on real
TCP connections, and everything Twisted's buffer does still holds:
order, the rest of what the socket would not take, pull producers, errors."""

from __future__ import annotations

import os
import socket

import pytest
from twisted.internet import protocol, reactor
from twisted.web import static

from contrib_awsstorage.web import eager
from contrib_awsstorage.web.site import Website

from .harness import Listener, get, in_reactor, wait_for


class _Keep(protocol.Protocol):
    """Remembers its connection; what it receives is kept."""

    def connectionMade(self):
        self.factory.made.append(self)
        self.received = []
        self.lost = None

    def dataReceived(self, data):
        self.received.append(data)

    def connectionLost(self, reason):
        self.lost = reason


@pytest.fixture
def connected(running_reactor):
    """(server-side protocol, client socket) over a real loopback connection."""
    factory = protocol.Factory.forProtocol(_Keep)
    factory.made = []
    listener = Listener(factory)
    clients = []

    def connect(rcvbuf=None):
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.connect(("127.0.0.1", listener.number))
        clients.append(sock)
        wait_for(lambda: len(factory.made) == len(clients), timeout=5, what="accepted")
        return factory.made[-1], sock

    yield connect
    for sock in clients:
        sock.close()
    for proto in factory.made:
        if proto.transport.connected:
            in_reactor(proto.transport.abortConnection)
    listener.close()


def _received_within_the_call(proto, sock, data, install):
    """In one reactor call (so the reactor cannot turn): write, then read
    the peer. Returns what arrived before the call ended."""
    sock.settimeout(0.3)

    def write_and_read():
        if install:
            assert eager.install(proto.transport)
        proto.transport.write(data)
        try:
            return sock.recv(len(data) + 1)
        except TimeoutError:
            return b""

    return in_reactor(write_and_read)


def test_a_write_leaves_before_the_reactor_turns(connected):
    proto, sock = connected()
    assert _received_within_the_call(proto, sock, b"hello", install=True) == b"hello"
    assert proto.transport not in in_reactor(reactor.getWriters)  # nothing left to watch for


def test_without_it_twisted_waits_for_its_next_turn(connected):
    """The control: a plain transport only buffers, so this test can tell."""
    proto, sock = connected()
    assert _received_within_the_call(proto, sock, b"hello", install=False) == b""
    sock.settimeout(5)
    assert sock.recv(10) == b"hello"  # sent on the next turn


def test_write_sequence_leaves_at_once_as_one_piece(connected):
    proto, sock = connected()
    sock.settimeout(0.3)

    def write_and_read():
        eager.install(proto.transport)
        proto.transport.writeSequence([b"HTTP/1.1 200 OK\r\n", b"\r\n", b"body"])
        return sock.recv(100)

    assert in_reactor(write_and_read) == b"HTTP/1.1 200 OK\r\n\r\nbody"


def test_what_the_socket_does_not_take_follows_in_order(connected):
    proto, sock = connected(rcvbuf=4096)
    transport = proto.transport
    pieces = [os.urandom(1 << 20), b"-middle-", os.urandom(1 << 19)]

    def write_all():
        eager.install(transport)
        transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        for piece in pieces:
            transport.write(piece)
        return transport._tempDataLen + len(transport.dataBuffer) - transport.offset

    buffered = in_reactor(write_all)
    assert 0 < buffered < sum(map(len, pieces))  # part left at once, the rest waits in order
    sock.settimeout(10)
    got = bytearray()
    while len(got) < sum(map(len, pieces)):
        chunk = sock.recv(1 << 16)
        assert chunk, "connection closed early"
        got += chunk
    assert bytes(got) == b"".join(pieces)


class _Pull:
    """A pull producer: one piece per ``resumeProducing``."""

    def __init__(self, transport, pieces):
        self.transport, self.pieces, self.asked = transport, list(pieces), 0

    def resumeProducing(self):
        self.asked += 1
        if self.pieces:
            self.transport.write(self.pieces.pop(0))
        else:
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    def stopProducing(self):
        pass


def test_a_pull_producer_is_still_asked_for_more(connected):
    """Twisted asks a pull producer for more when its buffer drains
    (``doWrite``): those writes must wait for the buffer, or it is never asked."""
    proto, sock = connected()
    pieces = [b"%05d" % n for n in range(50)]

    def register():
        eager.install(proto.transport)
        producer = _Pull(proto.transport, pieces)
        proto.transport.registerProducer(producer, False)
        return producer

    producer = in_reactor(register)
    sock.settimeout(10)
    got = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    assert got == b"".join(pieces)
    assert producer.asked == len(pieces) + 1


def test_a_big_static_file_through_our_site(running_reactor, tmp_path):
    """``static.File`` streams with a pull producer through our channel."""
    data = os.urandom(3 << 20)
    (tmp_path / "big.bin").write_bytes(data)
    listener = Listener(Website(static.File(str(tmp_path)), debug=False))
    try:
        status, headers, body = get(listener, "/big.bin")
    finally:
        listener.close()
    assert status == 200
    assert body == data


def test_a_write_to_a_reset_connection_is_lost_the_twisted_way(connected):
    """The send fails at once; Twisted's buffer and ``doWrite`` report it
    (``connectionLost``) instead of ``write`` raising."""
    proto, sock = connected()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST
    wait_for(lambda: proto.lost is not None or _write_fails(proto), timeout=5, what="reset seen")
    wait_for(lambda: proto.lost is not None, timeout=5, what="connectionLost")


def _write_fails(proto):
    def write():
        eager.install(proto.transport)
        proto.transport.write(b"x" * 1000)  # must not raise
        return False

    return in_reactor(write) if proto.transport.connected else False


def test_bad_types_are_refused_as_twisted_refuses_them(connected):
    proto, _sock = connected()

    def bad(call, arg):
        eager.install(proto.transport)
        try:
            call(arg)
        except TypeError as exc:
            return str(exc)
        return None

    assert in_reactor(bad, lambda a: proto.transport.write(a), "text") is not None
    assert in_reactor(bad, lambda a: proto.transport.writeSequence(a), ["text"]) is not None


def test_only_plain_tcp_connections_are_changed(connected):
    proto, _sock = connected()
    assert eager.install(object()) is False
    assert eager.install(None) is False
    assert in_reactor(eager.install, proto.transport) is True


def _sends_at_once(transport):
    return getattr(transport.write, "func", None) is eager._write


def test_our_site_and_the_portals_backend_connections_send_at_once(running_reactor):
    """Both ends our code opens get it: the channels of our ``Website`` and
    the proxy's pooled connections to the server."""
    from contrib_awsstorage.web.proxy import EvenniaReverseProxyResource

    page = static.Data(b"ok", "text/plain")
    page.isLeaf = True
    backend = Listener(Website(page, debug=False))
    proxy = EvenniaReverseProxyResource("127.0.0.1", backend.number, b"", timeout=5)
    portal = Website(proxy, debug=False, is_portal=True)
    channels = []
    build = portal.buildProtocol
    portal.buildProtocol = lambda addr: channels.append(build(addr)) or channels[-1]
    front = Listener(portal)
    try:
        status, _headers, body = get(front, "/")
        assert (status, body) == (200, b"ok")
        pooled = in_reactor(
            lambda: [c.transport for cs in proxy.backend.pool._connections.values() for c in cs]
        )
        assert pooled and all(_sends_at_once(t) for t in pooled)
        assert channels and all(_sends_at_once(c.transport) for c in channels)
    finally:
        front.close()
        in_reactor(proxy.close)
        backend.close()
