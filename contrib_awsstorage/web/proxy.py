"""The portal's reverse proxy to the server's web site.

Built on Twisted's ``Agent`` with an ``HTTPConnectionPool`` of persistent
HTTP/1.1 connections (``twisted.web.proxy`` sits on the deprecated
``HTTPClient``: HTTP/1.0, one connection per request). Requests the server
has not seen wait in the hold (``hold.Hold``) while it restarts.
"""

from __future__ import annotations

import re
from urllib.parse import quote as urlquote

from twisted.internet import defer, error, protocol, task
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import IPushProducer, IStreamClientEndpoint
from twisted.logger import Logger
from twisted.web import client, resource
from twisted.web.client import PotentialDataLoss, RequestNotSent, ResponseDone
from twisted.web.http import BAD_GATEWAY, GATEWAY_TIMEOUT, NO_BODY_CODES, SERVICE_UNAVAILABLE
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgentEndpointFactory, IBodyProducer
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from .config import (
    DEFAULT_BACKEND_POOL_SIZE,
    DEFAULT_PROXY_TIMEOUT,
    count,
    get_reactor,
    positive_seconds,
    setting,
)
from .hold import Hold, HoldLimits
from .unseen import MARKER, PROBE, PROBE_VALUE, refused_unseen

_log = Logger(namespace="contrib_awsstorage.webserver")
# (Names are imported, not looked up per request: ``twisted.web.client`` and
# ``twisted.web.http`` are deprecation proxies, and each attribute read costs.)

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
        b"content-length",  # the agent frames the body itself
    }
)
#: Ours, between server and portal only: never taken from a client nor passed back.
_CONTRACT = frozenset({MARKER.lower(), PROBE.lower()})
#: Methods whose empty body needs no ``Content-Length: 0`` (RFC 9110 section 8.6).
_NO_BODY_METHODS = frozenset({b"GET", b"HEAD", b"DELETE", b"OPTIONS", b"TRACE"})
#: Bytes the agent refuses in a request target (``_newclient._VALID_URI``).
_NOT_URI = re.compile(rb"[^\x21-\x7e]")
#: Retry-After seconds on the portal's own 503s (hold limits).
RETRY_AFTER = 5


def _error_page(request, code, text, retry_after=None):
    """Answer ``request`` with a short error page, if it can still be answered."""
    if request.finished or request._disconnected:
        return
    if request.startedWriting:
        if request.transport is not None:  # a truncated answer must not look complete
            request.transport.abortConnection()
        return
    request.setResponseCode(code)
    request.responseHeaders = Headers()
    request.responseHeaders.setRawHeaders(b"content-type", [b"text/html; charset=utf-8"])
    request.responseHeaders.setRawHeaders(b"cache-control", [b"no-store"])
    if retry_after is not None:  # RFC 9110 section 10.2.3
        request.responseHeaders.setRawHeaders(b"retry-after", [b"%d" % retry_after])
    body = b"<html><body><h1>%d %s</h1></body></html>\n" % (code, text)
    request.responseHeaders.setRawHeaders(b"content-length", [b"%d" % len(body)])
    request.write(body)
    request.finish()


def _quiet(pool):
    """No "Starting factory" log line per backend connection (where this
    Twisted names its pool's factory as 24.x does; else left as it is)."""
    factory = getattr(client, "_HTTP11ClientFactory", None)
    if factory is not None and getattr(pool, "_factory", None) is factory:
        pool._factory = type("QuietHTTP11ClientFactory", (factory,), {"noisy": False})


@implementer(IAgentEndpointFactory)
class _BackendEndpoints:
    """Every URI goes to the one backend, without a name lookup for an IP literal."""

    def __init__(self, reactor, host, port, connect_timeout):
        if isIPAddress(host):
            endpoint = TCP4ClientEndpoint(reactor, host, port, connect_timeout)
        elif isIPv6Address(host):
            endpoint = TCP6ClientEndpoint(reactor, host, port, connect_timeout)
        else:
            endpoint = HostnameEndpoint(reactor, host, port, connect_timeout)
        self._endpoint = _PromptSending(endpoint)  # asked for on every request: built once

    def endpointForURI(self, uri):
        return self._endpoint


@implementer(IStreamClientEndpoint)
class _PromptSending:
    """A persistent connection carries one small request after another: no
    Nagle delay waiting for the previous answer's ACK (RFC 896, RFC 1122
    4.2.3.2), and each request leaves in the call that writes it (``eager``)."""

    def __init__(self, endpoint):
        self._endpoint = endpoint

    def connect(self, factory):
        def send_promptly(proto):
            transport = getattr(proto, "transport", None)
            set_no_delay = getattr(transport, "setTcpNoDelay", None)
            if set_no_delay is not None:
                set_no_delay(True)
            return proto

        return self._endpoint.connect(factory).addCallback(send_promptly)


