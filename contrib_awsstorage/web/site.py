"""The Twisted site and the TCP service that serve the web roots.

``Website`` is Twisted's ``Site`` with our channel, limits and quiet log;
it also knows its open connections, so that a stop can close them once
their answers are written. ``WSGIWebServer`` is the server's TCP service:
it ties the thread pool's life to the listener's.
"""

from __future__ import annotations

from twisted.application import internet
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import server

from .channel import HTTPChannelWithXForwardedFor
from .config import DEFAULT_MAX_BODY_SIZE, DEFAULT_UPSTREAM_IPS, UNSET, get_reactor, setting
from .forwarded import TrustedProxies
from .waiters import Waiters

_log = Logger(namespace="contrib_awsstorage.webserver")


class Website(server.Site):
    """The site of both the portal's proxy and the server's Django root.

    Its access log is written only with ``DEBUG`` on: a game's web traffic
    would otherwise fill the log with lines nobody reads. It names its
    channel (``HTTPChannelWithXForwardedFor``) itself rather than patching
    Twisted's global factory, so other Twisted sites in the process are
    untouched. The trusted upstreams and ``max_body_size`` it carries are
    read by that channel: request bodies declared larger are refused with
    413 before they are read, chunked ones as soon as they grow past it.
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
        max_body_size=UNSET,
        **kwargs,
    ):
        super().__init__(resource, requestFactory, *args, **kwargs)
        if not isinstance(trusted_upstreams, TrustedProxies):
            if trusted_upstreams is None:
                trusted_upstreams = setting("UPSTREAM_IPS", DEFAULT_UPSTREAM_IPS)
            trusted_upstreams = TrustedProxies(trusted_upstreams)
        self.trusted_upstreams = trusted_upstreams
        self.debug = bool(setting("DEBUG", False) if debug is None else debug)
        if max_body_size is UNSET:
            max_body_size = setting("AWSSTORAGE_WEB_MAX_BODY_SIZE", DEFAULT_MAX_BODY_SIZE)
        if max_body_size is not None and (not isinstance(max_body_size, int) or max_body_size < 0):
            raise ValueError(
                "AWSSTORAGE_WEB_MAX_BODY_SIZE must be a number of bytes or None, "
                f"got {max_body_size!r}"
            )
        self.max_body_size = max_body_size
        if is_portal is not None:
            self.is_portal = is_portal
        self._channels = set()  # open connections (``close_connections``)
        self._all_closed = None

    def buildProtocol(self, addr):
        channel = super().buildProtocol(addr)
        if channel is not None:
            self._channels.add(channel)
        return channel

    def channel_closed(self, channel):
        """Called by the channel when its connection is gone."""
        self._channels.discard(channel)
        if not self._channels and self._all_closed is not None:
            self._all_closed.fire(True)

    def close_connections(self, reactor, timeout):
        """Close every open connection once it has written what it holds
        (``loseConnection``), so that an answer finished just before a stop
        still reaches its client; past ``timeout`` seconds, abort the rest.
        The Deferred fires when all are closed."""
        if self._all_closed is None:
            self._all_closed = Waiters()
            if not self._channels:
                self._all_closed.fire(True)
            for channel in list(self._channels):
                if channel.transport is not None:
                    channel.loseConnection()  # HTTPChannel's: unregisters itself first
            if not self._all_closed.done:
                timer = reactor.callLater(timeout, self._abort_open)
                self._all_closed.wait().addCallback(
                    lambda result: timer.cancel() if timer.active() else None
                )
        return self._all_closed.wait()

    def _abort_open(self):
        for channel in list(self._channels):
            if channel.transport is not None:
                channel.transport.abortConnection()
        if self._all_closed is not None and not self._all_closed.done:
            self._all_closed.fire(False)

    def logPrefix(self):
        """Log lines say which of the two processes' sites wrote them."""
        return "Webserver-proxy" if self.is_portal else "Webserver"

    def log(self, request):
        """The access log line, only with ``DEBUG`` on (see the class)."""
        if self.debug:
            super().log(request)


class WSGIWebServer(internet.TCPServer):
    """The TCP service of the server's web site, owning its thread pool.

    The pool starts once the listener is up (a pool started earlier would
    hold threads for a service that may never run), and stops when the
    listener has stopped: off the reactor thread and bounded by
    ``stop_timeout``, because a worker still writing its answer needs the
    reactor, and joining it there would deadlock the shutdown. Then the
    open connections are closed once their answers are written
    (``Website.close_connections``), so an answer finished just before the
    stop still reaches its client.

    Call it as ``WSGIWebServer(pool, port, site, interface="127.0.0.1")``:
    ``pool`` is the site's ``LockableThreadPool``; the other arguments go to
    Twisted's ``TCPServer`` (port, factory, then ``backlog`` and
    ``interface``).
    """

    #: seconds the open connections get to write out what they hold at a stop
    close_timeout = 2.0

    def __init__(self, pool, *args, stop_timeout=5.0, **kwargs):
        """
        Args:
            pool (LockableThreadPool): the thread pool the site's WSGI resource runs on.
            *args: passed on to ``TCPServer``: ``port, factory``.
            stop_timeout (float): seconds ``stopService`` waits for busy workers.
            **kwargs: passed on to ``TCPServer`` (``backlog``, ``interface``, ``reactor``).
        """
        self.pool = pool
        self.stop_timeout = stop_timeout
        self.site = args[1] if len(args) > 1 else kwargs.get("factory")
        super().__init__(*args, **kwargs)

    def startService(self):
        """Listen, then start the pool; a failure is logged and the service
        stops, so the rest of the game still starts."""
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
        d.addCallback(lambda _: self._close_connections())
        return d

    def _close_connections(self):
        close = getattr(self.site, "close_connections", None)
        if close is None:
            return None
        reactor = get_reactor(getattr(self, "reactor", None))
        return close(reactor, min(self.close_timeout, self.stop_timeout)).addCallback(
            lambda _: None
        )

    def _stop_pool(self):
        reactor = get_reactor(getattr(self, "reactor", None))
        stop = getattr(self.pool, "stop_off_thread", None)
        if stop is not None:
            return stop(reactor, self.stop_timeout).addCallback(lambda _: None)
        if self.pool.started:  # a plain ThreadPool: same idea, without the bound
            from twisted.internet.threads import deferToThread

            return deferToThread(self.pool.stop)
        return None
