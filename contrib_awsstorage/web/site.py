"""The Twisted site and the TCP service that serve the web roots."""

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
        "How to be named in logs"
        return "Webserver-proxy" if self.is_portal else "Webserver"

    def log(self, request):
        """Conditional logging"""
        if self.debug:
            super().log(request)


class WSGIWebServer(internet.TCPServer):
    """
    The TCP service of the server's web site. It starts the thread pool
    after the service itself started, and stops it off the reactor thread,
    bounded by ``stop_timeout``, so a request in flight cannot deadlock
    shutdown; then it closes the open connections once their answers are
    written (``Website.close_connections``).

    Call it as ``WSGIWebServer(pool, port, site, interface="127.0.0.1")``:
    ``pool`` is the site's ``LockableThreadPool``; the other arguments go to
    Twisted's ``TCPServer`` (port, factory, then ``backlog`` and
    ``interface``).
    """

    def __init__(self, pool, *args, stop_timeout=5.0, **kwargs):
        """
        Args:
            pool (LockableThreadPool): the thread pool the site's WSGI resource runs on.
            *args: passed on to ``TCPServer``: ``port, factory``.
            stop_timeout (float): seconds ``stopService`` waits for busy workers.
            **kwargs: passed on to ``TCPServer`` (``backlog``, ``interface``).
        """
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
        d.addCallback(lambda _: self._close_connections())
        return d

    #: seconds the open connections get to write out what they hold at a stop
    close_timeout = 2.0

    def _close_connections(self):
        site = self.args[1] if len(self.args) > 1 else None
        close = getattr(site, "close_connections", None)
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
