"""Request abuse against the web layer (portal proxy and server site, real
listeners): huge headers, many headers, slow clients, oversized bodies.
Each is refused with the right status and a closed connection, memory
stays bounded, and everyone else keeps being served."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from .loadgen import WebStack, run_load

MB = 1024 * 1024


@pytest.fixture(scope="module")
def stack():
    with WebStack(threads=4) as running:
        yield running


def exchange(port: int, payload: bytes, timeout: float = 10.0) -> tuple[int, bool]:
    """Send ``payload``; return (status, connection closed by the server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before we finished sending: read the answer anyway
        data = b""
        closed = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                closed = True
                break
            except TimeoutError:
                break
            if not chunk:
                closed = True
                break
            data += chunk
            if b"\r\n\r\n" in data and b"content-length: 0" in data.lower():
                pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    return status, closed


def healthy(port: int) -> None:
    """Still serving: every request of a short load answered 200 (a starved
    client would run into the load's timeout, an error of its own)."""
    report = run_load(port, ["/ok"], clients=4, seconds=0.5, timeout=5)
    assert set(report.by_status) == {200}, dict(report.by_status)


@pytest.mark.parametrize("where", ["portal", "server"])
@pytest.mark.parametrize("case", ["huge-header", "many-headers", "huge-total", "huge-request-line"])
def test_oversized_request_heads_are_refused_and_closed(stack, where, case):
    port = getattr(stack, where)
    if case == "huge-header":
        head = b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 * 1024) + b"\r\n\r\n"
    elif case == "many-headers":
        head = (
            b"GET /ok HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
            + b"\r\n"
        )
    elif case == "huge-total":
        head = (
            b"GET /ok HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(300))
            + b"\r\n"
        )
    else:
        head = b"GET /ok?" + b"q" * (20 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    status, closed = exchange(port, head)
    assert status in (400, 414, 431), status
    assert closed
    healthy(port)


@pytest.mark.parametrize("where", ["portal", "server"])
def test_oversized_body_is_refused_without_buffering_it(stack, where):
    port = getattr(stack, where)
    size = 64 * MB
    before = stack.status()["rss"]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\n\r\n" % size
        )
        chunk = b"z" * MB
        try:
            for _ in range(size // MB):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused early: the right thing
        sock.settimeout(30)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                piece = sock.recv(65536)
                if not piece:
                    break
                data += piece
        except ConnectionResetError:
            pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    grown = stack.status()["rss"] - before
    assert status in (400, 413), status
    assert grown < 32 * MB, f"the {where} grew by {grown / MB:.0f} MB for one {size // MB} MB body"
    healthy(port)


def test_slow_clients_do_not_starve_others(stack):
    """200 clients dribbling their headers a byte at a time hold sockets,
    not threads: everyone else is served at normal speed meanwhile."""
    stop = threading.Event()
    socks = []
    before = stack.status()
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", stack.portal), timeout=5)
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n")
        socks.append(sock)

    def dribble():
        while not stop.is_set():
            for sock in socks:
                try:
                    sock.send(b"X")
                except OSError:
                    pass
            stop.wait(0.2)

    dribbler = threading.Thread(target=dribble, daemon=True)
    dribbler.start()
    try:
        report = run_load(stack.portal, ["/ok", "/sleep?ms=5"], clients=8, seconds=2.0, timeout=5)
        assert set(report.by_status) == {200}, dict(report.by_status)
        after = stack.status()
        assert after["threads"] <= before["threads"] + 4  # pool-bounded, not per connection
        assert after["rss"] - before["rss"] < 16 * MB  # a few KB per dribbling socket
    finally:
        stop.set()
        dribbler.join(5)
        for sock in socks:
            sock.close()
    healthy(stack.portal)


@pytest.mark.soak
@pytest.mark.parametrize("where", ["portal", "server"])
def test_idle_and_slow_connections_are_closed_in_bounded_time(stack, where):
    """A client that opens a connection and never finishes its request is
    disconnected by the server (Twisted's 60 s idle timeout), so it cannot
    hold a socket forever. The clients wait up to 70 s for that."""
    port = getattr(stack, where)
    slow = socket.create_connection(("127.0.0.1", port), timeout=70)
    slow.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n")
    idle = socket.create_connection(("127.0.0.1", port), timeout=70)
    for name, sock in (("slow", slow), ("idle", idle)):
        try:
            while sock.recv(65536):
                pass
        except ConnectionResetError:
            pass  # closed by the server too
        except TimeoutError:
            pytest.fail(f"the {name} connection was still open after 70 s")
