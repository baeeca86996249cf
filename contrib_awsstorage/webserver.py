"""Twisted resources that serve the Django site from Evennia's processes, without the original's faults.

Same names and roles as ``evennia.server.webserver``; the differences are
the point of this module:

* a locked thread pool refuses work loudly (``PoolLockedError``) and the web
  root answers ``503`` + ``Retry-After`` at once, instead of dropping the
  work and leaving the request hanging until the process dies;
* ``DjangoWebRoot.empty_threadpool()`` is bounded by a timeout, logs what it
  gave up on, and exposes live counters (``status()``) for ``@awsstatus``;
* the client address is decided per request from trusted hops only
  (``web/forwarded.py``), and no Twisted global is patched on import;
* requests it will not take (over-long lines, too many headers, a body over
  ``max_body_size``) get 400/413/414/431 and a graceful close, not silence
  or a reset;
* the portal proxy streams bodies, bridges a server listener being replaced
  (short bounded retry), answers ``502``/``504`` promptly otherwise, and
  tells the server who the client was;
* stopping never joins worker threads on the reactor thread.

Importing this module reads no settings and imports no Evennia code:
settings are read when objects are built, with Evennia's defaults.

The code lives in ``contrib_awsstorage.web``, one module per concept; this
module keeps the public names where Evennia's settings and users know them.
"""

from __future__ import annotations

from .web.channel import HTTPChannelWithXForwardedFor
from .web.config import DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_BODY_SIZE, DEFAULT_PROXY_TIMEOUT
from .web.pool import LockableThreadPool, PoolLockedError
from .web.proxy import EvenniaReverseProxyResource
from .web.root import DjangoWebRoot, get_active_web_root, set_active_web_root
from .web.site import Website, WSGIWebServer
from .web.staticroot import PrivateStaticRoot

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
