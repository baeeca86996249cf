"""What the channel refuses, it answers (400/413/414/431) and closes
gracefully: the client reads the status instead of a connection reset."""

from __future__ import annotations

import socket

import pytest

from .harness import get


def _exchange(port, payload, timeout=10):
    """Send ``payload``; return (status, closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
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
    return status, closed


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
    status, closed = _exchange(site.listener.number, payload)
    assert (status, closed) == (expected, True)
    assert get(site.listener, "/hello/")[2] == b"hello"  # still serving


def _send_ignoring_close(conn, pieces):
    """Send what a client would still send after the refusal (read and dropped)."""
    try:
        for piece in pieces:
            conn.sendall(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass


def test_oversized_body_refused_before_it_is_read(counted_site):
    head = b"POST /size/ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (16 * 1024 * 1024)
    with _Connection(counted_site.listener.number) as conn:
        conn.sendall(head)
        assert conn.answer() == (413, b"")  # before one byte of the body was sent
        _send_ignoring_close(conn, [b"z" * (1024 * 1024)] * 16)
        assert conn.closed()
    assert counted_site.calls == []


def test_body_within_limit_is_served(site):
    body = b"x" * (512 * 1024)
    code, _, data = get(site.listener, "/size/", method="POST", body=body)
    assert code == 200 and data.startswith(b"524288 ")


def test_bad_limit_setting_is_named(running_reactor):
    from contrib_awsstorage.webserver import Website

    with pytest.raises(ValueError, match="AWSSTORAGE_WEB_MAX_BODY_SIZE"):
        Website(None, max_body_size="10MB")


# -- bodies without a declared length (Transfer-Encoding: chunked) ----------------

LIMIT = 64 * 1024


def _chunked(size, path=b"/size/", piece=8192):
    """A chunked POST of ``size`` bytes (RFC 9112 section 7.1), in ``piece``-byte chunks."""
    out = [b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % path]
    while size:
        n = min(piece, size)
        out.append(b"%x\r\n%s\r\n" % (n, b"z" * n))
        size -= n
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def _size_answer(size):
    import hashlib

    return b"%d %s" % (size, hashlib.md5(b"z" * size).hexdigest().encode())


class _Connection:
    """A client connection whose responses are all read through one buffered
    reader. Pipelined answers can arrive in one segment: a reader made per
    response would buffer the next answer too, and lose it with itself."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._reader = self.sock.makefile("rb")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._reader.close()
        self.sock.close()

    def sendall(self, data):
        self.sock.sendall(data)

    def answer(self):
        """The next response -> (status, body); the connection stays usable."""
        import http.client

        resp = http.client.HTTPResponse(_Lent(self._reader))
        resp.begin()
        return resp.status, resp.read()

    def closed(self):
        """True once the server has closed: EOF (not a reset), nothing more sent."""
        try:
            return self._reader.read1(65536) == b""
        except ConnectionResetError:
            return False


class _Lent:
    """The connection's reader, lent to one ``http.client`` response (which
    asks a socket for ``makefile()`` and closes what it got when done)."""

    def __init__(self, reader):
        self._reader = reader

    def makefile(self, mode):
        return self

    def __getattr__(self, name):
        return getattr(self._reader, name)

    def close(self):
        """The connection outlives each response on it."""


@pytest.fixture
def counted_site(running_reactor, wsgi_app):
    """A site with a LIMIT-byte body limit; ``.calls`` lists the paths Django got."""
    from .conftest import DjangoSite

    calls = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return wsgi_app(environ, start_response)

    site = DjangoSite(app, maxthreads=2, max_body_size=LIMIT)
    site.calls = calls
    yield site
    site.close()


def test_chunked_body_over_limit_refused(counted_site):
    with _Connection(counted_site.listener.number) as conn:
        conn.sendall(_chunked(LIMIT + 1))
        assert conn.answer() == (413, b"")
        assert conn.closed()
    assert counted_site.calls == []
    assert get(counted_site.listener, "/hello/")[2] == b"hello"  # still serving
    assert counted_site.calls == ["/hello/"]  # the refused request never reached Django


def test_chunked_stream_refused_while_it_streams(counted_site):
    """16 MiB announced as nothing: refused once past LIMIT bytes, not spooled."""
    chunk = b"100000\r\n" + b"z" * (1024 * 1024) + b"\r\n"
    with _Connection(counted_site.listener.number) as conn:
        conn.sendall(b"POST /size/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        conn.sendall(chunk)  # 1 MiB: past LIMIT
        assert conn.answer()[0] == 413  # with 15 MiB still to come
        _send_ignoring_close(conn, [chunk] * 15)
        assert conn.closed()
    assert counted_site.calls == []


@pytest.mark.parametrize("size", [0, 1, LIMIT - 1, LIMIT])
def test_chunked_body_within_limit_is_served(counted_site, size):
    with _Connection(counted_site.listener.number) as conn:
        conn.sendall(_chunked(size))
        assert conn.answer() == (200, _size_answer(size))
    assert counted_site.calls == ["/size/"]


def test_chunked_limit_is_per_request_on_keepalive(counted_site):
    """Each request on a kept-alive connection gets the whole limit; the one
    over it is refused, and the connection closed after its 413."""
    with _Connection(counted_site.listener.number) as conn:
        for _ in range(3):  # together far over LIMIT; each one within it
            conn.sendall(_chunked(LIMIT))
            assert conn.answer() == (200, _size_answer(LIMIT))
        conn.sendall(_chunked(LIMIT + 1, path=b"/echo/over"))
        assert conn.answer()[0] == 413
        assert conn.closed()
    assert counted_site.calls == ["/size/"] * 3


def test_chunked_limit_with_pipelined_requests(counted_site):
    """A request over the limit queued behind one within it (replayed by the
    channel from its buffer once the first is answered) is refused too."""
    with _Connection(counted_site.listener.number) as conn:
        conn.sendall(_chunked(LIMIT) + _chunked(LIMIT + 1, path=b"/echo/over"))
        assert conn.answer() == (200, _size_answer(LIMIT))
        assert conn.answer()[0] == 413
        assert conn.closed()
    assert counted_site.calls == ["/size/"]


def test_chunked_body_without_limit_reaches_django_whole(django_site):
    """No limit: nothing is counted, and Django still gets the decoded body."""
    site = django_site(maxthreads=2, max_body_size=None)
    size = 3 * 1024 * 1024 + 5
    with _Connection(site.listener.number) as conn:
        conn.sendall(_chunked(size, piece=256 * 1024))
        assert conn.answer() == (200, _size_answer(size))


@pytest.mark.parametrize(
    "head",
    [
        b"POST /size/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",  # Twisted's own 400
        b"POST /size/ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1),  # our 413
    ],
    ids=["400", "413"],
)
def test_a_refused_client_may_go_on_sending(counted_site, head):
    """After the refusal the connection lingers: what the client still sends
    is read and dropped (a plain close would answer it with a reset), and
    the close it then sees is an orderly one."""
    with _Connection(counted_site.listener.number) as conn:
        conn.sendall(head)
        assert conn.answer()[0] in (400, 413)
        for _ in range(4):
            conn.sendall(b"z" * (512 * 1024))  # no BrokenPipeError / ConnectionResetError
        assert conn.closed()
    assert counted_site.calls == []
