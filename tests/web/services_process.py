"""Build Evennia's server and portal services from settings, as Evennia does,
and exercise the web side they build. Run by ``test_services.py`` with
``DJANGO_SETTINGS_MODULE=tests.web.evennia_settings``; prints one JSON line.

No game directory: the services are instantiated for real (their
``__init__`` runs), then only ``register_webserver`` is called - the AMP
link, sessions and the database-backed parts of startup are not.
"""

import json
import os
import sys
import threading
import time

import django

django.setup()

from django.conf import settings  # noqa: E402
from evennia.server.portal.amp_server import AMPServerFactory  # noqa: E402
from evennia.utils.utils import class_from_module  # noqa: E402
from twisted.internet import reactor  # noqa: E402
from twisted.internet.threads import blockingCallFromThread  # noqa: E402
from twisted.web import http  # noqa: E402

from contrib_awsstorage import webserver  # noqa: E402
from tests.web.harness import get  # noqa: E402

result = {}
in_flight = {}
drain_logs = []


def _watch_drain_logs(event):
    from twisted.logger import formatEvent

    text = formatEvent(event)
    if "Webserver draining" in text:
        drain_logs.append(text)


class _To:
    host = "127.0.0.1"

    def __init__(self, port):
        self.number = port

    def connection(self, timeout=10, source=None):
        import http.client

        return http.client.HTTPConnection(
            self.host, self.number, timeout=timeout, source_address=source
        )


def _stop_server_over_amp(amp_factory):
    """What the portal does on ``evennia reload``, minus the AMP wire."""
    proto = amp_factory.protocol()
    proto.factory = amp_factory
    proto.send_AdminPortal2Server = lambda *args, **kwargs: None
    proto.stop_server(mode="reload")


