"""The site's stop: open connections are closed only once their answers are written."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.web import resource
from twisted.web.server import NOT_DONE_YET

from contrib_awsstorage.webserver import Website

from .harness import Listener, in_reactor, wait_for

pytestmark = pytest.mark.usefixtures("running_reactor")

BIG = 8 * 1024 * 1024  # far more than the socket buffers hold: the rest waits in Twisted


class _Big(resource.Resource):
    """Finishes a big answer at once; the transport writes it out over time."""

    isLeaf = True

    def __init__(self):
        super().__init__()
        self.finished = 0

    def render_GET(self, request):
        request.setHeader(b"content-length", b"%d" % BIG)
        request.write(b"x" * BIG)
        request.finish()
        self.finished += 1
        return NOT_DONE_YET


def _site():
    root = _Big()
    site = Website(root, debug=False)
    return root, site, Listener(site)


def _start_closing(site, timeout, clock=reactor):
    """Ask the site to close its connections; don't wait (a dict gets the result).
    ``clock`` runs the timeout (the real reactor, or a ``Clock`` the test moves)."""
    result = {}

    def start():
        site.close_connections(clock, timeout).addCallback(lambda r: result.update(r=r))

    in_reactor(start)
    return result


def _read_all(sock, timeout=20):
    sock.settimeout(timeout)
    chunks = []
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_a_finished_answer_still_in_twisteds_buffer_reaches_the_client():
    root, site, listener = _site()
    try:
        sock = socket.create_connection(("127.0.0.1", listener.number))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: root.finished == 1, what="the answer finished on the reactor")
        outcome = _start_closing(site, 10)
        data = _read_all(sock)  # then EOF: the site closed the connection
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert len(body) == BIG
        wait_for(lambda: "r" in outcome, what="close_connections fired")
        assert outcome["r"] is True
    finally:
        listener.close()


def test_idle_keep_alive_connections_are_closed_and_nothing_left_open():
    _root, site, listener = _site()
    try:
        socks = [socket.create_connection(("127.0.0.1", listener.number)) for _ in range(3)]
        wait_for(lambda: in_reactor(lambda: len(site._channels)) == 3, what="3 connections")
        result = _start_closing(site, 10)
        for sock in socks:
            assert _read_all(sock, timeout=5) == b""  # a clean close, no answer
        wait_for(lambda: "r" in result, what="close_connections fired")
        assert result["r"] is True and in_reactor(lambda: len(site._channels)) == 0
    finally:
        listener.close()


def test_a_client_that_never_reads_is_cut_at_the_timeout():
    root, site, listener = _site()
    try:
        sock = socket.create_connection(("127.0.0.1", listener.number))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: root.finished == 1, what="the answer finished on the reactor")
        clock = Clock()
        result = _start_closing(site, 0.5, clock)
        in_reactor(clock.advance, 0.49)
        assert "r" not in result  # within the bound it waits for the client
        assert in_reactor(lambda: len(site._channels)) == 1
        in_reactor(clock.advance, 0.01)
        assert result["r"] is False  # gave up on the one that would not read
        wait_for(lambda: in_reactor(lambda: len(site._channels)) == 0, what="the connection cut")
        sock.close()
    finally:
        listener.close()
