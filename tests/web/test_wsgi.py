"""Our WSGI bridge (``contrib_awsstorage.web.wsgi``) replaces Twisted's: it must
build the same environ and keep PEP 3333's promises (streaming, ``write``,
errors, disconnects) while sending in-memory answers in one hop."""

from __future__ import annotations

import itertools
import json
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from twisted.internet import reactor
from twisted.web import resource
from twisted.web import wsgi as twisted_wsgi

from contrib_awsstorage.web.wsgi import WSGIResource
from contrib_awsstorage.webserver import LockableThreadPool, Website

from .harness import Listener, in_reactor, request, wait_for

_names = itertools.count(1)


# -- a plain WSGI bridge on a real listener --


class Bridge:
    """``WSGIResource(reactor, pool, app)`` (ours, or ``twisted_class``) under
    ``mount`` (the site root if None) behind a Website on a free port."""

    def __init__(self, app, mount=None, resource_class=WSGIResource, maxthreads=4, track=False):
        self.pool = LockableThreadPool(
            minthreads=1, maxthreads=maxthreads, name=f"test-wsgi-{next(_names)}"
        )
        self.resource = resource_class(reactor, self.pool, app)
        if track:
            self.root = _Tracking(self.resource)
        elif mount is None:
            self.root = self.resource
        else:
            self.root = resource.Resource()
            self.root.putChild(mount, self.resource)
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


class _Tracking(resource.Resource):
    """A root in front of the bridge that sets ``lost`` when a request's
    client went away before its answer finished (as DjangoWebRoot tracks)."""

    def __init__(self, child):
        super().__init__()
        self.child = child
        self.lost = threading.Event()

    def getChildWithDefault(self, name, request):
        request.postpath.insert(0, request.prepath.pop())
        request.notifyFinish().addErrback(lambda _failure: self.lost.set())
        return self.child


@pytest.fixture
def bridge(running_reactor):
    made = []

    def make(app, **kwargs):
        made.append(Bridge(app, **kwargs))
        return made[-1]

    yield make
    for b in made:
        b.close()


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


# -- the environ --


def _recording_app(records):
    def app(environ, start_response):
        record = dict(environ)
        stream = environ["wsgi.input"]
        record["input: readline"] = stream.readline()
        record["input: read"] = stream.read()
        record["input: read at end"] = stream.read()
        errors = environ["wsgi.errors"]
        errors.write("environ-test-error-line\n")
        errors.writelines(["environ-test-more\n"])
        errors.flush()
        try:
            errors.write(b"bytes")
        except TypeError:
            record["errors: bytes"] = "TypeError"
        else:
            record["errors: bytes"] = "accepted"
        records.append(record)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"recorded"]

    return app


