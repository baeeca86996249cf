"""Evennia's default settings with our service classes, for a game-less process.

Used by ``services_process.py`` (``DJANGO_SETTINGS_MODULE``); paths and ports
come from the environment the test sets.
"""

import os

from evennia.settings_default import *  # noqa: F401,F403

_TMP = os.environ["WEB_TEST_TMP"]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(_TMP, "game.db3")}
}
WEBSERVER_PORTS = [
    (int(os.environ["WEB_TEST_PROXY_PORT"]), int(os.environ["WEB_TEST_SERVER_PORT"]))
]
WEBSERVER_INTERFACES = ["127.0.0.1"]
WEBCLIENT_ENABLED = False
WEBSOCKET_CLIENT_ENABLED = False
WEB_PLUGINS_MODULE = "tests.web.web_plugins"
ROOT_URLCONF = "tests.web.urls"
STATIC_ROOT = os.path.join(_TMP, "static")
STATIC_URL = os.environ.get("WEB_TEST_STATIC_URL", "/static/")
MEDIA_ROOT = os.path.join(_TMP, "media")
HTTP_LOG_FILE = os.path.join(_TMP, "http_requests.log")
UPSTREAM_IPS = ["127.0.0.1"]
AWSSTORAGE_WEB_DRAIN_TIMEOUT = 2.0
WEBSERVER_THREADPOOL_LIMITS = (1, 5)
EVENNIA_SERVER_SERVICE_CLASS = "contrib_awsstorage.services.AWSStorageServerService"
EVENNIA_PORTAL_SERVICE_CLASS = "contrib_awsstorage.services.AWSStoragePortalService"
if not os.environ.get("WEB_TEST_STOCK_AMP"):  # else Evennia's own: the portal warns
    AMP_SERVER_PROTOCOL_CLASS = "contrib_awsstorage.services.HoldingAMPServerProtocol"
DEBUG = False
# No migrated database here: Evennia's session/login middleware would need one.
MIDDLEWARE = []
ALLOWED_HOSTS = ["*"]
