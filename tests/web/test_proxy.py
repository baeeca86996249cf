"""The portal's reverse proxy in front of a real server-side site."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from twisted.internet import protocol, reactor, task
from twisted.web import resource, server

from contrib_awsstorage.webserver import EvenniaReverseProxyResource, Website

from .harness import Listener, free_port, get, in_reactor, request, wait_for

CLIENT = "127.0.0.2"  # Linux routes all of 127/8 to loopback: a client that is not the portal


@pytest.fixture
def chain(django_site, portals):
    server = django_site(maxthreads=6, trusted_upstreams=["127.0.0.1"])
    return server, portals(server.listener.number)


def _echo(portal, path, **kw):
    code, headers, body = get(portal, path, source=(CLIENT, 0), **kw)
    assert code == 200, (code, body)
    return json.loads(body), headers


def test_django_sees_the_true_client(chain):
    _server, portal = chain
    data, _ = _echo(portal, "/echo/x")
    assert data["remote"] == CLIENT
    assert data["xff"] == CLIENT
    spoofed, _ = _echo(portal, "/echo/x", headers=[("X-Forwarded-For", "6.6.6.6")])
    assert spoofed["remote"] == CLIENT
    assert spoofed["xff"] == "6.6.6.6, " + CLIENT


def test_keep_alive_client_through_proxy(chain):
    _server, portal = chain
    conn = portal.connection()
    conn.source_address = (CLIENT, 0)
    try:
        for n in range(3):
            code, _, body = request(conn, f"/echo/k{n}?n={n}")
            assert code == 200 and json.loads(body)["query"] == f"n={n}"
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_methods_queries_bodies_and_non_ascii_paths(chain, method):
    _server, portal = chain
    body = None if method in ("GET", "DELETE") else "héllo wörld\x00\xff".encode("latin-1")
    data, _ = _echo(
        portal,
        "/echo/caf%C3%A9/a%20b/%E2%9C%93?x=1&y=%C3%A9&z=a+b",
        method=method,
        body=body,
        headers=[("Host", "game.example.org")],
    )
    assert data["method"] == method
    assert data["path"] == "/echo/café/a b/✓"
    assert data["query"] == "x=1&y=%C3%A9&z=a+b"
    assert data["body"] == (body.decode("latin-1") if body else "")
    assert data["host"] == "game.example.org"  # Django sees the public host


def test_head_and_status_codes_pass(chain):
    _server, portal = chain
    code, _, _ = get(portal, "/no-such-page/")
    assert code == 404
    code, headers, body = get(portal, "/hello/", method="HEAD")
    assert code == 200 and body == b""
    assert headers.get("content-length") == "5"  # what the GET would carry


def test_backend_down_is_held_then_503_with_retry_after(portals):
    """Refused: nothing reached the server, so the request waits for it
    (``AWSSTORAGE_WEB_HOLD_TIMEOUT``), then gets 503 + Retry-After."""
    portal = portals(free_port(), hold={"timeout": 0.5}, clock=task.Clock())
    with ThreadPoolExecutor(1) as ex:
        answer = ex.submit(get, portal, "/hello/")
        portal.wait_held(1)
        portal.advance(0.49)
        assert portal.status()["held"] == 1 and not answer.done()
        portal.advance(0.01)  # the hold's time limit
        code, headers, body = answer.result(timeout=10)
    assert code == 503 and b"503" in body
    assert int(headers["retry-after"]) > 0


class _Silent(protocol.Protocol):
    """Accepts the connection, reads the request, never answers."""

    received = None  # set per test: a list of what arrived

    def dataReceived(self, data):
        self.received.append(data)


def _until_timeout(portal, arrived, timeout, path):
    """GET ``path`` through ``portal``; once ``arrived()`` says the backend has
    it, move the clock to just before, then to, the proxy's ``timeout``."""
    with ThreadPoolExecutor(1) as ex:
        answer = ex.submit(get, portal, path)
        wait_for(arrived, what="the request at the backend")
        portal.advance(timeout - 0.01)
        assert not answer.done()
        portal.advance(0.01)
        return answer.result(timeout=10)


def test_backend_silent_gives_504_at_the_timeout(portals):
    received = []
    factory = protocol.Factory.forProtocol(type("Silent", (_Silent,), {"received": received}))
    backend = Listener(factory)
    portal = portals(backend.number, timeout=0.5, clock=task.Clock())
    try:
        code, _, _ = _until_timeout(portal, lambda: received, 0.5, "/hello/")
        assert code == 504
    finally:
        backend.close()


def test_504_also_on_a_pooled_connection(django_site, portals):
    """The timeout holds for a request sent on a kept-alive backend
    connection too, not only on a new one."""
    from . import views

    views.RELEASE_HANGING.clear()
    server = django_site(maxthreads=4, trusted_upstreams=["127.0.0.1"])
    portal = portals(server.listener.number, timeout=0.5, clock=task.Clock())
    try:
        assert get(portal, "/hello/")[0] == 200  # the backend connection is now pooled
        hanging = lambda: in_reactor(server.root.status)["pending"] == 1  # noqa: E731
        code, _, _ = _until_timeout(portal, hanging, 0.5, "/hang/")
        assert code == 504
    finally:
        views.RELEASE_HANGING.set()


def test_client_disconnecting_early_causes_no_traceback(chain, portals, log_capture):
    """Clients hang up while Django works on their requests: the portal lets
    go of the backend side at once (its 300 s timeout plays no part), and
    Django's late answers go nowhere."""
    from . import views

    server, _ = chain
    portal = portals(server.listener.number, timeout=300)
    pending = lambda: in_reactor(server.root.status)["pending"]  # noqa: E731
    views.RELEASE_HANGING.clear()
    try:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", portal.number))
            sock.sendall(b"GET /hang/ HTTP/1.1\r\nHost: x\r\n\r\n")
            wait_for(lambda: pending() == 1, what="the request in Django")
            sock.close()
            portal.wait_idle()  # the portal let go...
            wait_for(lambda: pending() == 0, what="the backend connection closed")  # ...at once
    finally:
        views.RELEASE_HANGING.set()
    assert log_capture.failures() == []
    assert get(portal, "/hello/")[2] == b"hello"  # and it keeps serving