@implementer(IBodyProducer)
class _SpoolProducer:
    """Streams a request body from Twisted's spool (memory, or a temp file
    past 100 KB) in pieces, with the connection's back-pressure; unlike
    ``FileBodyProducer`` it leaves the spool open, so a held request can
    be sent again."""

    read_size = 65536

    def __init__(self, spool, length):
        self._spool = spool
        self.length = length
        self._task = None

    def startProducing(self, consumer):
        self._spool.seek(0)
        self._task = task.cooperate(self._pieces(consumer))
        d = self._task.whenDone()
        d.addCallbacks(
            lambda _: None, lambda f: defer.Deferred() if f.check(task.TaskStopped) else f
        )
        return d

    def _pieces(self, consumer):
        left = self.length
        while left > 0:
            data = self._spool.read(min(self.read_size, left))
            if not data:
                raise OSError("request body spool ended early")
            left -= len(data)
            consumer.write(data)
            yield None

    def _task_call(self, name):
        if self._task is not None:
            try:
                getattr(self._task, name)()
            except task.TaskDone:
                pass

    def pauseProducing(self):
        self._task_call("pause")

    def resumeProducing(self):
        self._task_call("resume")

    def stopProducing(self):
        self._task_call("stop")


class _Discard(protocol.Protocol):
    """Reads (and drops) an answer's body; with ``cut``, closes the connection."""

    def __init__(self, cut=False):
        self.cut = cut

    def connectionMade(self):
        if self.cut:
            self.transport.stopProducing()

    def dataReceived(self, data):
        pass

    def connectionLost(self, reason):
        pass


@implementer(IPushProducer)
class _Relay(protocol.Protocol):
    """Streams the server's answer body to the client; the client's
    back-pressure pauses the backend connection."""

    registered = False

    def __init__(self, forward):
        self.forward = forward

    def connectionMade(self):
        if self.forward.gone:
            self.transport.stopProducing()
            return
        self.forward.request.registerProducer(self, True)
        self.registered = True

    def dataReceived(self, data):
        if not self.forward.gone:
            self.forward.request.write(data)

    def pauseProducing(self):
        self.transport.pauseProducing()

    def resumeProducing(self):
        self.transport.resumeProducing()

    def stopProducing(self):
        if self.transport is not None:
            self.transport.stopProducing()

    def connectionLost(self, reason):
        self.forward.relayed(self, reason)


class _Backend:
    """What every resource of one proxy tree shares: the connection pool,
    the agent, the hold, the timeouts."""

    connect_timeout = 10.0
    #: idle connections kept per server thread: more requests than threads may
    #: be in flight (static files, queued views); past the pool's size each one
    #: would cost a new connection, opened and closed again
    connections_per_thread = 4

    def __init__(self, host, port, reactor, timeout, limits, pool_size):
        self.host, self.port, self.reactor, self.timeout = host, port, reactor, timeout
        self.pool = client.HTTPConnectionPool(reactor, persistent=True)
        self.pool.maxPersistentPerHost = max(32, self.connections_per_thread * pool_size)
        # Twisted would send a lost idempotent request again; it may have
        # reached Django, and such a request is never sent twice (502).
        self.pool.retryAutomatically = False
        _quiet(self.pool)
        endpoints = _BackendEndpoints(reactor, host, port, min(self.connect_timeout, timeout))
        self.agent = client.Agent.usingEndpointFactory(reactor, endpoints, pool=self.pool)
        netloc = "[%s]" % host if isIPv6Address(host) else host
        self.origin = b"http://%s:%d" % (netloc.encode("ascii"), port)
        self.hold = Hold(reactor, limits, pool_size, self.probe)

    def probe(self):
        """Does the server accept requests? (``unseen``: our root answers
        this itself; any other answer than the refusal counts as yes.)"""
        headers = Headers({PROBE: [PROBE_VALUE]})
        d = defer.maybeDeferred(self.agent.request, b"OPTIONS", self.origin + b"/", headers)
        timer = self.reactor.callLater(min(self.timeout, 10.0), d.cancel)

        def answered(response):
            response.deliverBody(_Discard())
            return not refused_unseen(response.headers)

        def settle(result):
            if timer.active():
                timer.cancel()
            return result

        d.addCallbacks(answered, lambda _failure: False)
        d.addBoth(settle)
        return d

    def close(self):
        return self.pool.closeCachedConnections()


