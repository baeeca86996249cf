"""A loopback HTTP/1.1 proxy in front of an S3 endpoint that adds latency
and injects faults, so tests and benchmarks can show what our code does when
S3 is slow, throttles, errors or drops connections.

In-process::

    with FaultProxy(s3.endpoint_url, delay=0.02) as proxy:
        proxy.set_faults("503", rate=0.1, writes_only=True, seed=1)
        ... point boto3 / AWS_S3_ENDPOINT_URL at proxy.endpoint_url ...
        proxy.stats()  # requests by method, faults by kind, bytes, ...

As its own process (the first stdout line is ``ENDPOINT <url>``)::

    python -m tools.faultproxy --upstream URL --delay 0.02

Control endpoints (never counted, never faulted): ``GET /__faultproxy__/stats``
(JSON), ``POST /__faultproxy__/reset``, ``POST /__faultproxy__/faults`` (JSON
body: the keyword arguments of :meth:`FaultProxy.set_faults`, ``{}`` clears),
``POST /__faultproxy__/delay`` (``{"delay": 0.05}``).

Fault kinds:

- ``"500"``: ``500 InternalError`` (S3 XML error body).
- ``"503"``: ``503 SlowDown`` (S3 XML error body), what S3 sends to throttle.
- ``"reset"``: the connection is reset (TCP RST) instead of an answer.
- ``"stall"``: no answer until the client gives up (its read timeout), the
  stall time passes, or the proxy stops.
- ``"truncate"``: the upstream answer's headers and only half of its body,
  then the connection closes (for a body-less answer: half its status line).

By default a fault replaces the request: S3 never sees it. With
``after_upstream=True`` the request reaches S3 first and the fault replaces
its answer, the ambiguous case where a write happened but the client does
not know. ``truncate`` is always after upstream.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import itertools
import json
import random
import select
import socket
import struct
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["FaultProxy", "FaultRule", "FAULT_KINDS", "WRITE_METHODS", "main"]

FAULT_KINDS = ("500", "503", "reset", "stall", "truncate")
WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})
CONTROL_PREFIX = "/__faultproxy__/"
# Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
_CHUNK = 64 * 1024
# Request bodies up to this size are buffered, so a stale upstream
# keep-alive connection can be retried transparently.
_BUFFER_LIMIT = 1024 * 1024
_ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "502": (502, "BadGateway", "The fault proxy could not reach the upstream endpoint."),
}


@dataclass
class FaultRule:
    """When and how to fail a request.

    ``kind`` is one of :data:`FAULT_KINDS` or a list of them (one is picked
    at random per fault). A request *matches* if its method is a write
    (when ``writes_only``), is in ``methods`` (when given) and its path and
    query contain ``match`` (when given). Matching requests are numbered
    from 1 since the rule was set; the rule fires on the ``nth`` (an int or
    a list), on every ``every``-th, or at random with probability ``rate``
    (seeded by ``seed``), at most ``limit`` times.
    """

    kind: str | list[str] = "503"
    rate: float = 0.0
    nth: int | list[int] | None = None
    every: int | None = None
    writes_only: bool = False
    methods: list[str] | None = None
    match: str | None = None
    limit: int | None = None
    after_upstream: bool = False
    stall_seconds: float = 60.0
    seed: int | None = None

    def __post_init__(self) -> None:
        kinds = [self.kind] if isinstance(self.kind, str) else list(self.kind)
        for kind in kinds:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; choose from {FAULT_KINDS}")
        if not kinds:
            raise ValueError("a fault rule needs at least one kind")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self._kinds = kinds
        self._nth = {self.nth} if isinstance(self.nth, int) else set(self.nth or ())
        self._methods = {m.upper() for m in self.methods} if self.methods else None
        self._rng = random.Random(self.seed)
        self._seen = 0
        self._fired = 0

    def to_dict(self) -> dict:
        return {**asdict(self), "seen": self._seen, "fired": self._fired}

    def decide(self, method: str, target: str) -> str | None:
        """The fault kind for this request, or None. Caller holds the lock."""
        if self.writes_only and method not in WRITE_METHODS:
            return None
        if self._methods is not None and method not in self._methods:
            return None
        if self.match is not None and self.match not in target:
            return None
        self._seen += 1
        if self.limit is not None and self._fired >= self.limit:
            return None
        if self._nth or self.every:
            fire = self._seen in self._nth or bool(self.every and self._seen % self.every == 0)
        else:
            fire = self._rng.random() < self.rate
        if not fire:
            return None
        self._fired += 1
        return self._kinds[0] if len(self._kinds) == 1 else self._rng.choice(self._kinds)


class _Stats:
    """Counters shared by every handler thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.by_method: Counter = Counter()
        self.faults: Counter = Counter()
        self.fault_log: deque = deque(maxlen=1000)
        self.status: Counter = Counter()
        self.requests = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.upstream_errors = 0
        self.connections = 0
        self.max_active = 0
        self.delayed = 0  # requests held back by ``delay``
        self.delay_seconds = 0.0  # the delays applied, summed

    def snapshot(self, active: int) -> dict:
        return {
            "requests": self.requests,
            "by_method": dict(self.by_method),
            "by_status": {str(k): v for k, v in self.status.items()},
            "faults": dict(self.faults),
            "faults_total": sum(self.faults.values()),
            "fault_log": list(self.fault_log),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "upstream_errors": self.upstream_errors,
            "connections": self.connections,
            "active_connections": active,
            "max_active_connections": self.max_active,
            "delayed": self.delayed,
            "delay_seconds": self.delay_seconds,
        }


