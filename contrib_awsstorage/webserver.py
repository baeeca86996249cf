"""Twisted resources that serve the Django site (seed 001), without the faults.

Same names and roles as ``evennia.server.webserver``; the differences are
the point of this module:

* a locked thread pool refuses work loudly (``PoolLockedError``) and the web
  root answers ``503`` + ``Retry-After`` at once, instead of dropping the
  work and leaving the request hanging until the process dies;
* ``DjangoWebRoot.empty_threadpool()`` is bounded by a timeout, logs what it
  gave up on, and exposes live counters (``status()``) for ``@awsstatus``;
* the client address is decided per request from trusted hops only
  (``forwarded.py``), and no Twisted global is patched on import;
* requests it will not take (over-long lines, too many headers, a body over
  ``max_body_size``) get 400/413/414/431 and a graceful close, not silence
  or a reset;
* the portal proxy streams bodies, bridges a server listener being replaced
  (short bounded retry), answers ``502``/``504`` promptly otherwise, and
  tells the server who the client was;
* stopping never joins worker threads on the reactor thread.

Importing this module reads no settings and imports no Evennia code:
settings are read when objects are built, with Evennia's defaults.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import quote as urlquote

from twisted.application import internet
from twisted.internet import address, defer, error
from twisted.logger import Logger
from twisted.protocols import basic
from twisted.python import threadpool
from twisted.web import http, proxy, resource, server
from twisted.web.server import NOT_DONE_YET
from twisted.web.wsgi import WSGIResource

from .forwarded import TrustedProxies
from .staticroot import PrivateStaticRoot

__all__ = [
    "LockableThreadPool",
    "PoolLockedError",
    "HTTPChannelWithXForwardedFor",
    "EvenniaReverseProxyResource",
    "DjangoWebRoot",
    "Website",
    "WSGIWebServer",
    "PrivateStaticRoot",
    "get_active_web_root",
    "set_active_web_root",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_PROXY_TIMEOUT",
    "DEFAULT_MAX_BODY_SIZE",
]

_log = Logger(namespace="contrib_awsstorage.webserver")

#: ``AWSSTORAGE_WEB_DRAIN_TIMEOUT``: longest wait for in-flight requests on reload.
DEFAULT_DRAIN_TIMEOUT = 30.0
#: ``AWSSTORAGE_WEB_PROXY_TIMEOUT``: longest wait of the portal for the server's answer.
DEFAULT_PROXY_TIMEOUT = 60.0
#: ``AWSSTORAGE_WEB_MAX_BODY_SIZE``: larger request bodies get 413 (None: no limit).
DEFAULT_MAX_BODY_SIZE = 32 * 1024 * 1024
_UNSET = object()
#: Evennia's default for ``UPSTREAM_IPS``.
_DEFAULT_UPSTREAM_IPS = ("127.0.0.1",)


def _setting(name, default):
    """A Django setting, or ``default`` when absent or settings are unconfigured."""
    try:
        from django.conf import settings

        return getattr(settings, name, default)
    except Exception:  # ImproperlyConfigured: plain Twisted use without Django settings
        return default


def _positive_seconds(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return value


def _reactor(reactor=None):
    if reactor is None:
        from twisted.internet import reactor
    return reactor


class _Waiters:
    """Hand out fresh Deferreds that all fire with one result.

    Callers get their own Deferred, so one caller's callbacks (or an
    outside ``d.callback``, as Evennia's SIGINT handler does) cannot disturb
    another's.
    """

    def __init__(self):
        self.result = None
        self.done = False
        self._waiting = []

    def wait(self):
        if self.done:
            return defer.succeed(self.result)
        d = defer.Deferred()
        self._waiting.append(d)
        return d

    def fire(self, result):
        if self.done:
            return
        self.done, self.result = True, result
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            if not d.called:
                d.callback(result)


# -- thread pool --------------------------------------------------------------


class PoolLockedError(RuntimeError):
    """Work offered to a locked (draining) or stopped pool: answer 503, don't queue."""


def _daemon_thread(*args, **kwargs):
    # A view that never returns must not keep the process alive at exit.
    kwargs["daemon"] = True
    return threading.Thread(*args, **kwargs)