def _in_flight_at_stop(server_port):
    """A request still in Django when the reactor is told to stop (as a
    signal does): the server's stopService must let its answer out first."""
    answer = {}

    def client():
        try:
            code, _, body = get(_To(server_port), "/sleep/?s=0.5", timeout=30)
            answer["r"] = (code, body.decode())
        except Exception as exc:
            answer["r"] = repr(exc)

    t = threading.Thread(target=client, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if blockingCallFromThread(reactor, lambda: webserver.get_active_web_root().status())[
            "pending"
        ]:
            break
        time.sleep(0.01)
    return t, answer


def client_steps(proxy_port, portal_service, amp_factory):
    portal = _To(proxy_port)
    out = {}
    code, _, body = get(portal, "/echo/x?q=1", source=("127.0.0.2", 0))
    out["echo"] = (code, json.loads(body)["remote"] if code == 200 else body.decode())
    out["server_plugin"] = get(portal, "/plugin-server")[2].decode()
    out["portal_plugin"] = get(portal, "/plugin-portal")[2].decode()
    code, headers, body = get(portal, "/static/app.css")
    out["static"] = (code, body.decode(), "etag" in headers, headers.get("content-type"))
    out["static_location"] = headers.get("location")
    out["listing"] = get(portal, "/static/")[0]
    # reload: a slow request in flight, then the drain; a latecomer is held
    slow = {}
    t = threading.Thread(target=lambda: slow.update(r=get(portal, "/sleep/?s=0.5")))
    t.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        root = webserver.get_active_web_root()
        if root is not None and root.status()["pending"]:
            break
        time.sleep(0.01)
    drained = threading.Event()
    reactor.callFromThread(
        lambda: (
            webserver.get_active_web_root()
            .empty_threadpool()
            .addCallback(lambda r: (result.update(drain_result=r), drained.set()))
        )
    )
    time.sleep(0.05)
    # the server itself refuses unseen; through the portal the request is held
    code, headers, _ = get(_To(settings.WEBSERVER_PORTS[0][1]), "/hello/")
    out["server_during_drain"] = (
        code,
        headers.get("retry-after"),
        headers.get("awsstorage-refused-unseen"),
    )
    held = {}
    h = threading.Thread(target=lambda: held.update(r=get(portal, "/hello/")))
    h.start()
    t.join(10)
    out["slow"] = (slow["r"][0], slow["r"][2].decode())
    out["drained"] = drained.wait(5)
    time.sleep(0.2)
    out["held_while_draining"] = h.is_alive()
    reactor.callFromThread(webserver.get_active_web_root().resume)  # the "new" server
    h.join(10)
    out["during_drain"] = (held["r"][0], held["r"][2].decode())
    # the portal stops the server: its proxy holds from then on, until a probe says yes
    proxy = portal_service.web_proxies[0]
    blockingCallFromThread(reactor, _stop_server_over_amp, amp_factory)
    out["up_after_stop_server"] = blockingCallFromThread(reactor, lambda: proxy.hold.up)
    out["after_stop_server"] = get(portal, "/hello/")[0]
    result.update(out)
    # a signal stops the reactor with a request in flight
    in_flight.update(zip(("thread", "answer"), _in_flight_at_stop(settings.WEBSERVER_PORTS[0][1])))
    drain_logs.clear()
    reactor.callFromThread(reactor.stop)


def main():
    os.makedirs(settings.STATIC_ROOT, exist_ok=True)
    with open(settings.STATIC_ROOT + "/app.css", "w") as fh:
        fh.write("body{}")
    server_cls = class_from_module(settings.EVENNIA_SERVER_SERVICE_CLASS)
    portal_cls = class_from_module(settings.EVENNIA_PORTAL_SERVICE_CLASS)
    server = server_cls()
    portal = portal_cls()
    server.register_webserver()
    portal.register_amp()
    # built, never listening: no AMP port in this test
    portal.getServiceNamed("PortalAMPServer").disownServiceParent()
    amp_factory = AMPServerFactory(portal)  # as Evennia builds it: protocol from settings
    portal.register_webserver()
    root = webserver.get_active_web_root()
    result["classes"] = {
        "server_service": type(server).__name__,
        "portal_service": type(portal).__name__,
        "active_root_is_service_root": root is server.web_root,
        "root": "contrib_awsstorage.webserver.DjangoWebRoot"
        if type(root) is webserver.DjangoWebRoot
        else repr(type(root)),
        "pool": type(root.pool).__name__,
        "static": type(root.children[b"static"]).__name__,
        "site": type(server.web_site).__name__,
        "site_channel": server.web_site.protocol.__name__,
        "children": sorted(s.name for s in server) + sorted(s.name for s in portal),
        "portal_root": type(next(iter(portal)).args[1].resource).__name__,
        "portal_is_portal": next(iter(portal)).args[1].is_portal,
    }
    result["classes"]["amp_protocol"] = amp_factory.protocol.__name__
    result["portal_errors"] = portal.info_dict.get("errors") or ""
    result["global_protocol_untouched"] = http.HTTPFactory.protocol.__name__
    result["upstream_webserver_imported"] = "evennia.server.webserver" in sys.modules
    for svc in list(server) + list(portal):
        svc.startService()
    proxy_port = settings.WEBSERVER_PORTS[0][0]
    threading.Thread(
        target=client_steps, args=(proxy_port, portal, amp_factory), daemon=True
    ).start()

    def stop_services():
        from twisted.internet import defer

        return defer.gatherResults([server.stopService(), portal.stopService()])

    reactor.addSystemEventTrigger("before", "shutdown", stop_services)
    from twisted.logger import globalLogPublisher

    globalLogPublisher.addObserver(_watch_drain_logs)
    reactor.callLater(30, reactor.stop)  # never hang the test
    reactor.run(installSignalHandlers=False)
    result["active_root_after_stop"] = webserver.get_active_web_root() is None
    if in_flight:
        in_flight["thread"].join(10)
        result["in_flight_at_stop"] = in_flight["answer"].get("r")
        result["drain_logs_at_stop"] = list(drain_logs)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
