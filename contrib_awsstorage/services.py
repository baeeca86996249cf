"""Evennia service classes that put ``contrib_awsstorage.webserver`` to work.

Select them, and the portal's AMP protocol, in the game's ``settings.py``::

    EVENNIA_SERVER_SERVICE_CLASS = "contrib_awsstorage.services.AWSStorageServerService"
    EVENNIA_PORTAL_SERVICE_CLASS = "contrib_awsstorage.services.AWSStoragePortalService"
    AMP_SERVER_PROTOCOL_CLASS = "contrib_awsstorage.services.HoldingAMPServerProtocol"

The services override ``register_webserver`` - where Evennia builds its
own site and proxy - and build the same tree from our classes, with the
same ``WEB_PLUGINS_MODULE`` hooks, names and info lines (``/static``
redirects to ``STATIC_URL`` when that is on S3 or a CDN, see
``static_redirect``). Evennia's own ``shutdown()`` drains through our
bounded ``empty_threadpool()`` on a reload; the server service's
``stopService`` drains too, so a stop by signal (Ctrl-C, SIGTERM) waits for
the requests in flight as well. The AMP protocol tells the portal's proxy
when the server is about to restart. Everything here uses Evennia's
documented settings and Twisted's service API; of the web layer, only this
module imports Evennia.
"""

from __future__ import annotations

from .evennia_extra import require_evennia

require_evennia(__name__)

from django.conf import settings
from evennia.server.portal.amp_server import AMPServerProtocol
from evennia.server.portal.service import EvenniaPortalService
from evennia.server.service import EvenniaServerService
from twisted.application import internet
from twisted.internet import defer
from twisted.logger import Logger

from . import webserver
from .web.static_redirect import static_resource

__all__ = ["AWSStorageServerService", "AWSStoragePortalService", "HoldingAMPServerProtocol"]

_log = Logger(namespace="contrib_awsstorage.services")

_PLUGINS_MISSING = (
    "WARNING: settings.WEB_PLUGINS_MODULE not found - "
    "copy 'evennia/game_template/server/conf/web_plugins.py to mygame/server/conf."
)


def _web_plugins(info_dict):
    """The WEB_PLUGINS_MODULE, or None (noted in ``info_dict`` as Evennia does)."""
    from evennia.utils.utils import mod_import

    try:
        return mod_import(settings.WEB_PLUGINS_MODULE)
    except ImportError:
        info_dict["errors"] = _PLUGINS_MISSING
        return None


class AWSStorageServerService(EvenniaServerService):
    """Evennia's server service, with our Django site and a bounded drain."""

    def register_webserver(self):
        # Start a django-compatible webserver (mirrors Evennia's method).
        threads = webserver.LockableThreadPool(
            minthreads=max(1, settings.WEBSERVER_THREADPOOL_LIMITS[0]),
            maxthreads=max(1, settings.WEBSERVER_THREADPOOL_LIMITS[1]),
            name="EvenniaWebServer",
        )
        web_root = webserver.DjangoWebRoot(threads)
        web_root.putChild(b"media", webserver.PrivateStaticRoot(settings.MEDIA_ROOT))
        # STATIC_URL on S3/a CDN: /static redirects there; else our private root.
        web_root.putChild(b"static", static_resource(settings.STATIC_ROOT, settings.STATIC_URL))
        self.web_root = web_root
        webserver.set_active_web_root(web_root)

        plugins = _web_plugins(self.info_dict)
        if plugins:
            web_root = plugins.at_webserver_root_creation(web_root)

        web_site = webserver.Website(web_root, logPath=settings.HTTP_LOG_FILE, is_portal=False)
        self.web_site = web_site
        self.info_dict["webserver"] = ""
        for _proxyport, serverport in settings.WEBSERVER_PORTS:
            service = webserver.WSGIWebServer(threads, serverport, web_site, interface="127.0.0.1")
            service.setName("EvenniaWebServer%s" % serverport)
            service.setServiceParent(self)
            self.info_dict["webserver"] += "webserver: %s" % serverport

    def drain_web_requests(self):
        """Lock the web root and wait (bounded) for the requests Django is
        working on; a Deferred. Safe to call again: later calls join the
        same drain."""
        web_root = getattr(self, "web_root", None)
        if web_root is None:
            return defer.succeed([])
        return web_root.empty_threadpool()

    def stopService(self):
        """Drain the web requests in flight, then stop as Evennia does.

        A reload drains in Evennia's ``shutdown()`` before the reactor
        stops; a signal (Ctrl-C, SIGTERM) stops the reactor, and Twisted
        stops the services first and waits for the Deferred returned here.
        Without this, the web listener and its pool would stop while an
        answer is still being made."""
        d = self.drain_web_requests()
        d.addErrback(lambda f: _log.failure("Draining web requests failed", f))
        d.addCallback(lambda _: webserver.set_active_web_root(None))
        d.addCallback(lambda _: super(AWSStorageServerService, self).stopService())
        return d


#: The value of ``AMP_SERVER_PROTOCOL_CLASS`` that the portal service expects.
HOLDING_AMP_PROTOCOL_PATH = "contrib_awsstorage.services.HoldingAMPServerProtocol"


class HoldingAMPServerProtocol(AMPServerProtocol):
    """The portal's AMP protocol, telling our proxies when it stops the server.

    Every reload, reset and shutdown goes through ``stop_server``; from that
    moment the proxies hold new web requests instead of sending them to a
    server about to go away, and a probe ends the hold when a server
    accepts requests again. Select it with ``AMP_SERVER_PROTOCOL_CLASS``
    (a game with its own protocol class subclasses this one).
    """

    def stop_server(self, mode="shutdown"):
        for proxy in getattr(self.factory.portal, "web_proxies", ()):
            proxy.hold.server_going_away()
        return super().stop_server(mode=mode)


