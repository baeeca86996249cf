"""The HTTP channel: per-request client addresses, and clean refusals."""

from __future__ import annotations

from twisted.internet import address
from twisted.web import http

from .config import DEFAULT_UPSTREAM_IPS, setting
from .forwarded import TrustedProxies

_trusted_default = None


def _default_trusted() -> TrustedProxies:
    global _trusted_default
    if _trusted_default is None:
        _trusted_default = TrustedProxies(setting("UPSTREAM_IPS", DEFAULT_UPSTREAM_IPS))
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
        closed = getattr(getattr(self, "site", None), "channel_closed", None)
        if closed is not None:
            closed(self)
