"""A whole web server process, started and stopped like twistd does it.

Run by ``test_root.py`` as ``python -m tests.web.drain_process MODE``:

* ``hang``: a request that never returns, then a bounded drain, then stop.
* ``inflight``: a slow request still running when the reactor stops.

It prints what happened; the test reads it.
"""

import sys
import threading

import django

django.setup()

from twisted.application import service  # noqa: E402
from twisted.internet import reactor  # noqa: E402

from contrib_awsstorage.webserver import (  # noqa: E402
    DjangoWebRoot,
    LockableThreadPool,
    Website,
    WSGIWebServer,
)
from tests.web.harness import get  # noqa: E402
from tests.web.wsgi import make_application  # noqa: E402


class _Target:
    host = "127.0.0.1"

    def __init__(self, number):
        self.number = number

    def connection(self, timeout=10, source=None):
        import http.client

        return http.client.HTTPConnection(self.host, self.number, timeout=timeout)


def main(mode):
    pool = LockableThreadPool(minthreads=1, maxthreads=4)
    root = DjangoWebRoot(pool, application=make_application(), drain_timeout=0.5)
    app = service.Application("drain-test")
    web = WSGIWebServer(pool, 0, Website(root), interface="127.0.0.1", stop_timeout=1.0)
    web.setServiceParent(app)
    top = service.IService(app)
    top.startService()
    reactor.addSystemEventTrigger("before", "shutdown", top.stopService)
    target = _Target(web._port.getHost().port)

    def client(path):
        try:
            code, _, body = get(target, path, timeout=30)
            print(f"CLIENT GOT {code} {body.decode()}", flush=True)
        except Exception as exc:
            print(f"CLIENT ERROR {exc!r}", flush=True)

    def when_pending(then):
        if root.status()["pending"]:
            then()
        else:
            reactor.callLater(0.01, when_pending, then)

    if mode == "hang":
        threading.Thread(target=client, args=("/hang/",), daemon=True).start()

        def drain():
            d = root.empty_threadpool()
            d.addCallback(lambda r: [print(f"ABANDONED {m} {p}", flush=True) for m, p, _ in r])
            d.addCallback(lambda _: reactor.stop())

        reactor.callLater(0, when_pending, drain)
    else:
        t = threading.Thread(target=client, args=("/sleep/?s=0.5",))
        t.start()
        reactor.callLater(0, when_pending, reactor.stop)
    reactor.run()
    if mode != "hang":
        t.join(10)
    print("REACTOR STOPPED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