REQUESTS = [
    pytest.param(
        "POST",
        "/mount/caf%C3%A9/x%20y/?a=1&b=%C3%A9&a=2&empty=",
        [
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("Cookie", "a=1; b=2"),
        ],
        b"first line\nsecond=line&x=%C3%A9",
        id="post-query-non-ascii-repeated",
    ),
    pytest.param("GET", "/mount", [("Accept", "*/*")], None, id="bare-mount"),
    pytest.param("GET", "/mount/deep/er?", [], None, id="empty-query"),
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("method, path, headers, body", REQUESTS)
def test_environ_is_twisteds_key_for_key(running_reactor, log_capture, method, path, headers, body):
    records = []
    app = _recording_app(records)
    ours = Bridge(app, mount=b"mount")
    theirs = twisted_wsgi.WSGIResource(reactor, ours.pool, app)
    try:
        conn = ours.listener.connection(timeout=5)  # one connection: same REMOTE_PORT
        try:
            answers = [request(conn, path, headers, method, body)]
            in_reactor(ours.root.putChild, b"mount", theirs)
            answers.append(request(conn, path, headers, method, body))
        finally:
            conn.close()
    finally:
        ours.close()

    assert [a[0] for a in answers] == [200, 200]
    assert [a[2] for a in answers] == [b"recorded", b"recorded"]
    mine, twisted = records
    # behaviour, not identity, for the two streams
    for key in ("input: readline", "input: read", "input: read at end", "errors: bytes"):
        assert mine.pop(key) == twisted.pop(key), key
    for stream in ("wsgi.input", "wsgi.errors"):
        assert mine.pop(stream) is not None and twisted.pop(stream) is not None
    assert mine == twisted
    # what the bridge must have seen (so an environ both get wrong still fails)
    if body is not None:
        assert mine["PATH_INFO"] == "/caf\u00c3\u00a9/x y/"  # unquoted bytes, as latin-1
        assert mine["SCRIPT_NAME"] == "/mount"
        assert mine["QUERY_STRING"] == "a=1&b=%C3%A9&a=2&empty="
        assert mine["HTTP_X_MULTI"] == "one,two"
        assert mine["CONTENT_TYPE"] == "application/x-www-form-urlencoded; charset=utf-8"
        assert mine["CONTENT_LENGTH"] == str(len(body))
        assert "HTTP_CONTENT_TYPE" in mine  # Twisted keeps the HTTP_ copies too
    texts = log_capture.texts()
    assert sum("environ-test-error-line" in t for t in texts) == 2  # one per bridge


def test_input_reads_the_body_in_pieces(bridge):
    seen = []

    def app(environ, start_response):
        stream = environ["wsgi.input"]
        seen.append([stream.read(3), stream.readline(), stream.readlines(), stream.read(10)])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    b = bridge(app)
    conn = b.listener.connection(timeout=5)
    try:
        assert request(conn, "/", method="PUT", body=b"abcdef\nline2\nline3")[0] == 200
    finally:
        conn.close()
    assert seen == [[b"abc", b"def\n", [b"line2\n", b"line3"], b""]]


# -- answers in memory: one hop, with a length --


class _DjangoLike:
    """What Django's ``HttpResponse`` looks like to a server."""

    streaming = False

    def __init__(self, pieces):
        self._pieces = pieces
        self.closed = threading.Event()

    def __iter__(self):
        return iter(self._pieces)

    def close(self):
        self.closed.set()


def _fixed_app(status, pieces, headers=(), make=list):
    made = []

    def app(environ, start_response):
        start_response(status, [("Content-Type", "text/plain"), *headers])
        made.append(make(pieces))
        return made[-1]

    app.made = made
    return app


@pytest.mark.parametrize(
    "make", [list, tuple, _DjangoLike], ids=["list", "tuple", "streaming-False"]
)
def test_in_memory_answer_gets_its_content_length_and_no_chunks(bridge, make):
    app = _fixed_app("200 OK", [b"hel", b"", b"lo w", b"orld", "\u00e9".encode()], make=make)
    b = bridge(app)
    code, headers, body = _exchange(b.listener)
    assert code == 200
    assert _values(headers, "content-length") == [str(len("hello world\u00e9".encode()))]
    assert _values(headers, "transfer-encoding") == []
    assert body == "hello world\u00e9".encode()
    if make is _DjangoLike:
        assert app.made[0].closed.wait(2)


def test_empty_in_memory_answer_has_length_zero(bridge):
    b = bridge(_fixed_app("200 OK", []))
    code, headers, body = _exchange(b.listener)
    assert (code, _values(headers, "content-length"), body) == (200, ["0"], b"")
    assert _values(headers, "transfer-encoding") == []


def test_app_set_content_length_is_not_doubled(bridge):
    b = bridge(_fixed_app("200 OK", [b"12345"], headers=[("Content-Length", "5")]))
    code, headers, body = _exchange(b.listener)
    assert (code, _values(headers, "content-length"), body) == (200, ["5"], b"12345")


def test_head_gets_no_added_length_and_no_body(bridge):
    b = bridge(_fixed_app("200 OK", [b"a body a GET would get"]))
    code, headers, body = _exchange(b.listener, method="HEAD")
    assert code == 200
    assert _values(headers, "content-length") == []
    assert _values(headers, "transfer-encoding") == []
    assert body == b""
    # the GET on the same app does get it
    assert _values(_exchange(b.listener)[1], "content-length") == ["22"]


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_length_on_204_and_304(bridge, status):
    b = bridge(_fixed_app(status, []))
    code, headers, body = _exchange(b.listener)
    assert code == int(status[:3])
    assert _values(headers, "content-length") == []
    assert _values(headers, "transfer-encoding") == []
    assert body == b""


def test_http10_in_memory_answer_has_length(bridge):
    b = bridge(_fixed_app("200 OK", [b"old ", b"client"]))
    code, headers, body = _exchange(b.listener, version="HTTP/1.0")
    assert (code, _values(headers, "content-length"), body) == (200, ["10"], b"old client")


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


def test_write_callable_pieces_arrive_in_order_as_written(bridge):
    gate = threading.Event()

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"one ")
        assert gate.wait(10)
        write(b"two ")
        write(b"three")
        return []

    b = bridge(app)
    with _connect(b.listener) as sock:
        _send(sock)
        data = _recv_until(sock, b"4\r\none \r\n")  # written before the app went on
        gate.set()
        data = _recv_all(sock, data)
    code, headers, raw = _parse(data)
    assert code == 200
    assert _values(headers, "content-length") == []  # sent before its length was known
    assert _dechunk(raw) == (b"one two three", True)


