"""Evennia service classes that put ``contrib_awsstorage.webserver`` to work.

Select them in the game's ``settings.py``::

    EVENNIA_SERVER_SERVICE_CLASS = "contrib_awsstorage.services.AWSStorageServerService"
    EVENNIA_PORTAL_SERVICE_CLASS = "contrib_awsstorage.services.AWSStoragePortalService"

They override only ``register_webserver`` - where Evennia builds its own
site and proxy - and build the same tree from our classes, with the same
``WEB_PLUGINS_MODULE`` hooks, names and info lines (``/static`` redirects to
``STATIC_URL`` when that is on S3 or a CDN, see ``static_redirect``).
Evennia's own ``shutdown()`` then drains through our bounded
``empty_threadpool()``. Of the web layer, only this module imports Evennia.
"""

from __future__ import annotations

from .evennia_extra import require_evennia

require_evennia(__name__)

from django.conf import settings
from evennia.server.portal.service import EvenniaPortalService
from evennia.server.service import EvenniaServerService
from twisted.application import internet
from twisted.internet import defer
from twisted.logger import Logger

from . import webserver
from .web.static_redirect import static_resource

__all__ = ["AWSStorageServerService", "AWSStoragePortalService"]

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

    def _wrap_sigint_handler(self, *args):
        """Ctrl-C: drain (bounded), run Evennia's shutdown, stop the reactor.

        Evennia's version also fires the drain Deferred itself after 1 s,
        cutting the drain short; this one waits for the bound."""
        from twisted.internet import reactor

        if hasattr(self, "web_root"):
            d = self.web_root.empty_threadpool()
        else:
            d = defer.succeed(None)
        d.addCallback(lambda _: self.shutdown("reload", _reactor_stopping=True))
        d.addErrback(lambda f: _log.failure("Shutdown after SIGINT failed", f))
        d.addBoth(lambda _: reactor.stop())
        return d

    def stopService(self):
        webserver.set_active_web_root(None)
        return super().stopService()


def _holding_on_restart(amp_protocol_class):
    """The portal's AMP protocol, telling our proxies when it stops the server
    (reload, reset, shutdown: every way goes through ``stop_server``), so they
    hold new web requests from that moment instead of sending them to a
    server about to go away; a probe ends the hold when a server accepts."""

    class HoldingAMPServerProtocol(amp_protocol_class):
        def stop_server(self, mode="shutdown"):
            for proxy in getattr(self.factory.portal, "web_proxies", ()):
                proxy.hold.server_going_away()
            return super().stop_server(mode=mode)

    HoldingAMPServerProtocol.__name__ = "Holding" + amp_protocol_class.__name__
    return HoldingAMPServerProtocol


class AWSStoragePortalService(EvenniaPortalService):
    """Evennia's portal service, with our reverse proxy and site; its AMP
    link tells the proxy when the server restarts."""

    def register_amp(self):
        super().register_amp()
        factory = self.getServiceNamed("PortalAMPServer").args[1]
        factory.protocol = _holding_on_restart(factory.protocol)

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
