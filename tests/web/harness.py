"""Run Twisted for the web tests: one reactor thread, real listeners, real clients.

The reactor runs in a background thread for the duration of the
``tests/web`` package (see ``conftest.py``); tests talk to it only through
``in_reactor`` and real sockets.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time

from twisted.internet import reactor
from twisted.internet.threads import blockingCallFromThread


def in_reactor(fn, *args, **kwargs):
    """Call ``fn`` in the reactor thread; wait for it (and its Deferred)."""
    return blockingCallFromThread(reactor, fn, *args, **kwargs)


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