def test_write_callable_then_a_list_keeps_the_order(bridge):
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"a")
        write(b"b")
        return [b"c", b"d"]

    b = bridge(app)
    code, headers, raw = _exchange(b.listener)
    assert code == 200
    assert _values(headers, "content-length") == []
    assert _dechunk(raw) == (b"abcd", True)


def test_empty_stream_is_a_complete_empty_answer(bridge):
    stream = Closing(lambda: iter(()))

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream

    code, headers, raw = _exchange(bridge(app).listener)
    assert code == 200
    assert _dechunk(raw) == (b"", True)
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


def test_exception_in_the_first_piece_is_a_500_and_closes(bridge, log_capture):
    def pieces():
        raise RuntimeError("broken-first-piece")
        yield b"never"

    stream = Closing(pieces)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-App", "1")])
        return stream

    b = bridge(app)
    code, headers, raw = _exchange(b.listener)
    assert code == 500
    assert stream.closed.wait(2)
    [failure] = _wsgi_failures(log_capture)
    assert "broken-first-piece" in str(failure["log_failure"].value)


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
    assert stream.closed.wait(2)
    [failure] = _wsgi_failures(log_capture)
    assert "broken-mid-stream" in str(failure["log_failure"].value)


def test_exception_in_close_after_an_in_memory_body_is_a_500(bridge, log_capture):
    class BadClose(list):
        def close(self):
            raise RuntimeError("broken-close")

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return BadClose([b"looks fine"])

    code, _headers, _raw = _exchange(bridge(app).listener)
    assert code == 500
    [failure] = _wsgi_failures(log_capture)
    assert "broken-close" in str(failure["log_failure"].value)


def test_exc_info_before_sending_replaces_the_answer(bridge, log_capture):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
        try:
            raise ValueError("handled")
        except ValueError:
            start_response("503 Try Later", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"error page"]

    code, headers, body = _exchange(bridge(app).listener)
    assert (code, body) == (503, b"error page")
    assert _values(headers, "x-first") == []
    assert _values(headers, "content-length") == ["10"]
    assert _wsgi_failures(log_capture) == []


def test_exc_info_after_sending_is_reraised_and_cuts(bridge, log_capture):
    reraised = []

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"sent")
        try:
            raise ValueError("late-trouble")
        except ValueError:
            try:
                start_response("500 Oops", [], sys.exc_info())
            except ValueError as e:
                reraised.append(e)
                raise
        return [b"unreachable"]

    code, headers, raw = _exchange(bridge(app).listener)
    assert code == 200
    assert _dechunk(raw) == (b"sent", False)
    assert [str(e) for e in reraised] == ["late-trouble"]
    [failure] = _wsgi_failures(log_capture)
    assert "late-trouble" in str(failure["log_failure"].value)


def test_logged_failure_carries_the_exception_and_its_traceback(bridge, log_capture):
    def app_that_breaks(environ, start_response):
        raise KeyError("traceback-wanted")

    assert _exchange(bridge(app_that_breaks).listener)[0] == 500
    [event] = _wsgi_failures(log_capture)
    failure = event["log_failure"]
    assert failure.type is KeyError
    assert isinstance(failure.value, KeyError)
    assert "traceback-wanted" in failure.getErrorMessage()
    assert "app_that_breaks" in failure.getTraceback()
    [text] = [t for t in log_capture.texts() if "WSGI application error" in t]
    assert "UNABLE TO OBTAIN TRACEBACK" not in text


