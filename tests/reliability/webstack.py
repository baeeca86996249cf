"""A real Evennia-shaped web stack in its own process, for load and abuse tests.

    python -m tests.reliability.webstack [--static-root DIR] [--threads N]

Server side: ``Website(DjangoWebRoot(LockableThreadPool))`` with
``PrivateStaticRoot`` children at ``/static`` (and ``/media``), on a
loopback port, as Evennia's server builds it. Portal side:
``Website(EvenniaReverseProxyResource(...))`` in front of it. A third,
control port answers:

- ``GET /status``: threads, pool and root counters, resident memory.
- ``POST /reload[?relisten=1]``: one reload cycle as the server service does
  it (``empty_threadpool()`` with its bound, then the pool stopped off the
  reactor thread), followed by a fresh pool and root; with ``relisten`` the
  server's ``WSGIWebServer`` service is stopped and a new one started on
  the same port, the gap a real process restart leaves. Answers the cycle's timings as JSON.

The first stdout line is ``READY {"portal": P, "server": S, "control": C}``.
Settings: ``tests.reliability.web_settings`` (environment ``WEBSTACK_*``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.reliability.web_settings")

import django  # noqa: E402

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from twisted.internet import defer, reactor  # noqa: E402
from twisted.web import resource  # noqa: E402

from contrib_awsstorage.webserver import (  # noqa: E402
    DjangoWebRoot,
    LockableThreadPool,
    PrivateStaticRoot,
    Website,
    WSGIWebServer,
)
from tests.web.harness import free_port, portal_site  # noqa: E402


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Stack:
    """The server site, the portal site, and how to reload the server side."""

    def __init__(self, static_root: str | None, threads: int):
        self.static_root = static_root
        self.threads = threads
        self.application = get_wsgi_application()
        self.pool = self.root = None
        self.reloads = 0
        self._new_root()
        self.server_site = Website(self.root, is_portal=False)
        self.server_number = free_port()  # a known port: a restart listens there again
        self.service = self._serve(self.server_number)
        self.portal_site = portal_site(self.server_number)  # timeouts and limits: settings
        self.portal_port = reactor.listenTCP(0, self.portal_site, interface="127.0.0.1")

    def _serve(self, port: int) -> WSGIWebServer:
        service = WSGIWebServer(self.pool, port, self.server_site, interface="127.0.0.1")
        service.startService()
        return service

    def _new_root(self):
        self.pool = LockableThreadPool(1, self.threads, name="webstack-web")
        self.pool.start()
        self.root = DjangoWebRoot(self.pool, application=self.application)
        if self.static_root:
            self.root.putChild(b"static", PrivateStaticRoot(self.static_root))
            self.root.putChild(b"media", PrivateStaticRoot(self.static_root))
        return self.root

    @defer.inlineCallbacks
    def reload(self, relisten: bool):
        started = time.monotonic()
        root, pool = self.root, self.pool
        abandoned = yield root.empty_threadpool()
        drained = time.monotonic()
        if relisten:  # the service stops as in a process shutdown: port, then pool
            yield self.service.stopService()
            stopped = not pool.started
        else:
            stopped = yield pool.stop_off_thread(reactor, 5.0)
        self.server_site.resource = self._new_root()
        if relisten:
            self.service = self._serve(self.server_number)
        else:
            self.service.pool = self.pool  # the running service now owns the new pool
        self.reloads += 1
        return {
            "drain_seconds": drained - started,
            "cycle_seconds": time.monotonic() - started,
            "abandoned": [list(a) for a in abandoned],
            "pool_stopped_cleanly": bool(stopped),
        }

    def status(self) -> dict:
        return {
            "threads": threading.active_count(),
            "thread_names": sorted(t.name for t in threading.enumerate()),
            "root": self.root.status(),
            "reloads": self.reloads,
            "rss": rss_bytes(),
        }


class Control(resource.Resource):
    isLeaf = True

    def __init__(self, stack: Stack):
        super().__init__()
        self.stack = stack

    def render_GET(self, request):
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(self.stack.status()).encode()

    def render_POST(self, request):
        relisten = request.args.get(b"relisten", [b"0"])[0] == b"1"
        d = self.stack.reload(relisten)

        def done(result):
            request.setHeader(b"content-type", b"application/json")
            request.write(json.dumps(result).encode())
            request.finish()

        def failed(failure):
            request.setResponseCode(500)
            request.write(failure.getTraceback().encode())
            request.finish()

        d.addCallbacks(done, failed)
        return 1  # NOT_DONE_YET


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--static-root", default=None)
    parser.add_argument("--threads", type=int, default=10)
    args = parser.parse_args(argv)
    stack = Stack(args.static_root, args.threads)
    control = reactor.listenTCP(0, Website(Control(stack)), interface="127.0.0.1")
    ports = {
        "portal": stack.portal_port.getHost().port,
        "server": stack.server_number,
        "control": control.getHost().port,
    }
    print("READY " + json.dumps(ports), flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
