"""Settings of the web stack child process (``webstack.py``)."""

import os

from tests.settings import *  # noqa: F401,F403

ROOT_URLCONF = "tests.reliability.web_urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]
UPSTREAM_IPS = [ip for ip in os.environ.get("WEBSTACK_UPSTREAM_IPS", "127.0.0.1").split(",") if ip]
AWSSTORAGE_WEB_DRAIN_TIMEOUT = float(os.environ.get("WEBSTACK_DRAIN_TIMEOUT", "5"))
AWSSTORAGE_WEB_PROXY_TIMEOUT = float(os.environ.get("WEBSTACK_PROXY_TIMEOUT", "10"))
DEBUG = False