class LockableThreadPool(threadpool.ThreadPool):
    """Threadpool that can be locked from accepting new requests.

    Locked, it raises ``PoolLockedError`` for new work (the caller answers
    the request); work already queued still runs. Threads are daemons, and
    ``stop_off_thread`` stops the pool without blocking the reactor.
    """

    threadFactory = staticmethod(_daemon_thread)

    def __init__(self, *args, **kwargs):
        self._accept_new = True
        self._stopping = None
        super().__init__(*args, **kwargs)

    @property
    def locked(self) -> bool:
        return not self._accept_new

    def lock(self):
        """Refuse new work from now on (queued and running work continues)."""
        self._accept_new = False

    def unlock(self):
        """Accept new work again."""
        self._accept_new = True

    def callInThread(self, func, *args, **kwargs):
        """
        called in the main reactor thread. Makes sure the pool is not locked
        before continuing; raises ``PoolLockedError`` if it is.
        """
        self.callInThreadWithCallback(None, func, *args, **kwargs)

    def callInThreadWithCallback(self, onResult, func, *args, **kwargs):
        if not self._accept_new:
            raise PoolLockedError("web thread pool is locked (draining); try again shortly")
        if self.joined:
            raise PoolLockedError("web thread pool is stopped")
        super().callInThreadWithCallback(onResult, func, *args, **kwargs)

    def status(self) -> dict:
        """Live counters for status displays (cheap; any thread)."""
        stats = self._team.statistics()
        busy, idle = stats.busyWorkerCount, stats.idleWorkerCount
        return {
            "workers": busy + idle,
            "busy": busy,
            "idle": idle,
            "max": self.max,
            "queued": stats.backloggedWorkCount,
            "locked": not self._accept_new,
        }

    def stop_off_thread(self, reactor=None, timeout=5.0):
        """Stop the pool from a helper thread; the Deferred fires when the
        workers are joined, or after ``timeout`` seconds (stuck workers are
        daemon threads and will not hold the process). Idempotent."""
        reactor = _reactor(reactor)
        if self._stopping is None:
            self._stopping = waiters = _Waiters()
            self.lock()

            def stop():
                self.stop()
                reactor.callFromThread(waiters.fire, True)

            def give_up():
                if not waiters.done:
                    busy = self.status()["busy"]
                    _log.warn(
                        "Web thread pool: {busy} worker(s) still busy after {timeout}s;"
                        " not waiting for them",
                        busy=busy,
                        timeout=timeout,
                    )
                    waiters.fire(False)

            threading.Thread(target=stop, name="web-pool-stopper", daemon=True).start()
            timer = reactor.callLater(timeout, give_up)

            def cancel_timer(result):
                if timer.active():
                    timer.cancel()
                return result

            waiters.wait().addCallback(cancel_timer)
        return self._stopping.wait()


# -- client address -------------------------------------------------------------

_trusted_default = None


def _default_trusted() -> TrustedProxies:
    global _trusted_default
    if _trusted_default is None:
        _trusted_default = TrustedProxies(_setting("UPSTREAM_IPS", _DEFAULT_UPSTREAM_IPS))
    return _trusted_default


