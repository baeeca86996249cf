"""A WEB_PLUGINS_MODULE like a game's: proves the hooks still run."""

from twisted.web import static


def at_webserver_root_creation(web_root):
    web_root.putChild(b"plugin-server", static.Data(b"server plugin", "text/plain"))
    return web_root


def at_webproxy_root_creation(web_root):
    web_root.putChild(b"plugin-portal", static.Data(b"portal plugin", "text/plain"))
    return web_root
