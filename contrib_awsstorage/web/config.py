"""What the web layer is configured with: its settings, their defaults, the reactor.

Settings are read when objects are built, never at import, and a plain
Twisted program without Django settings gets the defaults.
"""

from __future__ import annotations

#: ``AWSSTORAGE_WEB_DRAIN_TIMEOUT``: longest wait for in-flight requests on reload.
DEFAULT_DRAIN_TIMEOUT = 30.0
#: ``AWSSTORAGE_WEB_PROXY_TIMEOUT``: longest wait of the portal for the server's answer.
DEFAULT_PROXY_TIMEOUT = 60.0
#: ``AWSSTORAGE_WEB_MAX_BODY_SIZE``: larger request bodies get 413 (None: no limit).
DEFAULT_MAX_BODY_SIZE = 32 * 1024 * 1024
#: ``AWSSTORAGE_WEB_HOLD_TIMEOUT``: longest the portal holds a request for a restarting server.
DEFAULT_HOLD_TIMEOUT = 30.0
#: ``AWSSTORAGE_WEB_HOLD_MAX_REQUESTS``: most requests held at once (beyond: 503).
DEFAULT_HOLD_MAX_REQUESTS = 1000
#: ``AWSSTORAGE_WEB_HOLD_MAX_BYTES``: most request-body bytes held at once (beyond: 503).
DEFAULT_HOLD_MAX_BYTES = 256 * 1024 * 1024
#: The portal's persistent connections to the server (and held requests sent at once),
#: when ``WEBSERVER_THREADPOOL_LIMITS`` does not say.
DEFAULT_BACKEND_POOL_SIZE = 20
UNSET = object()
#: Evennia's default for ``UPSTREAM_IPS``.
DEFAULT_UPSTREAM_IPS = ("127.0.0.1",)


def setting(name, default):
    """A Django setting, or ``default`` when absent or settings are unconfigured."""
    try:
        from django.conf import settings

        return getattr(settings, name, default)
    except Exception:  # ImproperlyConfigured: plain Twisted use without Django settings
        return default


def positive_seconds(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return value


def count(name, value, minimum=0):
    """A whole number >= ``minimum`` for setting ``name``, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return value


def get_reactor(reactor=None):
    if reactor is None:
        from twisted.internet import reactor
    return reactor