class HTTPChannelWithXForwardedFor(http.HTTPChannel):
    """HTTP channel that decides each request's client address on its own.

    The decision is made when that request's headers are complete and
    stored on that request (``request.client``), which is what both
    ``WSGIResource`` (``REMOTE_ADDR``) and the access log read. Trusted
    upstreams come from the site (``Website.trusted_upstreams``).

    It also refuses what it will not process with a real answer (400, 413,
    414, 431) followed by a lingering close: Twisted either closes without
    a word (over-long lines) or closes with unread input, which makes the
    kernel send a reset that destroys the answer before the client reads it.
    """

    #: Seconds a refused connection keeps reading (and discarding) input.
    linger_seconds = 5.0
    _lingering = False
    _linger_call = None
    _body_left = 0
    _deliver_body = None

    def allHeadersReceived(self):
        """Enforce ``max_body_size`` (a declared length now, a chunked body as
        it arrives), then decide the client address."""
        site = getattr(self, "site", None)
        limit = getattr(site, "max_body_size", None)
        if limit is not None:
            if self.length is None:  # chunked: no declared length, count what comes
                decoder = self._transferDecoder
                if decoder is not None:
                    self._body_left = limit
                    self._deliver_body = decoder.dataCallback  # request.handleContentChunk
                    decoder.dataCallback = self._count_body
            elif self.length > limit:
                self._refuse(b"413 Content Too Large")  # RFC 9110 section 15.5.14
                return
        super().allHeadersReceived()
        if not self.requests:
            return
        req = self.requests[-1]
        lines = req.requestHeaders.getRawHeaders(b"x-forwarded-for")
        if not lines:
            return
        peer = req.client
        host = getattr(peer, "host", None)
        if host is None:
            return
        trusted = getattr(site, "trusted_upstreams", None)
        client = (trusted or _default_trusted()).client_address(host, lines)
        if client != host:
            cls = address.IPv6Address if ":" in client else address.IPv4Address
            req.client = cls("TCP", client, 0)

    def _count_body(self, data):
        """Pass on a piece of an undeclared-length body while the request stays
        within ``max_body_size``; past it, refuse instead: it is never
        spooled further nor handed to the site."""
        self._body_left -= len(data)
        if self._body_left < 0:
            self._refuse(b"413 Content Too Large")  # RFC 9110 section 15.5.14
            return
        self._deliver_body(data)

    def allContentReceived(self):
        if self._lingering:  # refused mid-body; the decoder may still reach its end
            return
        if self.length is None:
            # A chunked body, now decoded and spooled: give it its length
            # (RFC 9112 section 7.1.3), or WSGI apps read it as empty
            # (no CONTENT_LENGTH, PEP 3333).
            self._deliver_body = None
            req = self.requests[-1]
            req.requestHeaders.setRawHeaders(b"content-length", [b"%d" % req.content.tell()])
            req.requestHeaders.removeHeader(b"transfer-encoding")
        super().allContentReceived()

    # -- refusing cleanly --

    def lineLengthExceeded(self, line):
        if getattr(self, "_HTTPChannel__first_line", True):
            self._refuse(b"414 URI Too Long")  # RFC 9110 section 15.5.15
        else:
            self._refuse(b"431 Request Header Fields Too Large")  # RFC 6585 section 5

    def _respondToBadRequestAndDisconnect(self):
        self._refuse(b"400 Bad Request")

    def _refuse(self, status):
        if self._lingering:
            return
        self._lingering = True
        self._buffer = b""
        self.setTimeout(None)
        transport = self.transport
        transport.write(b"HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n" % status)
        half_close = getattr(transport, "loseWriteConnection", None)
        if half_close is None:
            transport.loseConnection()
            return
        half_close()  # our answer, then FIN; the client's input is read and dropped
        self._linger_call = self.callLater(self.linger_seconds, transport.abortConnection)

    def dataReceived(self, data):
        if self._lingering:
            return
        super().dataReceived(data)

    def lineReceived(self, line):
        if self._lingering:
            return
        return super().lineReceived(line)

    def rawDataReceived(self, data):
        if self._lingering:
            return
        return super().rawDataReceived(data)

    def connectionLost(self, reason):
        if self._linger_call is not None and self._linger_call.active():
            self._linger_call.cancel()
        super().connectionLost(reason)


# -- portal side: reverse proxy ----------------------------------------------------

# RFC 9110 section 7.6.1: connection-specific fields are not forwarded.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
        b"content-length",
    }
)


def _error_page(request, code, text):
    """Answer ``request`` with a short error page, if it can still be answered."""
    if request.finished or request._disconnected:
        return
    if request.startedWriting:
        if request.transport is not None:  # a truncated answer must not look complete
            request.transport.loseConnection()
        return
    request.setResponseCode(code)
    request.responseHeaders.setRawHeaders(b"content-type", [b"text/html; charset=utf-8"])
    request.responseHeaders.setRawHeaders(b"cache-control", [b"no-store"])
    body = b"<html><body><h1>%d %s</h1></body></html>\n" % (code, text)
    request.responseHeaders.setRawHeaders(b"content-length", [b"%d" % len(body)])
    request.write(body)
    request.finish()


#: RFC 9110 section 9.2.2: requests a proxy may send again after a lost connection.
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})


