"""The server's Django root: counts requests so a reload can drain them,
and while draining refuses new ones at once, "unseen" (``unseen``), so the
portal may hold them for the new server.

Django itself runs through Twisted's own ``WSGIResource``; the only thing
added to it is turning a refusal by the locked pool into that 503.
"""

from __future__ import annotations

from twisted.logger import Logger
from twisted.web import http, resource
from twisted.web.wsgi import WSGIResource

from .config import DEFAULT_DRAIN_TIMEOUT, get_reactor, positive_seconds, setting
from .pool import PoolLockedError
from .unseen import MARKER, MARKER_VALUE, is_probe, without_marker
from .waiters import Waiters

_log = Logger(namespace="contrib_awsstorage.webserver")


class _ServiceUnavailable(resource.Resource):
    """503 + Retry-After (RFC 9110 sections 15.6.4, 10.2.3), answered at once,
    marked as refused before Django saw it (``unseen.MARKER``) and closing
    the connection, so that the portal holds the request for the new server
    and never reuses a connection to this one."""

    isLeaf = True

    def __init__(self, retry_after):
        super().__init__()
        self.retry_after = b"%d" % retry_after

    def render(self, request):
        request.setResponseCode(http.SERVICE_UNAVAILABLE)
        request.setHeader(b"Retry-After", self.retry_after)
        request.setHeader(b"Cache-Control", b"no-store")
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(MARKER, MARKER_VALUE)
        request.setHeader(b"Connection", b"close")
        return b"The web server is restarting; please retry shortly.\n"


class _Accepting(resource.Resource):
    """The portal's probe (``unseen.PROBE``): 204, this server takes requests."""

    isLeaf = True

    def render(self, request):
        request.setResponseCode(http.NO_CONTENT)
        request.setHeader(b"Cache-Control", b"no-store")
        return b""


class _DrainAwareWSGIResource(WSGIResource):
    """Twisted's ``WSGIResource``; a refusal by the locked pool becomes the
    unseen 503 (no Django code ran), not an error page."""

    def __init__(self, reactor, pool, application, unavailable):
        super().__init__(reactor, pool, application)
        self._unavailable = unavailable

    def render(self, request):
        try:
            return super().render(request)
        except PoolLockedError:
            return self._unavailable.render(request)


class DjangoWebRoot(resource.Resource):
    """The server's web root: every path not claimed by a child (``/static``,
    ``/media``, plugins) goes to Django.

    It counts every request it hands to Django, so that a reload can wait
    for them (``empty_threadpool``) instead of cutting answers off; while it
    drains it refuses new requests before Django sees them, so the portal
    may hold them for the next server.
    """

    #: Retry-After seconds on the 503s sent while draining.
    retry_after = 5

    def __init__(self, pool, application=None, reactor=None, drain_timeout=None):
        """
        Args:
            pool (LockableThreadPool): The twisted threadpool.
            application: WSGI app; Django's ``get_wsgi_application()`` if None.
            reactor: the reactor for the drain's timer, the request ages and
                the WSGI hand-over; the global reactor if None.
            drain_timeout (float): seconds ``empty_threadpool`` waits at most;
                ``settings.AWSSTORAGE_WEB_DRAIN_TIMEOUT`` (default 30) if None.
        """
        super().__init__()
        self.pool = pool
        self._reactor = get_reactor(reactor)
        if drain_timeout is None:
            drain_timeout = setting("AWSSTORAGE_WEB_DRAIN_TIMEOUT", DEFAULT_DRAIN_TIMEOUT)
        self.drain_timeout = positive_seconds("AWSSTORAGE_WEB_DRAIN_TIMEOUT", drain_timeout)
        if application is None:
            from django.core.wsgi import get_wsgi_application

            application = get_wsgi_application()
        application = without_marker(application)  # only this root may say "unseen"
        self._pending = {}  # request -> reactor.seconds() at arrival; insertion order = age order
        self._draining = False
        self._drain = None
        self._drain_timer = None
        self._unavailable = _ServiceUnavailable(self.retry_after)
        self.wsgi_resource = _DrainAwareWSGIResource(
            self._reactor, pool, application, self._unavailable
        )

    # -- request path --

    def getChild(self, path, request):
        """Hand the whole path to Django (Django's URLconf starts at ``/``,
        so the segment Twisted consumed goes back), and count the request
        until it finishes or its client goes away. While draining, refuse
        it unseen at once. The portal's probe is answered here, without
        Django."""
        if self._draining:
            return self._unavailable
        if is_probe(request):
            return self._unavailable if getattr(self.pool, "locked", False) else _Accepting()
        request.postpath.insert(0, request.prepath.pop(0))
        self._pending[request] = self._reactor.seconds()
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
            self._drain = Waiters()
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
        now = self._reactor.seconds()
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
                oldest = self._reactor.seconds() - next(iter(pending.values()))
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
