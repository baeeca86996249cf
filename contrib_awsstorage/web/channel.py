"""The HTTP channel: each request's client address, and refusals a client can read."""

from __future__ import annotations

from twisted.internet import address
from twisted.internet.interfaces import INegotiated
from twisted.web import http

from .config import DEFAULT_UPSTREAM_IPS, setting
from .forwarded import TrustedProxies

_trusted_default = None


def _default_trusted() -> TrustedProxies:
    global _trusted_default
    if _trusted_default is None:
        _trusted_default = TrustedProxies(setting("UPSTREAM_IPS", DEFAULT_UPSTREAM_IPS))
    return _trusted_default


class _CappedSpool:
    """Request body spool that takes at most ``limit`` bytes.

    A chunked body declares no length, so ``max_body_size`` can only be
    enforced while it arrives. Twisted writes each decoded piece to
    ``Request.content`` (``handleContentChunk``); this stands in for that
    file while the body arrives and calls ``over_limit`` at the first byte
    too many instead of spooling it.
    """

    def __init__(self, file, limit, over_limit):
        self.file = file
        self.left = limit
        self.over_limit = over_limit

    def write(self, data):
        if self.left < 0:
            return
        self.left -= len(data)
        if self.left < 0:
            self.over_limit()
            return
        self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)


class HTTPChannelWithXForwardedFor(http.HTTPChannel):
    """HTTP channel that decides each request's client address, and answers
    what it refuses.

    Client address: when a request's headers are complete, a trusted
    upstream's ``X-Forwarded-For`` decides ``request.client``, which both
    ``WSGIResource`` (``REMOTE_ADDR``) and the access log read. Trusted
    upstreams come from the site (``Website.trusted_upstreams``).

    Refusals: a request line over ``MAX_LENGTH`` gets 414, a header line
    over it 431, a body over the site's ``max_body_size`` 413 (a declared
    length before the body is read, a chunked body as soon as it grows past
    the limit); Twisted's own refusals answer 400. Each is followed by a
    lingering close: our answer, then FIN, while the client's remaining
    input is read and dropped for up to ``linger_seconds``. Closing with
    unread input would make the kernel send a reset, which destroys the
    answer before the client reads it.
    """

    #: Seconds a refused connection keeps reading (and discarding) input.
    linger_seconds = 5.0
    _refused = False  # answered with a refusal: input is dropped from now on
    _closing = False  # the lingering close has begun
    _reading_request = False  # from a request's first line to the end of its body
    _linger_call = None

    # -- a request's head and body --

    def lineReceived(self, line):
        if self._refused:
            return None
        if line and not self._reading_request:  # a request line (a stray blank line is not)
            self._reading_request = True
        return super().lineReceived(line)

    def lineLengthExceeded(self, line):
        if self._reading_request:
            self._refuse(b"431 Request Header Fields Too Large")  # RFC 6585 section 5
        else:
            self._refuse(b"414 URI Too Long")  # RFC 9110 section 15.5.15

    def allHeadersReceived(self):
        """Refuse a declared body over ``max_body_size``; cap a chunked one;
        then decide the client address."""
        site = getattr(self, "site", None)
        limit = getattr(site, "max_body_size", None)
        if limit is not None and self.length is not None and self.length > limit:
            self._refuse(b"413 Content Too Large")  # RFC 9110 section 15.5.14
            return
        super().allHeadersReceived()
        if self._refused or not self.requests:
            return
        req = self.requests[-1]
        if limit is not None and self.length is None:  # chunked: count what comes
            req.content = _CappedSpool(req.content, limit, self._body_too_large)
        self._decide_client(req, getattr(site, "trusted_upstreams", None))

    def _body_too_large(self):
        self._refuse(b"413 Content Too Large")  # RFC 9110 section 15.5.14

    def allContentReceived(self):
        if self._refused:  # refused mid-body; the decoder may still reach its end
            return
        self._reading_request = False
        req = self.requests[-1]
        if isinstance(req.content, _CappedSpool):
            req.content = req.content.file
        if self.length is None:
            # A chunked body, now decoded and spooled: give it its length
            # (RFC 9112 section 7.1.3), or WSGI apps read it as empty
            # (no CONTENT_LENGTH, PEP 3333).
            req.requestHeaders.setRawHeaders(b"content-length", [b"%d" % req.content.tell()])
            req.requestHeaders.removeHeader(b"transfer-encoding")
        super().allContentReceived()

    def _decide_client(self, req, trusted):
        lines = req.requestHeaders.getRawHeaders(b"x-forwarded-for")
        if not lines:
            return
        host = getattr(req.client, "host", None)
        if host is None:
            return
        client = (trusted or _default_trusted()).client_address(host, lines)
        if client != host:
            cls = address.IPv6Address if ":" in client else address.IPv4Address
            req.client = cls("TCP", client, 0)

    # -- refusing so that the client reads the answer --

    def _refuse(self, status):
        if self._refused:
            return
        self.transport.write(
            b"HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n" % status
        )
        self._linger_close()

    def loseConnection(self):
        """Close after what is written. While a request is still being read
        (Twisted's 400 ends here, as does a site closing its connections),
        the close lingers: the client may still be sending."""
        if self._reading_request or self._refused:
            self._linger_close()
        else:
            super().loseConnection()

    def _linger_close(self):
        if self._closing:
            return
        self._closing = self._refused = True
        self._reading_request = False
        self.setTimeout(None)
        self.clearLineBuffer()
        transport = self.transport
        if transport is None:
            return
        unregister = getattr(transport, "unregisterProducer", None)
        if unregister is not None:  # as HTTPChannel.loseConnection: we produce no more
            unregister()
        half_close = getattr(transport, "loseWriteConnection", None)  # ITCPTransport
        if half_close is None or INegotiated.providedBy(transport):
            transport.loseConnection()  # TLS: its own close, not a TCP half-close under it
            return
        transport.resumeProducing()  # keep reading, to drop what still comes
        half_close()  # our answer, then FIN
        self._linger_call = self.callLater(self.linger_seconds, transport.abortConnection)

    def dataReceived(self, data):
        if self._refused:
            return
        super().dataReceived(data)

    def rawDataReceived(self, data):
        if self._refused:
            return None
        return super().rawDataReceived(data)

    def connectionLost(self, reason):
        if self._linger_call is not None and self._linger_call.active():
            self._linger_call.cancel()
        super().connectionLost(reason)
        closed = getattr(getattr(self, "site", None), "channel_closed", None)
        if closed is not None:
            closed(self)