class _ProxyClient(proxy.ProxyClient):
    """One backend connection: streams the body from disk, times out, never
    writes to a gone client."""

    _got_status = False
    _timer = None

    def connectionMade(self):
        factory = self.factory
        factory.protocol_instance = self
        if factory.client_gone:
            self._finished = True
            self.transport.abortConnection()
            return
        self._timer = factory.reactor.callLater(factory.timeout, self._timed_out)
        self.sendCommand(self.command, self.rest)
        for header, value in self.headers.items():
            self.sendHeader(header, value)
        self.endHeaders()
        if factory.body is not None:
            factory.body.seek(0)
            sender = basic.FileSender()  # bounded memory, transport back-pressure
            sender.beginFileTransfer(factory.body, self.transport).addErrback(lambda _: None)

    def _cancel_timer(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timed_out(self):
        self._timer = None
        if not self._got_status:
            _error_page(self.father, http.GATEWAY_TIMEOUT, b"Gateway Timeout")
        self._finished = True
        self.transport.abortConnection()

    def handleStatus(self, version, code, message):
        self._got_status = True
        self._cancel_timer()
        super().handleStatus(version, code, message)

    def handleHeader(self, key, value):
        if key.lower() in _HOP_BY_HOP - {b"content-length"}:
            return
        super().handleHeader(key, value)

    def handleResponsePart(self, buffer):
        if self.father._disconnected or self.father.finished:
            self.transport.abortConnection()
            return
        self.father.write(buffer)

    def connectionLost(self, reason):
        # Lost before any answer (e.g. the old listener closing on reload):
        # an idempotent request may be sent again within the retry window.
        if not (self._got_status or self._finished) and self.factory.retry(idempotent_only=True):
            self._finished = True
            self._cancel_timer()
            return
        super().connectionLost(reason)

    def handleResponseEnd(self):
        if self._finished:
            return
        self._finished = True
        self._cancel_timer()
        if not self._got_status:
            _error_page(self.father, http.BAD_GATEWAY, b"Bad Gateway")
        elif not (self.father.finished or self.father._disconnected):
            self.father.finish()
        self.transport.loseConnection()


class _ProxyClientFactory(proxy.ProxyClientFactory):
    """One proxied request; may connect again while the backend restarts."""

    protocol = _ProxyClient
    noisy = False
    protocol_instance = None
    client_gone = False
    connector = None

    def __init__(self, command, rest, version, headers, body, father, *, resource):
        super().__init__(command, rest, version, headers, b"", father)
        self.body = body
        self.resource = resource
        self.reactor = resource.reactor
        self.timeout = resource.timeout
        self.retry_until = self.reactor.seconds() + resource.connect_retry_window

    def connect(self):
        res = self.resource
        self.protocol_instance = None
        self.connector = self.reactor.connectTCP(
            res.host, res.port, self, timeout=min(res.connect_timeout, res.timeout)
        )

    def retry(self, idempotent_only=False):
        """Connect again shortly if still useful and allowed; True if so."""
        father = self.father
        if self.client_gone or father.finished or father._disconnected:
            return False
        if idempotent_only and father.method not in _IDEMPOTENT:
            return False
        if self.reactor.seconds() >= self.retry_until:
            return False
        self.reactor.callLater(self.resource.connect_retry_interval, self._retry_now)
        return True

    def _retry_now(self):
        if not (self.client_gone or self.father.finished or self.father._disconnected):
            self.connect()

    def buildProtocol(self, addr):
        p = super().buildProtocol(addr)
        p.factory = self
        return p

    def clientConnectionFailed(self, connector, reason):
        # Refused, or reset while queued on a listener that is closing: nothing
        # was sent yet, so any method may try again (the server is restarting).
        if reason.check(error.ConnectError) and self.retry():
            return
        if reason.check(error.TimeoutError):
            _error_page(self.father, http.GATEWAY_TIMEOUT, b"Gateway Timeout")
        else:
            _error_page(self.father, http.BAD_GATEWAY, b"Bad Gateway")

    def clientGone(self):
        """The client hung up: drop the backend side quietly."""
        self.client_gone = True
        if self.protocol_instance is not None:
            self.protocol_instance._finished = True
            self.protocol_instance.transport.abortConnection()
        elif self.connector is not None and self.connector.state == "connecting":
            self.connector.stopConnecting()


class EvenniaReverseProxyResource(proxy.ReverseProxyResource):
    """The portal's proxy to the server's web site.

    Forwards method, path (segments re-quoted), query string, headers and
    body (streamed from Twisted's spool file, never held in memory);
    appends the socket peer to ``X-Forwarded-For`` so the server can trust
    its word; answers 502 (backend down) or 504 (no answer within
    ``timeout``) itself. A refused connection is retried for
    ``connect_retry_window`` seconds, which bridges a server listener
    being replaced; a 502 still comes within that bound.
    """

    #: seconds to wait for the TCP connection to the backend
    connect_timeout = 10.0
    #: how long refused (or, for idempotent requests, dropped) connections are retried
    connect_retry_window = 0.5
    connect_retry_interval = 0.05

    def __init__(self, host, port, path, reactor=None, timeout=None):
        if isinstance(path, str):
            path = path.encode("ascii")
        super().__init__(host, port, path, _reactor(reactor))
        if timeout is None:
            timeout = _setting("AWSSTORAGE_WEB_PROXY_TIMEOUT", DEFAULT_PROXY_TIMEOUT)
        self.timeout = _positive_seconds("AWSSTORAGE_WEB_PROXY_TIMEOUT", timeout)

    def getChild(self, path, request):
        """
        Create and return a proxy resource with the same proxy configuration
        as this one, except that its path also contains the segment given by
        path at the end.
        """
        child = self.__class__(
            self.host,
            self.port,
            self.path + b"/" + urlquote(path, safe=b"").encode("ascii"),
            self.reactor,
            timeout=self.timeout,
        )
        child.connect_timeout = self.connect_timeout
        child.connect_retry_window = self.connect_retry_window
        child.connect_retry_interval = self.connect_retry_interval
        return child

    def render(self, request):
        """Render a request by forwarding it to the proxied server."""
        body = request.content
        body.seek(0, 2)
        length = body.tell()
        body.seek(0)
        qs = request.uri.partition(b"?")[2].partition(b"#")[0]
        rest = self.path + b"?" + qs if qs else self.path
        if not rest.startswith(b"/"):
            rest = b"/" + rest
        factory = _ProxyClientFactory(
            request.method,
            rest,
            request.clientproto,
            _forward_headers(request, length),
            body if length else None,
            request,
            resource=self,
        )
        factory.connect()
        # A client that disconnects early: abort the backend side, no traceback.
        request.notifyFinish().addErrback(lambda _: factory.clientGone())
        return NOT_DONE_YET


def _forward_headers(request, length):
    """Request headers for the backend: one line per field, hop-by-hop
    fields dropped, the socket peer appended to X-Forwarded-For."""
    headers = {}
    connection_tokens = set()
    for value in request.requestHeaders.getRawHeaders(b"connection", []):
        connection_tokens.update(t.strip().lower() for t in value.split(b","))
    for name, values in request.requestHeaders.getAllRawHeaders():
        lname = name.lower()
        if lname in _HOP_BY_HOP or lname in connection_tokens:
            continue
        if lname == b"host":
            headers[lname] = values[0]  # a singleton field (RFC 9112 section 3.2)
        else:
            headers[lname] = (b"; " if lname == b"cookie" else b", ").join(values)
    if length or request.method not in (b"GET", b"HEAD", b"DELETE", b"OPTIONS"):
        headers[b"content-length"] = b"%d" % length
    peer = getattr(request.transport.getPeer(), "host", None) if request.transport else None
    if peer:
        prior = headers.get(b"x-forwarded-for")
        peer = peer.encode("ascii")
        headers[b"x-forwarded-for"] = prior + b", " + peer if prior else peer
    return headers


# -- server side: the Django root --------------------------------------------------


class _ServiceUnavailable(resource.Resource):
    """503 + Retry-After (RFC 9110 sections 15.6.4, 10.2.3), answered at once."""

    isLeaf = True

    def __init__(self, retry_after):
        super().__init__()
        self.retry_after = b"%d" % retry_after

    def render(self, request):
        request.setResponseCode(http.SERVICE_UNAVAILABLE)
        request.setHeader(b"Retry-After", self.retry_after)
        request.setHeader(b"Cache-Control", b"no-store")
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return b"The web server is restarting; please retry shortly.\n"


class _DrainAwareWSGIResource(WSGIResource):
    """WSGIResource that turns a refusal by the locked pool into a 503."""

    def __init__(self, reactor, pool, application, unavailable):
        super().__init__(reactor, pool, application)
        self._unavailable = unavailable

    def render(self, request):
        try:
            return super().render(request)
        except PoolLockedError:
            return self._unavailable.render(request)


class DjangoWebRoot(resource.Resource):
    """
    This creates a web root (/) that Django understands by tweaking the way
    child instances are recognized; it counts every request it hands to
    Django so a reload can wait for them (``empty_threadpool``).
    """

    #: Retry-After seconds on the 503s sent while draining.
    retry_after = 5

    def __init__(self, pool, application=None, reactor=None, drain_timeout=None):
        """
        Args:
            pool (LockableThreadPool): The twisted threadpool.
            application: WSGI app; Django's ``get_wsgi_application()`` if None.
            reactor: for tests; the global reactor if None.
            drain_timeout (float): seconds ``empty_threadpool`` waits at most;
                ``settings.AWSSTORAGE_WEB_DRAIN_TIMEOUT`` (default 30) if None.
        """
        super().__init__()
        self.pool = pool
        self._reactor = _reactor(reactor)
        if drain_timeout is None:
            drain_timeout = _setting("AWSSTORAGE_WEB_DRAIN_TIMEOUT", DEFAULT_DRAIN_TIMEOUT)
        self.drain_timeout = _positive_seconds("AWSSTORAGE_WEB_DRAIN_TIMEOUT", drain_timeout)
        if application is None:
            from django.core.wsgi import get_wsgi_application

            application = get_wsgi_application()
        self._pending = {}  # request -> monotonic start; insertion order = age order
        self._draining = False
        self._drain = None
        self._drain_timer = None
        self._unavailable = _ServiceUnavailable(self.retry_after)
        self.wsgi_resource = _DrainAwareWSGIResource(
            self._reactor, pool, application, self._unavailable
        )

    # -- request path --

    def getChild(self, path, request):
        """
        To make things work we nudge the url tree to make this the root.
        While draining, answer 503 at once; otherwise track the request
        until it finishes (or its client goes away).
        """
        if self._draining:
            return self._unavailable
        request.postpath.insert(0, request.prepath.pop(0))
        self._pending[request] = time.monotonic()
        request.notifyFinish().addBoth(self._request_done, request)
        return self.wsgi_resource

    def _request_done(self, _result, request):
        self._pending.pop(request, None)
        if self._drain is not None and not self._pending:
            self._finish_drain([])

    # -- draining --

    @property
    def draining(self) -> bool:
        return self._draining

    def empty_threadpool(self, timeout=None):
        """
        Lock the pool and return a Deferred that fires when every pending
        request has finished, or after ``timeout`` seconds (default
        ``drain_timeout``), whichever is first. It fires with the list of
        abandoned requests as ``(method, path, age_seconds)`` (empty if none);
        those are logged. Further calls join the same drain.
        """
        if self._drain is None:
            self._draining = True
            lock = getattr(self.pool, "lock", None)
            if lock is not None:
                lock()
            self._drain = _Waiters()
            timeout = self.drain_timeout if timeout is None else float(timeout)
            if not self._pending:
                self._finish_drain([])
            else:
                _log.info(
                    "Webserver draining: waiting for {count} request(s), at most {timeout:g}s",
                    count=len(self._pending),
                    timeout=timeout,
                )
                self._drain_timer = self._reactor.callLater(timeout, self._drain_timed_out, timeout)
        return self._drain.wait()

    def _drain_timed_out(self, timeout):
        self._drain_timer = None
        abandoned = self.pending_requests()
        _log.warn(
            "Webserver drain gave up after {timeout:g}s on {count} request(s): {requests}",
            timeout=timeout,
            count=len(abandoned),
            requests="; ".join(f"{m} {p} ({age:.1f}s)" for m, p, age in abandoned),
        )
        self._finish_drain(abandoned)

    def _finish_drain(self, abandoned):
        if self._drain_timer is not None and self._drain_timer.active():
            self._drain_timer.cancel()
        self._drain_timer = None
        if self._drain is not None:
            self._drain.fire(abandoned)

    def resume(self):
        """Accept requests again after a drain (e.g. a cancelled reload)."""
        if self._drain is not None and not self._drain.done:
            self._finish_drain(self.pending_requests())
        self._drain = None
        self._draining = False
        unlock = getattr(self.pool, "unlock", None)
        if unlock is not None:
            unlock()

    # -- status --

    def pending_requests(self):
        """``(method, path, age_seconds)`` per pending request, oldest first.
        Paths without query strings: those may carry secrets."""
        now = time.monotonic()
        return [
            (
                req.method.decode("latin-1"),
                (req.path or b"").decode("ascii", "backslashreplace"),
                now - started,
            )
            for req, started in list(self._pending.items())
        ]

    def status(self) -> dict:
        """Live counters (for ``@awsstatus``)."""
        pending = self._pending
        oldest = None
        if pending:
            try:
                oldest = time.monotonic() - next(iter(pending.values()))
            except (StopIteration, RuntimeError):
                oldest = None
        pool_status = getattr(self.pool, "status", None)
        return {
            "pending": len(pending),
            "oldest_pending_age": oldest,
            "draining": self._draining,
            "pool": pool_status() if pool_status is not None else {},
        }


_active_web_root = None


def set_active_web_root(web_root):
    """Record the web root this process serves (called by ``services``)."""
    global _active_web_root
    _active_web_root = web_root


def get_active_web_root():
    """The ``DjangoWebRoot`` the server service built in this process, or None."""
    return _active_web_root


# -- site and service ---------------------------------------------------------------


class Website(server.Site):
    """
    This class will only log http requests if ``DEBUG`` is True, and uses
    ``HTTPChannelWithXForwardedFor`` explicitly (no global patch). Request
    bodies declared larger than ``max_body_size`` are refused with 413
    before they are read; chunked ones as soon as they grow past it.
    """

    noisy = False
    protocol = HTTPChannelWithXForwardedFor
    is_portal = False

    def __init__(
        self,
        resource,
        requestFactory=None,
        *args,
        trusted_upstreams=None,
        debug=None,
        is_portal=None,
        max_body_size=_UNSET,
        **kwargs,
    ):
        super().__init__(resource, requestFactory, *args, **kwargs)
        if not isinstance(trusted_upstreams, TrustedProxies):
            if trusted_upstreams is None:
                trusted_upstreams = _setting("UPSTREAM_IPS", _DEFAULT_UPSTREAM_IPS)
            trusted_upstreams = TrustedProxies(trusted_upstreams)
        self.trusted_upstreams = trusted_upstreams
        self.debug = bool(_setting("DEBUG", False) if debug is None else debug)
        if max_body_size is _UNSET:
            max_body_size = _setting("AWSSTORAGE_WEB_MAX_BODY_SIZE", DEFAULT_MAX_BODY_SIZE)
        if max_body_size is not None and (not isinstance(max_body_size, int) or max_body_size < 0):
            raise ValueError(
                "AWSSTORAGE_WEB_MAX_BODY_SIZE must be a number of bytes or None, "
                f"got {max_body_size!r}"
            )
        self.max_body_size = max_body_size
        if is_portal is not None:
            self.is_portal = is_portal

    def logPrefix(self):
        "How to be named in logs"
        return "Webserver-proxy" if self.is_portal else "Webserver"

    def log(self, request):
        """Conditional logging"""
        if self.debug:
            super().log(request)


class WSGIWebServer(internet.TCPServer):
    """
    This is a WSGI webserver. It makes sure to start the threadpool after
    the service itself started, and stops it off the reactor thread, bounded
    by ``stop_timeout``, so a request in flight cannot deadlock shutdown.

    call with WSGIWebServer(threadpool, port, wsgi_resource)
    """

    def __init__(self, pool, *args, stop_timeout=5.0, **kwargs):
        self.pool = pool
        self.stop_timeout = stop_timeout
        super().__init__(*args, **kwargs)

    def startService(self):
        """Start the pool after the service starts."""
        try:
            super().startService()
            if not self.pool.started:
                self.pool.start()
        except Exception:
            _log.failure("Webserver did not start correctly. Disabling.")
            self.stopService()

    def stopService(self):
        """Stop listening, then stop the pool without blocking the reactor."""
        d = defer.maybeDeferred(super().stopService)
        d.addErrback(lambda f: _log.failure("Webserver stopService error.", f))
        d.addCallback(lambda _: self._stop_pool())
        return d

    def _stop_pool(self):
        reactor = _reactor(getattr(self, "reactor", None))
        stop = getattr(self.pool, "stop_off_thread", None)
        if stop is not None:
            return stop(reactor, self.stop_timeout).addCallback(lambda _: None)
        if self.pool.started:  # a plain ThreadPool: same idea, without the bound
            from twisted.internet.threads import deferToThread

            return deferToThread(self.pool.stop)
        return None
