"""Fixtures for the web-layer tests: a reactor thread, sites, log capture."""

from __future__ import annotations

import pytest
from twisted.logger import globalLogPublisher

from contrib_awsstorage.webserver import DjangoWebRoot, LockableThreadPool, Website

from .harness import Listener, LogCapture, Portal, ReactorThread, in_reactor
from .wsgi import make_application


@pytest.fixture(scope="package")
def running_reactor():
    """The global reactor, running in a background thread for this package.

    Stopped when the package's tests are done; a reactor cannot be
    restarted, so nothing else in the session may expect to run one.
    """
    from twisted.internet import reactor

    running = ReactorThread()
    yield reactor
    running.stop()


@pytest.fixture(scope="package")
def wsgi_app():
    return make_application()


@pytest.fixture
def log_capture():
    capture = LogCapture()
    globalLogPublisher.addObserver(capture)
    yield capture
    globalLogPublisher.removeObserver(capture)


class DjangoSite:
    """A DjangoWebRoot on its own pool behind a Website on a free port."""

    def __init__(self, app, maxthreads=10, drain_timeout=5.0, **site_kwargs):
        self.pool = LockableThreadPool(minthreads=1, maxthreads=maxthreads, name="test-web")
        self.root = DjangoWebRoot(self.pool, application=app, drain_timeout=drain_timeout)
        self.site = Website(self.root, **site_kwargs)
        in_reactor(self.pool.start)
        self.listener = Listener(self.site)

    def close(self):
        self.listener.close()
        in_reactor(self.pool.stop_off_thread, None, 2.0)


@pytest.fixture
def django_site(running_reactor, wsgi_app):
    """Factory: ``django_site(maxthreads=..., drain_timeout=..., **Website kwargs)``."""
    made = []

    def make(**kwargs):
        site = DjangoSite(wsgi_app, **kwargs)
        made.append(site)
        return site

    yield make
    for site in made:
        site.close()


@pytest.fixture
def portals(running_reactor):
    """Factory: ``portals(backend_port, **Portal kwargs)``; closed after the test."""
    made = []

    def make(port, **kwargs):
        portal = Portal(port, **kwargs)
        made.append(portal)
        return portal

    yield make
    for portal in made:
        portal.close()
