"""Django runs through Twisted's own ``WSGIResource`` under our root; these
check what users see of it through a real listener: answers stream, a
failing application is a logged 500 (or a cut answer once bytes are out),
a client that leaves is not waited for, and concurrent requests each get
their own answer."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

import pytest
from twisted.internet import reactor
from twisted.web import wsgi as twisted_wsgi

from contrib_awsstorage.webserver import DjangoWebRoot, LockableThreadPool, Website

from .harness import Listener, in_reactor, request, wait_for

_names = itertools.count(1)


class Bridge:
    """A ``DjangoWebRoot`` serving ``app`` on its own pool, behind a Website
    on a free port."""

    def __init__(self, app, maxthreads=4):
        self.pool = LockableThreadPool(
            minthreads=1, maxthreads=maxthreads, name=f"test-wsgi-{next(_names)}"
        )
        self.root = DjangoWebRoot(self.pool, application=app, reactor=reactor)
        self.site = Website(self.root, debug=False)
        in_reactor(self.pool.start)
        self.listener = Listener(self.site)

    def idle(self):
        """Wait until no worker is busy, then until the reactor ran what the
        last one handed it (``callFromThread`` keeps its order)."""
        wait_for(lambda: self.pool.status()["busy"] == 0, timeout=5, what="workers idle")
        in_reactor(lambda: None)

    def close(self):
        self.listener.close()
        in_reactor(self.pool.stop_off_thread, None, 2.0)


@pytest.fixture
def bridge(running_reactor):
    made = []

    def make(app, **kwargs):
        made.append(Bridge(app, **kwargs))
        return made[-1]

    yield make
    for b in made:
        b.close()


def test_the_root_runs_the_application_on_twisteds_wsgi_resource(running_reactor):
    root = DjangoWebRoot(LockableThreadPool(0, 1), application=lambda e, s: [])
    assert isinstance(root.wsgi_resource, twisted_wsgi.WSGIResource)
    own = {
        name
        for name, value in vars(type(root.wsgi_resource)).items()
        if isinstance(value, types.FunctionType)
    }
    assert own == {"__init__", "render"}  # only the 503 for a locked pool is ours


# -- raw HTTP, so that framing (lengths, chunks, cuts) is visible --


def _connect(listener, timeout=5.0):
    return socket.create_connection((listener.host, listener.number), timeout=timeout)


def _send(sock, method="GET", path="/", version="HTTP/1.1", headers=()):
    lines = [f"{method} {path} {version}", "Host: test", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def _recv_all(sock, data=b""):
    """Read to EOF (a reset counts as EOF: a cut answer may end that way)."""
    chunks = [data]
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _recv_until(sock, marker, data=b"", timeout=3.0):
    """Read until ``marker`` is in what was read; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while marker not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{marker!r} not received within {timeout}s; got {data!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            raise AssertionError(f"connection closed before {marker!r}; got {data!r}")
        data += chunk
    return data


def _parse(data):
    """-> (code, [(lower name, value)], raw body)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, f"no complete head in {data!r}"
    status, *fields = head.decode("latin-1").split("\r\n")
    headers = []
    for line in fields:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return int(status.split(" ", 2)[1]), headers, body


def _values(headers, name):
    return [v for n, v in headers if n == name]


def _dechunk(raw):
    """-> (body, complete): complete only if the last-chunk and its CRLF came."""
    body, rest = b"", raw
    while True:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return body, False
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return body, rest.startswith(b"\r\n")
        if len(rest) < size + 2:
            return body + rest[:size], False
        body, rest = body + rest[:size], rest[size + 2 :]


def _exchange(listener, method="GET", path="/", version="HTTP/1.1", headers=()):
    with _connect(listener) as sock:
        _send(sock, method, path, version, headers)
        return _parse(_recv_all(sock))


def _wsgi_failures(log_capture):
    return [
        e for e in log_capture.failures() if "WSGI application error" in (e.get("log_format") or "")
    ]


class Closing:
    """An iterable (not a list: a streamed answer) that records ``close()``."""

    def __init__(self, pieces):
        self._pieces = pieces
        self.closed = threading.Event()
        self.produced = 0

    def __iter__(self):
        for piece in self._pieces():
            self.produced += 1
            yield piece

    def close(self):
        self.closed.set()


# -- streaming: each piece out before the next is asked for --


def test_streaming_answer_really_streams(bridge):
    gate = threading.Event()
    asked_after_gate = []

    def pieces():
        yield b"first"
        assert gate.wait(10)
        asked_after_gate.append(True)
        yield b"second"
        yield b""  # empty pieces are skipped, not taken for the end
        yield b"third"

    stream = Closing(pieces)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream

    b = bridge(app)
    with _connect(b.listener) as sock:
        _send(sock)
        data = _recv_until(sock, b"5\r\nfirst\r\n")  # while the generator waits on gate
        assert not asked_after_gate
        code, headers, _ = _parse(data)
        assert code == 200
        assert _values(headers, "transfer-encoding") == ["chunked"]
        assert _values(headers, "content-length") == []
        gate.set()
        data = _recv_all(sock, data)
    body, complete = _dechunk(_parse(data)[2])
    assert (body, complete) == (b"firstsecondthird", True)
    assert stream.closed.wait(2)


# -- errors --


def test_exception_before_start_response_is_a_500_and_logged(bridge, log_capture):
    def app(environ, start_response):
        raise RuntimeError("broken-before-anything")

    b = bridge(app)
    code, headers, raw = _exchange(b.listener)
    assert code == 500
    [failure] = _wsgi_failures(log_capture)
    assert "broken-before-anything" in str(failure["log_failure"].value)


def test_exception_after_a_streamed_piece_cuts_the_answer(bridge, log_capture):
    def pieces():
        yield b"partial"
        raise RuntimeError("broken-mid-stream")

    stream = Closing(pieces)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream

    b = bridge(app)
    code, headers, raw = _exchange(b.listener)
    assert code == 200  # already sent
    assert _values(headers, "transfer-encoding") == ["chunked"]
    body, complete = _dechunk(raw)
    assert body == b"partial"
    assert not complete, f"a broken answer must not look complete: {raw!r}"
    # (Twisted's WSGIResource does not call close() when the iteration raises)
    [failure] = _wsgi_failures(log_capture)
    assert "broken-mid-stream" in str(failure["log_failure"].value)


# -- a client that goes away --


def test_client_gone_mid_stream_stops_the_iteration(bridge, log_capture):
    limit = 20000
    client_closed = threading.Event()

    def pieces():
        yield b"first"
        assert client_closed.wait(10)
        for _ in range(limit):
            yield b"x" * 1024

    stream = Closing(pieces)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream

    b = bridge(app)
    with _connect(b.listener) as sock:
        _send(sock)
        _recv_until(sock, b"first")
    # the root stops counting it: a drain does not wait for a client that left
    wait_for(lambda: in_reactor(b.root.status)["pending"] == 0, what="the request given up")
    client_closed.set()
    assert stream.closed.wait(5), "close() was not called"
    # "first", then at most the piece that was in hand when it noticed
    assert stream.produced <= 2, f"{stream.produced} pieces produced for nobody"
    b.idle()
    assert log_capture.failures() == []


# -- through Django, many at once --


def test_many_concurrent_django_requests_get_their_own_answers(django_site):
    site = django_site(maxthreads=10)
    threads, per_thread = 30, 20
    start = threading.Barrier(threads)

    def client(t):
        start.wait(5)
        conn = site.listener.connection(timeout=10)
        wrong, right = [], 0
        try:
            for r in range(per_thread):
                code, _headers, body = request(conn, f"/echo/t{t}/r{r}?who=t{t}-r{r}")
                got = json.loads(body) if code == 200 else None
                if (
                    got is None
                    or got["path"] != f"/echo/t{t}/r{r}"
                    or got["query"] != f"who=t{t}-r{r}"
                ):
                    wrong.append((r, code, body[:200]))
                else:
                    right += 1
        finally:
            conn.close()
        return right, wrong

    with ThreadPoolExecutor(threads) as ex:
        results = list(ex.map(client, range(threads), timeout=60))
    assert [w for _, w in results if w] == []
    assert sum(right for right, _ in results) == threads * per_thread
    wait_for(lambda: in_reactor(site.root.status)["pending"] == 0, timeout=5, what="none pending")
