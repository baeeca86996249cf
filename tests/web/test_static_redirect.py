"""``/static`` on the game's own site redirects to the S3/CDN copy."""

from __future__ import annotations

import pytest
from twisted.web import resource, server

from contrib_awsstorage.web.static_redirect import (
    StaticRedirect,
    is_remote_static_url,
    static_resource,
)
from contrib_awsstorage.webserver import PrivateStaticRoot

from .harness import Listener, get, raw_get

BASE = "http://127.0.0.1:9/bucket/static/"


@pytest.fixture
def site(running_reactor):
    root = resource.Resource()
    root.putChild(b"static", StaticRedirect(BASE))
    listener = Listener(server.Site(root))
    yield listener
    listener.close()


def test_file_redirects_to_the_same_path_under_static_url(site):
    status, headers, _ = get(site, "/static/website/images/evennia_logo.png")
    assert status == 302
    assert headers["location"] == BASE + "website/images/evennia_logo.png"
    assert "max-age=3600" in headers["cache-control"]


def test_head_redirects_too(site):
    status, headers, body = get(site, "/static/css/a.css", method="HEAD")
    assert status == 302 and headers["location"] == BASE + "css/a.css" and body == b""


def test_special_characters_are_quoted(site):
    status, headers, _ = get(site, "/static/fonts/my%20font%C3%A9.woff2")
    assert status == 302
    assert headers["location"] == BASE + "fonts/my%20font%C3%A9.woff2"


@pytest.mark.parametrize(
    "path",
    [
        b"/static/",
        b"/static/../media/secret.txt",
        b"/static/%2e%2e/media/x",
        b"/static/a/..%2fb",
        b"/static/a%5c..%5cb",
        b"/static/a%00b",
        b"/static/a//b",
    ],
)
def test_no_way_out_of_the_prefix(site, path):
    status, _ = raw_get(site.number, path)
    assert status == 404, path


def test_remote_static_url_detection():
    assert is_remote_static_url("https://cdn.example.com/static/")
    assert is_remote_static_url("//cdn.example.com/static/")
    assert not is_remote_static_url("/static/")
    assert not is_remote_static_url(None)


def test_static_resource_picks_redirect_only_for_remote_urls(tmp_path):
    assert isinstance(static_resource(str(tmp_path), "https://cdn.example.com/s/"), StaticRedirect)
    assert isinstance(static_resource(str(tmp_path), "/static/"), PrivateStaticRoot)