def _amp_protocol_warning():
    """None if ``AMP_SERVER_PROTOCOL_CLASS`` holds the web proxy on a reload,
    else the warning that says what to set."""
    from evennia.utils.utils import class_from_module

    configured = getattr(settings, "AMP_SERVER_PROTOCOL_CLASS", None)
    try:
        protocol = class_from_module(configured)
    except Exception:  # Evennia itself reports a protocol it cannot import
        protocol = None
    if isinstance(protocol, type) and issubclass(protocol, HoldingAMPServerProtocol):
        return None
    return (
        f"WARNING: settings.AMP_SERVER_PROTOCOL_CLASS is {configured!r}; set it to "
        f"{HOLDING_AMP_PROTOCOL_PATH!r} (or a subclass) so that the web proxy holds "
        "new requests from the moment a reload begins."
    )


class AWSStoragePortalService(EvenniaPortalService):
    """Evennia's portal service, with our reverse proxy and site; with
    ``HoldingAMPServerProtocol`` its AMP link tells the proxy when the
    server restarts."""

    def register_amp(self):
        """Evennia's AMP server; warn (log and startup info) when its protocol
        is not ``HoldingAMPServerProtocol``."""
        super().register_amp()
        warning = _amp_protocol_warning()
        if warning:
            _log.warn("{warning}", warning=warning)
            errors = self.info_dict.get("errors") or ""
            self.info_dict["errors"] = f"{errors}\n{warning}" if errors else warning

    def register_webserver(self):
        # Mirrors Evennia's method; only the proxy and site classes differ.
        import evennia
        from evennia.utils.utils import class_from_module

        interfaces = self.check_lockdown(settings.WEBSERVER_INTERFACES)
        self._websocket_started = False
        self.web_proxies = []
        for interface in interfaces:
            ifacestr = ""
            if interface not in ("0.0.0.0", "::") or len(interfaces) > 1:
                ifacestr = "-%s" % interface
            for proxyport, serverport in settings.WEBSERVER_PORTS:
                web_root = webserver.EvenniaReverseProxyResource("127.0.0.1", serverport, "")
                self.web_proxies.append(web_root)
                webclientstr = ""
                if settings.WEBCLIENT_ENABLED:
                    # create ajax client processes at /webclientdata
                    ajax_webclient = class_from_module(settings.AJAX_CLIENT_CLASS)()
                    ajax_webclient.sessionhandler = evennia.PORTAL_SESSION_HANDLER
                    web_root.putChild(b"webclientdata", ajax_webclient)
                    webclientstr = "webclient (ajax only)"
                    websocket = self._register_websocket()
                    if websocket:
                        webclientstr = websocket
                self.info_dict["webclient"].append(webclientstr)

                plugins = _web_plugins(self.info_dict)
                if plugins:
                    try:
                        web_root = plugins.at_webproxy_root_creation(web_root)
                    except Exception:
                        self.info_dict["errors"] = (
                            "WARNING: WEB_PLUGINS_MODULE is enabled but "
                            "at_webproxy_root_creation() not found copy "
                            "'evennia/game_template/server/conf/web_plugins.py to "
                            "mygame/server/conf."
                        )
                site = webserver.Website(web_root, logPath=settings.HTTP_LOG_FILE, is_portal=True)
                proxy_service = internet.TCPServer(proxyport, site, interface=interface)
                proxy_service.setName("EvenniaWebProxy%s:%s" % (ifacestr, proxyport))
                proxy_service.setServiceParent(self)
                self.info_dict["webserver_proxy"].append(
                    "webserver-proxy%s: %s" % (ifacestr, proxyport)
                )
                self.info_dict["webserver_internal"].append("webserver: %s" % serverport)

    def _register_websocket(self):
        """The webclient's websocket port, once (as Evennia does); its info line."""
        if self._websocket_started or not (
            settings.WEBSOCKET_CLIENT_ENABLED
            and settings.WEBSOCKET_CLIENT_PORT
            and settings.WEBSOCKET_CLIENT_INTERFACE
        ):
            return None
        import evennia
        from autobahn.twisted.websocket import WebSocketServerFactory
        from evennia.server.portal import webclient  # noqa: F401
        from evennia.utils.utils import class_from_module

        w_interface = "127.0.0.1" if settings.LOCKDOWN_MODE else settings.WEBSOCKET_CLIENT_INTERFACE
        w_ifacestr = ""
        if w_interface not in ("0.0.0.0", "::") or len(settings.WEBSERVER_INTERFACES) > 1:
            w_ifacestr = "-%s" % w_interface
        port = settings.WEBSOCKET_CLIENT_PORT

        class Websocket(WebSocketServerFactory):
            "Only here for better naming in logs"

        factory = Websocket()
        factory.noisy = False
        factory.protocol = class_from_module(settings.WEBSOCKET_PROTOCOL_CLASS)
        factory.sessionhandler = evennia.PORTAL_SESSION_HANDLER
        websocket_service = internet.TCPServer(port, factory, interface=w_interface)
        websocket_service.setName("EvenniaWebSocket%s:%s" % (w_ifacestr, port))
        websocket_service.setServiceParent(self)
        self._websocket_started = True
        return "webclient-websocket%s: %s" % (w_ifacestr, port)
