"""The portal's reverse proxy to the server's web site."""

from __future__ import annotations

from urllib.parse import quote as urlquote

from twisted.internet import error
from twisted.protocols import basic
from twisted.web import http, proxy
from twisted.web.server import NOT_DONE_YET

from .config import DEFAULT_PROXY_TIMEOUT, get_reactor, positive_seconds, setting


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
        super().__init__(host, port, path, get_reactor(reactor))
        if timeout is None:
            timeout = setting("AWSSTORAGE_WEB_PROXY_TIMEOUT", DEFAULT_PROXY_TIMEOUT)
        self.timeout = positive_seconds("AWSSTORAGE_WEB_PROXY_TIMEOUT", timeout)

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