class _Forward:
    """One client request on its way to the server (an attempt of the hold)."""

    seq = None
    gone = False

    def __init__(self, backend, request, uri, headers, body, size):
        self.backend = backend
        self.request = request
        self.uri = uri
        self.headers = headers
        self.body = body
        self.size = size
        self._deferred = None
        self._timer = None
        self._timed_out = False
        self._relay = None

    # -- sending --

    def send(self):
        if self.gone:
            self.backend.hold.done(self)
            return
        self._timed_out = False
        producer = None if self.body is None else _SpoolProducer(self.body, self.size)
        d = defer.maybeDeferred(
            self.backend.agent.request,
            self.request.method,
            self.uri,
            Headers({name: [value] for name, value in self.headers.items()}),
            producer,
        )
        self._deferred = d
        # Armed whatever ``d.called`` says: over a pooled connection ``d`` has
        # "called" at once, though the answer is still to come.
        self._timer = self.backend.reactor.callLater(self.backend.timeout, self._time_out)
        d.addCallbacks(self._answered, self._failed)
        d.addErrback(lambda f: _log.failure("Proxying to the webserver failed", f))

    def _time_out(self):
        self._timer = None
        self._timed_out = True
        self._deferred.cancel()

    def _stop_timer(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _answered(self, response):
        self._stop_timer()
        hold = self.backend.hold
        if self.gone:
            response.deliverBody(_Discard(cut=True))
            hold.done(self)
            return
        if response.code == SERVICE_UNAVAILABLE and refused_unseen(response.headers):
            response.deliverBody(_Discard())
            hold.refused(self)  # not seen: held, and sent to the new server
            return
        request = self.request
        request.defaultContentType = None  # the server's fields, no more
        request.setResponseCode(response.code, response.phrase)
        for name, values in response.headers.getAllRawHeaders():
            lname = name.lower()
            if lname in _HOP_BY_HOP or lname in _CONTRACT:
                continue
            request.responseHeaders.setRawHeaders(name, values)
        if request.method == b"HEAD":  # the length a GET would have (RFC 9110 section 8.6)
            length = response.headers.getRawHeaders(b"content-length")
            if length:
                request.responseHeaders.setRawHeaders(b"content-length", length[:1])
        elif response.length is not UNKNOWN_LENGTH and response.code not in NO_BODY_CODES:
            request.responseHeaders.setRawHeaders(b"content-length", [b"%d" % response.length])
        self._relay = _Relay(self)
        response.deliverBody(self._relay)

    def _failed(self, failure):
        self._stop_timer()
        hold = self.backend.hold
        if self.gone:  # the client hung up first: nothing to say, to anyone
            hold.done(self)
            return
        if self._timed_out or failure.check(error.TimeoutError, error.TCPTimedOutError):
            _error_page(self.request, GATEWAY_TIMEOUT, b"Gateway Timeout")
        elif failure.check(error.ConnectError, RequestNotSent):
            # Refused, or not one byte sent: the server saw nothing (held).
            hold.refused(self)
            return
        else:
            # Sent, then lost (ResponseNeverReceived, RequestTransmissionFailed):
            # it may have reached Django, so it is not sent again.
            _error_page(self.request, BAD_GATEWAY, b"Bad Gateway")
        hold.done(self)

    def relayed(self, relay, reason):
        """The answer's body ended (``reason``): finish, or cut a truncated answer."""
        self._relay = None
        request = self.request
        if not self.gone and not request.finished and not request._disconnected:
            if relay.registered and request.producer is relay:
                request.unregisterProducer()
            if reason.check(ResponseDone, PotentialDataLoss):
                request.finish()
            else:
                _error_page(request, BAD_GATEWAY, b"Bad Gateway")
        self.backend.hold.done(self)

    # -- the hold's calls --

    def refuse(self):
        """Beyond a hold limit: today's 503 with Retry-After."""
        _error_page(
            self.request, SERVICE_UNAVAILABLE, b"Service Unavailable", retry_after=RETRY_AFTER
        )

    def client_gone(self):
        """The client hung up: drop the backend side quietly."""
        if self.gone:
            return
        self.gone = True
        if self._relay is not None:
            self._relay.stopProducing()
        elif self._deferred is not None and not self._deferred.called:
            self._deferred.cancel()
        else:
            self.backend.hold.gone(self)


class EvenniaReverseProxyResource(resource.Resource):
    """The portal's proxy to the server's web site.

    Forwards method, path (segments re-quoted), query string, headers and
    body (streamed from Twisted's spool file, never held in memory) over
    persistent HTTP/1.1 connections; appends the socket peer to
    ``X-Forwarded-For`` so the server can trust its word; answers 502
    (sent, then lost: never sent twice) or 504 (no answer within
    ``timeout``) itself. A request the server has not seen (connection
    refused, nothing sent, or the draining server's ``unseen`` refusal) is
    held until the server accepts again, then sent, whatever its method
    (``hold``); beyond the hold's limits the answer is 503 + Retry-After.
    """

    def __init__(
        self,
        host,
        port,
        path,
        reactor=None,
        timeout=None,
        *,
        hold_limits=None,
        pool_size=None,
        backend=None,
    ):
        super().__init__()
        if isinstance(path, str):
            path = path.encode("ascii")
        self.host, self.port, self.path = host, port, path
        self.reactor = get_reactor(reactor)
        if backend is None:
            if timeout is None:
                timeout = setting("AWSSTORAGE_WEB_PROXY_TIMEOUT", DEFAULT_PROXY_TIMEOUT)
            timeout = positive_seconds("AWSSTORAGE_WEB_PROXY_TIMEOUT", timeout)
            if pool_size is None:
                limits = setting("WEBSERVER_THREADPOOL_LIMITS", None)
                pool_size = limits[1] if limits else DEFAULT_BACKEND_POOL_SIZE
            pool_size = count("WEBSERVER_THREADPOOL_LIMITS", pool_size, minimum=1)
            backend = _Backend(
                host, port, self.reactor, timeout, hold_limits or HoldLimits(), pool_size
            )
        self.backend = backend

    @property
    def timeout(self):
        return self.backend.timeout

    @property
    def hold(self):
        return self.backend.hold

    def getChild(self, path, request):
        """
        Create and return a proxy resource with the same proxy configuration
        as this one, except that its path also contains the segment given by
        path at the end.
        """
        child = self.__class__(
            self.host, self.port, self.path + _segment(path), self.reactor, backend=self.backend
        )
        # The rest of the path goes with it (``render``): one resource per
        # request, not one per path segment.
        child.isLeaf = True
        return child

    def render(self, request):
        """Render a request by forwarding it to the proxied server."""
        body = request.content
        body.seek(0, 2)
        length = body.tell()
        body.seek(0)
        path = self.path
        if self.isLeaf and request.postpath:
            path += b"".join(map(_segment, request.postpath))
        qs = request.uri.partition(b"?")[2].partition(b"#")[0]
        qs = _NOT_URI.sub(lambda m: b"%%%02X" % m.group()[0], qs)
        rest = path + b"?" + qs if qs else path
        if not rest.startswith(b"/"):
            rest = b"/" + rest
        with_body = length or request.method not in _NO_BODY_METHODS
        forward = _Forward(
            self.backend,
            request,
            self.backend.origin + rest,
            _forward_headers(request),
            body if with_body else None,
            length,
        )
        request.notifyFinish().addErrback(lambda _: forward.client_gone())
        self.backend.hold.submit(forward)
        return NOT_DONE_YET

    def close(self):
        """Close the idle backend connections (tests; a stopping portal)."""
        return self.backend.close()


def _segment(name):
    """``/`` and one path segment, re-quoted (every byte outside unreserved)."""
    return b"/" + urlquote(name, safe=b"").encode("ascii")


def _forward_headers(request):
    """Request headers for the backend: one line per field, hop-by-hop
    fields dropped, the socket peer appended to X-Forwarded-For."""
    headers = {}
    connection_tokens = set()
    for value in request.requestHeaders.getRawHeaders(b"connection", []):
        connection_tokens.update(t.strip().lower() for t in value.split(b","))
    for name, values in request.requestHeaders.getAllRawHeaders():
        lname = name.lower()
        if lname in _HOP_BY_HOP or lname in connection_tokens or lname in _CONTRACT:
            continue
        if lname == b"host":
            headers[lname] = values[0]  # a singleton field (RFC 9112 section 3.2)
        else:
            headers[lname] = (b"; " if lname == b"cookie" else b", ").join(values)
    peer = getattr(request.transport.getPeer(), "host", None) if request.transport else None
    if peer:
        prior = headers.get(b"x-forwarded-for")
        peer = peer.encode("ascii")
        headers[b"x-forwarded-for"] = prior + b", " + peer if prior else peer
    return headers