def test_proxy_getchild_quotes_segments():
    root = EvenniaReverseProxyResource("127.0.0.1", 1, "", reactor=reactor, timeout=1)
    child = root.getChild(b"a b/c", None).getChild("é".encode(), None)
    assert child.path == b"/a%20b%2Fc/%C3%A9"
    assert isinstance(child, EvenniaReverseProxyResource) and child.timeout == 1


def test_listener_replaced_while_held_is_bridged(django_site, portals):
    """A reload swaps the server's listener: requests in the gap still get 200."""
    server = django_site(maxthreads=2)
    port = server.listener.number
    portal = portals(port)
    server.listener.close()
    with ThreadPoolExecutor(1) as ex:
        answer = ex.submit(get, portal, "/hello/")
        portal.wait_held(1)  # refused: no one listens
        server.listener = in_reactor(_relisten, server, port)
        code, _, body = answer.result(timeout=10)
    assert (code, body) == (200, b"hello")


def _relisten(server, port):
    listener = object.__new__(Listener)
    listener.port = reactor.listenTCP(port, server.site, interface="127.0.0.1")
    listener.host, listener.number = "127.0.0.1", port
    return listener


def test_large_body_streams_through(chain):
    import hashlib

    _server, portal = chain
    body = bytes(range(256)) * (4 * 4096)  # 4 MiB, past Twisted's in-memory spool size
    code, _, data = get(portal, "/size/", method="POST", body=body)
    assert code == 200
    assert data.decode() == f"{len(body)} {hashlib.md5(body).hexdigest()}"


_WARNINGS_PROBE = r"""
import json, sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from twisted.internet import reactor
    from twisted.web.client import Agent, readBody
    from contrib_awsstorage.webserver import DjangoWebRoot, LockableThreadPool, Website

    def hello(environ, start_response):  # the server side: our root, pool and WSGI bridge
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello " + environ["REQUEST_METHOD"].encode()]

    pool = LockableThreadPool(1, 2)
    pool.start()
    backend = reactor.listenTCP(0, Website(DjangoWebRoot(pool, application=hello, drain_timeout=5)),
                                interface="127.0.0.1")
    from tests.web.harness import portal_site

    site = portal_site(backend.getHost().port, timeout=5)
    portal = reactor.listenTCP(0, site, interface="127.0.0.1")
    out = {}

    def go():
        url = b"http://127.0.0.1:%d/x" % portal.getHost().port
        d = Agent(reactor).request(b"GET", url)
        d.addCallback(lambda r: readBody(r).addCallback(lambda b: out.update(code=r.code, body=b.decode())))
        d.addErrback(lambda f: out.update(error=str(f)))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.callLater(20, reactor.stop)
    reactor.run()
    pool.stop()
out["ours"] = [f"{w.filename}:{w.lineno}: {w.message}" for w in caught
               if issubclass(w.category, DeprecationWarning) and "contrib_awsstorage" in w.filename]
out["twisted_web_proxy_imported"] = "twisted.web.proxy" in sys.modules
out["httpclient"] = [str(w.message) for w in caught if "HTTPClient" in str(w.message)]
print("RESULT " + json.dumps(out))
"""


def test_no_deprecation_warning_from_our_code_and_no_twisted_web_proxy():
    """Twisted 24.7 deprecated HTTPClient (under twisted.web.proxy): our
    portal neither imports it nor causes any DeprecationWarning, and nor
    does the server side (root, pool, WSGI bridge)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", _WARNINGS_PROBE],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(root)),
    )
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert lines, proc.stdout + proc.stderr
    out = json.loads(lines[-1][7:])
    assert (out.get("code"), out.get("body")) == (200, "hello GET"), out
    assert out["ours"] == [] and out["httpclient"] == []
    assert out["twisted_web_proxy_imported"] is False


class _BigAnswer(resource.Resource):
    """Answers ``size`` bytes in 64 KiB writes, without a Content-Length
    (chunked), honouring the portal's back-pressure."""

    isLeaf = True

    def __init__(self, size):
        super().__init__()
        self.size = size
        self.data = bytes(range(256)) * (self.size // 256)

    def render(self, request):
        from twisted.internet.interfaces import IPushProducer
        from zope.interface import implementer

        data = self.data

        @implementer(IPushProducer)
        class Sender:
            paused = False
            offset = 0

            def pauseProducing(self):
                self.paused = True

            def resumeProducing(self):
                self.paused = False
                reactor.callLater(0, self.send)

            def stopProducing(self):
                self.paused = True

            def send(self):
                while not self.paused and self.offset < len(data):
                    request.write(data[self.offset : self.offset + 65536])
                    self.offset += 65536
                if self.offset >= len(data) and not request.finished:
                    request.unregisterProducer()
                    request.finish()

        sender = Sender()
        request.registerProducer(sender, True)
        sender.send()
        return server.NOT_DONE_YET


def test_large_answer_streams_back(portals):
    import hashlib

    big = _BigAnswer(8 * 1024 * 1024)
    backend = Listener(Website(big))
    portal = portals(backend.number)
    try:
        code, headers, data = get(portal, "/big")
        assert code == 200 and len(data) == big.size
        assert hashlib.md5(data).hexdigest() == hashlib.md5(big.data).hexdigest()
    finally:
        backend.close()
