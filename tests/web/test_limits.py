"""What the channel refuses, it answers (400/413/414/431) and closes
gracefully: the client reads the status instead of a connection reset."""

from __future__ import annotations

import socket
import time

import pytest

from .harness import get


def _exchange(port, payload, body_chunks=0, timeout=10):
    """Send ``payload`` (+ optional 1 MiB chunks); return (status, closed, seconds)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
            for _ in range(body_chunks):
                sock.sendall(b"z" * (1024 * 1024))
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, closed = b"", False
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break  # a reset: exactly what must not happen
            if not chunk:
                closed = True
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    return status, closed, time.monotonic() - t0


@pytest.fixture
def site(django_site):
    return django_site(maxthreads=2, max_body_size=1024 * 1024)


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b"GET /hello/?" + b"q" * (20 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /hello/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 * 1024) + b"\r\n\r\n", 431),
        (b"GET /hello/ HTTP/1.1\r\nHost: x\r\n" + b"X-H: v\r\n" * 600 + b"\r\n", 400),
        (b"GET /hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400),
    ],
    ids=["huge-request-line", "huge-header-line", "too-many-headers", "bad-length"],
)
def test_bad_heads_get_a_status_not_a_reset(site, payload, expected):
    status, closed, _ = _exchange(site.listener.number, payload)
    assert (status, closed) == (expected, True)
    assert get(site.listener, "/hello/")[2] == b"hello"  # still serving


def test_oversized_body_refused_before_it_is_read(site):
    head = b"POST /size/ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (16 * 1024 * 1024)
    status, closed, elapsed = _exchange(site.listener.number, head, body_chunks=16)
    assert (status, closed) == (413, True)
    assert elapsed < 5


def test_body_within_limit_is_served(site):
    body = b"x" * (512 * 1024)
    code, _, data = get(site.listener, "/size/", method="POST", body=body)
    assert code == 200 and data.startswith(b"524288 ")


def test_bad_limit_setting_is_named(running_reactor):
    from contrib_awsstorage.webserver import Website

    with pytest.raises(ValueError, match="AWSSTORAGE_WEB_MAX_BODY_SIZE"):
        Website(None, max_body_size="10MB")