class _ClientGone(Exception):
    """The client closed or broke its connection; nothing more to send."""


class _Handler(BaseHTTPRequestHandler):
    """One client connection (keep-alive): forwards each request upstream."""

    protocol_version = "HTTP/1.1"
    server_version = "faultproxy"
    timeout = 300  # an idle keep-alive client frees its thread after this
    proxy: FaultProxy  # set on the per-proxy subclass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._upstream: http.client.HTTPConnection | None = None
        self.proxy._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self._close_upstream()
            self.proxy._connection_closed(self.connection)

    def log_message(self, format, *args) -> None:  # noqa: A002 - stdlib name
        pass  # quiet: the stats say what happened

    # Every method goes through one path.
    def do_GET(self):
        self._handle()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    # -- request flow -------------------------------------------------------
    def _handle(self) -> None:
        method = self.command.upper()
        if self.path.startswith(CONTROL_PREFIX):
            self._control(method)
            return
        proxy = self.proxy
        rule, kind = proxy._decide(method, self.path)
        delay = proxy.delay
        if delay > 0:
            proxy._delaying(delay)
            time.sleep(delay)
        try:
            if kind is None:
                self._forward(method)
            elif kind == "truncate" or rule.after_upstream:
                self._forward(method, fault=kind, rule=rule)
            else:
                self._drain_body()
                self._inject(kind, rule, method)
        except _ClientGone:
            self.close_connection = True
            self._close_upstream()  # it may be mid-answer

    def _forward(
        self, method: str, fault: str | None = None, rule: FaultRule | None = None
    ) -> None:
        body = self._body_source()
        try:
            response = self._send_upstream(method, body)
        except (OSError, http.client.HTTPException):
            self.proxy._count(upstream_error=True)
            self._close_upstream()
            if not isinstance(body[1], bytes):  # a streamed body may be half read: hang up after
                self.close_connection = True
            self._send_error("502", method)
            return
        if fault is not None and fault != "truncate":
            try:
                response.read()
            except (OSError, http.client.HTTPException):
                self._close_upstream()
            self._inject(fault, rule, method)
            return
        self._relay(response, method, truncate=fault == "truncate")

    def _send_upstream(self, method: str, body) -> http.client.HTTPResponse:
        """Send the request upstream; one retry on a stale keep-alive socket."""
        chunked, data = body
        for attempt in (1, 2):
            conn = self._upstream_connection()
            try:
                conn.putrequest(method, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        conn.putheader(name, value)
                if chunked:
                    conn.putheader("Transfer-Encoding", "chunked")
                else:
                    conn.putheader(
                        "Content-Length", str(data if isinstance(data, int) else len(data))
                    )
                conn.endheaders()
                if chunked:
                    for piece in self._read_chunked():
                        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                    conn.send(b"0\r\n\r\n")
                elif isinstance(data, int):
                    self._stream_fixed(data, conn.send)
                elif data:
                    conn.send(data)
                return conn.getresponse()
            except (ConnectionError, http.client.RemoteDisconnected, BrokenPipeError):
                self._close_upstream()
                # Retry only if nothing was consumed from the client stream.
                if attempt == 2 or chunked or isinstance(data, int):
                    raise
        raise AssertionError("unreachable")

    def _relay(self, response: http.client.HTTPResponse, method: str, truncate: bool) -> None:
        status = response.status
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        length = response.getheader("Content-Length")
        use_chunked = not no_body and length is None
        if use_chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        self.proxy._count(status=status)
        head = self._head_bytes(status, response.reason, headers)
        try:
            if truncate:
                self._send_truncated(response, head, no_body, length)
                return
            self._write(head)
            if no_body:
                response.read()
                return
            while True:
                piece = response.read1(_CHUNK) if use_chunked else response.read(_CHUNK)
                if not piece:
                    break
                self._write(b"%x\r\n%s\r\n" % (len(piece), piece) if use_chunked else piece)
            if use_chunked:
                self._write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException):
            # Upstream broke mid-body: the client must not see a clean end.
            self._close_upstream()
            self.close_connection = True
            self.proxy._count(upstream_error=True)
        else:
            if response.will_close:
                self._close_upstream()

    def _send_truncated(self, response, head: bytes, no_body: bool, length: str | None) -> None:
        body = b"" if no_body else response.read()
        self._close_upstream()
        self.close_connection = True
        if not body:  # nothing to cut but the status line itself
            self._write(head[: head.index(b"\r\n") // 2])
            return
        if length is None:  # make the promise explicit, then break it
            head = head.replace(
                b"Transfer-Encoding: chunked\r\n", b"Content-Length: %d\r\n" % len(body)
            )
        self._write(head + body[: len(body) // 2])

    # -- faults ---------------------------------------------------------------
    def _inject(self, kind: str, rule: FaultRule, method: str) -> None:
        if kind in ("500", "503"):
            self._send_error(kind, method)
        elif kind == "reset":
            self._reset()
        elif kind == "stall":
            self._stall(rule.stall_seconds)
        else:  # pragma: no cover - truncate goes through _forward
            raise AssertionError(kind)

    def _send_error(self, code: str, method: str) -> None:
        status, s3code, message = _ERRORS[code]
        rid = f"faultproxy-{next(self.proxy._ids)}"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{s3code}</Code><Message>{message}</Message>"
            f"<RequestId>{rid}</RequestId><HostId>faultproxy</HostId></Error>"
        ).encode()
        headers = [
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(body))),
            ("x-amz-request-id", rid),
        ]
        if status == 503:
            headers.append(("Retry-After", "1"))
        self.proxy._count(status=status)
        self._write(self._head_bytes(status, None, headers) + (b"" if method == "HEAD" else body))

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0, then close)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _stall(self, seconds: float) -> None:
        """Say nothing until the client hangs up, time passes or we stop."""
        self.close_connection = True
        deadline = time.monotonic() + seconds
        sock = self.connection
        while time.monotonic() < deadline and not self.proxy._stopping.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    return  # client closed its end
            except OSError:
                return
        self._reset()

    # -- body plumbing --------------------------------------------------------
    def _body_source(self):
        """(chunked, data): data is bytes (buffered) or an int (stream it)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return True, None
        length = int(self.headers.get("Content-Length") or 0)
        if length <= _BUFFER_LIMIT:
            return False, self._read_exact(length)
        return False, length

    def _drain_body(self) -> None:
        self._drain_rest(self._body_source())

    def _drain_rest(self, body) -> None:
        chunked, data = body
        if chunked:
            for _ in self._read_chunked():
                pass
        elif isinstance(data, int):
            self._stream_fixed(data, lambda piece: None)

    def _read_exact(self, n: int) -> bytes:
        data = self.rfile.read(n) if n else b""
        if len(data) != n:
            raise _ClientGone()
        self.proxy._count(bytes_in=n)
        return data

    def _stream_fixed(self, n: int, sink) -> None:
        while n > 0:
            piece = self.rfile.read(min(n, _CHUNK))
            if not piece:
                raise _ClientGone()
            self.proxy._count(bytes_in=len(piece))
            sink(piece)
            n -= len(piece)

    def _read_chunked(self):
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise _ClientGone()
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers: not forwarded
                return
            piece = self._read_exact(size)
            self.rfile.readline(3)
            yield piece

    # -- output ---------------------------------------------------------------
    def _head_bytes(self, status: int, reason: str | None, headers) -> bytes:
        reason = reason or self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError as exc:
            raise _ClientGone() from exc
        self.proxy._count(bytes_out=len(data))

    # -- upstream connection ------------------------------------------------
    def _upstream_connection(self) -> http.client.HTTPConnection:
        conn = self._upstream
        if conn is not None and conn.sock is not None:
            try:  # a readable idle socket means the upstream closed it
                readable, _, _ = select.select([conn.sock], [], [], 0)
            except (OSError, ValueError):
                readable = True
            if readable:
                self._close_upstream()
                conn = None
        if conn is None:
            host, port = self.proxy._upstream_addr
            conn = http.client.HTTPConnection(host, port, timeout=self.proxy.upstream_timeout)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._upstream = conn
        return conn

    def _close_upstream(self) -> None:
        conn, self._upstream = getattr(self, "_upstream", None), None
        if conn is not None:
            conn.close()

    # -- control ----------------------------------------------------------------
    def _control(self, method: str) -> None:
        action = self.path[len(CONTROL_PREFIX) :].split("?", 1)[0].strip("/")
        raw = self._read_exact(int(self.headers.get("Content-Length") or 0))
        status, payload = 200, None
        try:
            if method == "GET" and action == "stats":
                payload = self.proxy.stats()
            elif method == "POST" and action == "reset":
                self.proxy.reset()
                payload = {"reset": True}
            elif method == "POST" and action == "faults":
                kwargs = json.loads(raw or b"{}")
                self.proxy.set_faults(**kwargs) if kwargs else self.proxy.set_faults(None)
                payload = {"faults": self.proxy.faults()}
            elif method == "POST" and action == "delay":
                self.proxy.delay = float(json.loads(raw or b"{}")["delay"])
                payload = {"delay": self.proxy.delay}
            else:
                status, payload = 404, {"error": f"no control action {method} {action!r}"}
        except (ValueError, TypeError, KeyError) as exc:
            status, payload = 400, {"error": str(exc)}
        body = json.dumps(payload).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        self._write(self._head_bytes(status, None, headers) + body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512
    allow_reuse_address = True


def _require_loopback(host: str) -> None:
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise ValueError(f"FaultProxy listens on loopback only, not {host!r}")


class FaultProxy:
    """Forward to ``upstream_url``, adding ``delay`` seconds per request and
    the faults set with :meth:`set_faults`. Thread-safe; one thread per
    client connection."""

    def __init__(
        self,
        upstream_url: str,
        delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        upstream_timeout: float = 60.0,
    ):
        _require_loopback(host)
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream_url!r}")
        self.upstream_url = upstream_url
        self._upstream_addr = (parts.hostname, parts.port or 80)
        self.delay = float(delay)
        self.upstream_timeout = upstream_timeout
        self.host, self.port = host, port
        self._rules: list[FaultRule] = []
        self._stats = _Stats()
        self._ids = itertools.count(1)
        self._sockets: set = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -----------------------------------------------------------
    def start(self) -> FaultProxy:
        if self._server is not None:
            return self
        handler = type("FaultProxyHandler", (_Handler,), {"proxy": self})
        server_cls = _Server
        if ":" in self.host:
            server_cls = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        self._stopping.clear()
        self._server = server_cls((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"faultproxy-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every client connection (stalls end)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._stats.lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- configuration --------------------------------------------------------
    def set_faults(self, kind=None, **options) -> None:
        """Replace all fault rules by one (``kind=None`` clears them).

        ``options`` are :class:`FaultRule` fields, e.g.
        ``set_faults("503", rate=0.1, writes_only=True, seed=1)`` or
        ``set_faults("reset", nth=3)``.
        """
        rules = [] if kind is None else [FaultRule(kind=kind, **options)]
        with self._stats.lock:
            self._rules = rules

    def add_fault(self, kind, **options) -> FaultRule:
        """Add a rule; the first rule that fires for a request wins."""
        rule = FaultRule(kind=kind, **options)
        with self._stats.lock:
            self._rules = [*self._rules, rule]
        return rule

    def clear_faults(self) -> None:
        self.set_faults(None)

    def faults(self) -> list[dict]:
        with self._stats.lock:
            return [rule.to_dict() for rule in self._rules]

    # -- figures -----------------------------------------------------------
    def stats(self) -> dict:
        """Counters since start or the last :meth:`reset` (a JSON-able dict)."""
        with self._stats.lock:
            snap = self._stats.snapshot(active=len(self._sockets))
            snap["delay"] = self.delay
            snap["rules"] = [rule.to_dict() for rule in self._rules]
            return snap

    def reset(self) -> None:
        """Zero the counters (fault rules stay, their numbering restarts)."""
        with self._stats.lock:
            self._stats.clear()
            self._stats.max_active = len(self._sockets)
            self._rules = [FaultRule(**{k: v for k, v in asdict(r).items()}) for r in self._rules]

    # -- called by handler threads ------------------------------------------
    def _delaying(self, seconds: float) -> None:
        with self._stats.lock:
            self._stats.delayed += 1
            self._stats.delay_seconds += seconds

    def _decide(self, method: str, target: str):
        with self._stats.lock:
            self._stats.requests += 1
            self._stats.by_method[method] += 1
            for rule in self._rules:
                kind = rule.decide(method, target)
                if kind is not None:
                    self._stats.faults[kind] += 1
                    self._stats.fault_log.append(
                        {
                            "n": self._stats.requests,
                            "method": method,
                            "path": target,
                            "kind": kind,
                            "reached_upstream": kind == "truncate" or rule.after_upstream,
                        }
                    )
                    return rule, kind
        return None, None

    def _count(self, bytes_in=0, bytes_out=0, status=None, upstream_error=False) -> None:
        with self._stats.lock:
            self._stats.bytes_in += bytes_in
            self._stats.bytes_out += bytes_out
            if status is not None:
                self._stats.status[status] += 1
            if upstream_error:
                self._stats.upstream_errors += 1

    def _connection_opened(self, sock) -> None:
        with self._stats.lock:
            self._sockets.add(sock)
            self._stats.connections += 1
            self._stats.max_active = max(self._stats.max_active, len(self._sockets))

    def _connection_closed(self, sock) -> None:
        with self._stats.lock:
            self._sockets.discard(sock)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--upstream", required=True, help="S3 endpoint URL, e.g. http://127.0.0.1:9000"
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--fault", action="append", choices=FAULT_KINDS, help="fault kind(s) to inject"
    )
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--nth", type=int, action="append")
    parser.add_argument("--every", type=int)
    parser.add_argument("--writes-only", action="store_true")
    parser.add_argument("--after-upstream", action="store_true")
    parser.add_argument("--stall-seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)

    proxy = FaultProxy(args.upstream, delay=args.delay, host=args.host, port=args.port).start()
    if args.fault:
        proxy.set_faults(
            args.fault if len(args.fault) > 1 else args.fault[0],
            rate=args.rate,
            nth=args.nth,
            every=args.every,
            writes_only=args.writes_only,
            after_upstream=args.after_upstream,
            stall_seconds=args.stall_seconds,
            seed=args.seed,
        )
    from contrib_awsstorage.embedded_s3 import serve_until_signalled

    return serve_until_signalled(proxy)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