@pytest.mark.parametrize("streamed", [False, True], ids=["in-memory", "streamed"])
def test_no_start_response_is_a_500_that_says_so(bridge, log_capture, streamed):
    stream = Closing(lambda: iter([b"orphan body"]))

    def app(environ, start_response):
        return stream if streamed else [b"orphan body"]

    code, _headers, raw = _exchange(bridge(app).listener)
    assert code == 500
    assert b"orphan body" not in raw
    if streamed:
        assert stream.closed.wait(2)
    [event] = _wsgi_failures(log_capture)
    assert "start_response" in str(event["log_failure"].value)


@pytest.mark.parametrize(
    "status, headers, error, words",
    [
        (b"200 OK", [], TypeError, "status must be str"),
        ("200", [], ValueError, "'200'"),
        ("OK 200", [], ValueError, "'OK 200'"),
        ("200 OK", [("X-Number", 1)], TypeError, "('X-Number', 1)"),
        ("200 OK", [(b"X-Bytes", "v")], TypeError, "b'X-Bytes'"),
        ("200 OK", [("X-Three", "a", "b")], TypeError, "X-Three"),
        ("200 OK", "X-Str: v", TypeError, "headers must be a list"),
    ],
    ids=[
        "status-bytes",
        "no-reason",
        "reason-first",
        "value-int",
        "name-bytes",
        "three-items",
        "headers-str",
    ],
)
def test_bad_start_response_arguments_are_a_500_naming_the_problem(
    bridge, log_capture, status, headers, error, words
):
    raised = []

    def app(environ, start_response):
        try:
            start_response(status, headers)
        except Exception as e:
            raised.append(e)
            raise
        return [b"not sent"]

    code, _headers, raw = _exchange(bridge(app).listener)
    assert code == 500
    assert b"not sent" not in raw
    assert [type(e) for e in raised] == [error]  # raised to the application, at once
    [failure] = _wsgi_failures(log_capture)
    assert failure["log_failure"].type is error
    assert words in str(failure["log_failure"].value)


@pytest.mark.parametrize("streamed", [False, True], ids=["in-memory", "streamed"])
def test_header_value_outside_latin1_is_a_500(bridge, log_capture, streamed):
    """PEP 3333: header values are latin-1; one that is not cannot be sent.
    Nothing went out, so the client must get a 500, not a dropped connection."""

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Euro", "\u20ac")])
        return Closing(lambda: iter([b"body"])) if streamed else [b"body"]

    code, headers, raw = _exchange(bridge(app).listener)  # raises if the head never came
    assert code == 500
    assert b"body" not in raw
    assert len(_wsgi_failures(log_capture)) == 1


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

    b = bridge(app, track=True)
    with _connect(b.listener) as sock:
        _send(sock)
        _recv_until(sock, b"first")
    assert b.root.lost.wait(5), "the server never saw the client leave"
    client_closed.set()
    assert stream.closed.wait(5), "close() was not called"
    # "first", then at most the piece that was in hand when it noticed
    assert stream.produced <= 2, f"{stream.produced} pieces produced for nobody"
    b.idle()
    assert log_capture.failures() == []


def test_client_gone_before_a_streamed_answer_starts(bridge, log_capture):
    started = threading.Event()
    client_closed = threading.Event()

    def pieces():
        for n in range(1000):
            yield b"piece %d\n" % n

    stream = Closing(pieces)

    def app(environ, start_response):
        started.set()
        assert client_closed.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream

    b = bridge(app, track=True)
    with _connect(b.listener) as sock:
        _send(sock)
        assert started.wait(5)
    assert b.root.lost.wait(5), "the server never saw the client leave"
    client_closed.set()
    assert stream.closed.wait(5)
    b.idle()
    assert stream.produced <= 1
    assert log_capture.failures() == []


# -- fields the server owns --


@pytest.mark.parametrize("streamed", [False, True], ids=["in-memory", "streamed"])
def test_app_server_and_date_fields_are_dropped(bridge, streamed):
    def app(environ, start_response):
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("sErVeR", "evil/6.6"),
                ("Date", "Thu, 01 Jan 1970 00:00:00 GMT"),
                ("X-Kept", "yes"),
                ("X-Kept", "twice"),
            ],
        )
        return Closing(lambda: iter([b"body"])) if streamed else [b"body"]

    code, headers, _raw = _exchange(bridge(app).listener)
    assert code == 200
    [server] = _values(headers, "server")
    assert "evil" not in server
    [date] = _values(headers, "date")
    assert "1970" not in date
    assert _values(headers, "x-kept") == ["yes", "twice"]


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
