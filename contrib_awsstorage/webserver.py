"""The Twisted web classes that serve the Django site from Evennia's processes.

The names and roles are those of ``evennia.server.webserver``, so Evennia's
settings and user code find them where they always were; they are built
on Twisted's stock parts (``ThreadPool``, ``WSGIResource``, ``Site``,
``Agent``) through public APIs. What users get beyond the original:

* a reload drains: ``DjangoWebRoot.empty_threadpool()`` waits for the
  requests Django is working on, bounded by a timeout, logs what it gave up
  on, and exposes live counters (``status()``) for ``@awsstatus``;
* while draining, the server refuses new requests at once and before any
  Django code runs (503 + ``Retry-After``, marked "unseen"); the locked
  pool refuses work loudly (``PoolLockedError``) instead of dropping it and
  leaving the request hanging until the process dies;
* the portal's proxy holds the requests the server refused unseen, or could
  not be sent, while the server restarts, and replays them in order once
  the new server answers; a request that may have reached Django is never
  sent twice (RFC 9110 section 9.2.2). It keeps persistent connections to
  the server, answers 502/504 when the server fails, and tells the server
  who the client was (``X-Forwarded-For``, trusted hops only);
* requests it will not take (over-long lines, too many headers, a body over
  ``max_body_size``) get 400/413/414/431 and a graceful close, not silence
  or a reset;
* stopping never joins worker threads on the reactor thread, and closes
  each connection once its answer is written.

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
