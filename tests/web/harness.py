"""Twisted for the web tests, the reliability stack and the portal bench:
free ports, a portal (our proxy in front of a backend), a reactor thread,
real listeners and real clients, built here once.

In ``tests/web`` the reactor runs in a background thread for the whole
package (``ReactorThread``, started by ``conftest.py``); tests talk to it
only through ``in_reactor`` and real sockets. ``portal_site`` builds the
portal's site in whatever thread runs the reactor (the reliability
``webstack`` process, ``bench/portal_bench.py``).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time

from twisted.internet import reactor
from twisted.internet.threads import blockingCallFromThread

from contrib_awsstorage.web.hold import HoldLimits
from contrib_awsstorage.webserver import EvenniaReverseProxyResource, Website


def in_reactor(fn, *args, **kwargs):
    """Call ``fn`` in the reactor thread; wait for it (and its Deferred)."""
    return blockingCallFromThread(reactor, fn, *args, **kwargs)


class ReactorThread:
    """The global reactor, running in a background thread until ``stop()``.

    A reactor cannot be restarted: stop it once, when nothing else in the
    process will want one.
    """

    def __init__(self):
        self.thread = threading.Thread(
            target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True
        )
        self.thread.start()
        in_reactor(lambda: None)  # returns once the reactor runs

    def stop(self, timeout=10.0):
        reactor.callFromThread(reactor.stop)
        self.thread.join(timeout)


def free_port(host="127.0.0.1") -> int:
    """A loopback port nobody listens on now: a backend that is down, or
    one that starts later on a known port."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def portal_site(
    backend_port,
    *,
    backend_host="127.0.0.1",
    timeout=None,
    hold=None,
    pool_size=None,
    clock=None,
    **site_kwargs,
):
    """The portal as Evennia's builds it: our proxy in front of
    ``backend_host:backend_port``, as the root of a portal ``Website``.

    ``timeout`` (backend answer), ``hold`` (``HoldLimits`` or its keyword
    arguments) and ``pool_size`` default to the settings; ``clock`` runs the
    proxy's timers (default: the reactor). The proxy is ``site.resource``.
    """
    if isinstance(hold, dict):
        hold = HoldLimits(**hold)
    proxy = EvenniaReverseProxyResource(
        backend_host,
        backend_port,
        b"",
        timeout=timeout,
        hold_limits=hold,
        pool_size=pool_size,
        clock=clock,
    )
    return Website(proxy, is_portal=True, **site_kwargs)


class Listener:
    """A site listening on a free loopback port, closed by ``close()``."""

    def __init__(self, factory, interface="127.0.0.1"):
        self.port = in_reactor(reactor.listenTCP, 0, factory, interface=interface)
        self.host = interface
        self.number = self.port.getHost().port

    def connection(self, timeout=10, source=None):
        return http.client.HTTPConnection(
            self.host, self.number, timeout=timeout, source_address=source
        )

    def close(self):
        if self.port is not None:
            port, self.port = self.port, None
            in_reactor(port.stopListening)


class Portal(Listener):
    """A portal (``portal_site``) on a free loopback port, driven from a test
    thread while the reactor runs in its own (``ReactorThread``).

    Test defaults: 10 s to answer, a hold of 10 s, 4 backend connections.
    ``clock`` (a ``task.Clock``) makes its timers wait for ``advance``.
    """

    def __init__(self, backend_port, *, timeout=10.0, hold=None, pool_size=4, clock=None, **kw):
        hold = dict({"timeout": 10.0}, **(hold or {}))
        site = in_reactor(
            portal_site,
            backend_port,
            timeout=timeout,
            hold=hold,
            pool_size=pool_size,
            clock=clock,
            **kw,
        )
        super().__init__(site)
        self.site, self.proxy, self.clock = site, site.resource, clock

    def status(self) -> dict:
        """The hold's counters (``Hold.status``)."""
        return in_reactor(self.proxy.hold.status)

    def wait_held(self, n, what="held requests"):
        wait_for(lambda: self.status()["held"] == n, what=f"{n} {what}")

    def wait_idle(self):
        """Until every request the portal took is answered (or its client gone)."""
        wait_for(lambda: self.status()["active"] == 0, what="the portal idle")

    def advance(self, seconds):
        """Move the portal's clock (a ``task.Clock``) on, in the reactor thread."""
        in_reactor(self.clock.advance, seconds)

    def close(self):
        super().close()
        in_reactor(self.proxy.close)


def get(listener, path, headers=(), method="GET", body=None, timeout=10, source=None):
    """One request on a fresh connection -> (status, headers dict, body bytes)."""
    conn = listener.connection(timeout=timeout, source=source)
    try:
        return request(conn, path, headers, method, body)
    finally:
        conn.close()


def request(conn, path, headers=(), method="GET", body=None):
    """One request on ``conn`` (kept alive). ``headers``: (name, value) pairs,
    repeated names sent as separate field lines."""
    own_host = any(name.lower() == "host" for name, _ in headers)
    conn.putrequest(method, path, skip_host=own_host, skip_accept_encoding=True)
    for name, value in headers:
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def raw_get(port, raw_path: bytes, host="127.0.0.1", timeout=10):
    """Send a request line byte-for-byte (no client-side normalisation)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(b"GET " + raw_path + b" HTTP/1.0\r\nHost: test\r\n\r\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def wait_for(predicate, timeout=10.0, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class LogCapture:
    """Collect Twisted log events (from any thread) for assertions."""

    def __init__(self):
        self.events = []
        self._lock = threading.Lock()

    def __call__(self, event):
        with self._lock:
            self.events.append(event)

    def texts(self):
        from twisted.logger import formatEvent

        with self._lock:
            return [formatEvent(e) for e in self.events]

    def failures(self):
        with self._lock:
            return [e for e in self.events if "log_failure" in e or e.get("isError")]
