"""PrivateStaticRoot on a real listener: private, safe, cacheable, typed."""

from __future__ import annotations

import os
import time
from email.utils import formatdate

import pytest
from twisted.web import resource

from contrib_awsstorage.web.staticroot import DEFAULT_CACHE_CONTROL
from contrib_awsstorage.webserver import PrivateStaticRoot, Website

from .harness import Listener, get, in_reactor, raw_get, wait_for

SECRET = b"TOP-SECRET-DO-NOT-SERVE"

FILES = {
    "css/app.css": b"body{color:red}",
    "js/app.js": b"console.log(1)",
    "js/mod.mjs": b"export default 1",
    "img/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "fonts/f.woff2": b"wOF2....",
    "bin/m.wasm": b"\x00asm\x01\x00\x00\x00",
    "img/p.webp": b"RIFF....WEBP",
    "img/p.avif": b"....ftypavif",
    "js/app.js.map": b"{}",
    "css/app.0123456789ab.css": b"h1{}",
    "data/blob.qqq9": b"<html><script>alert(1)</script></html>",
    "sub/deeper/leaf.txt": b"leaf",
    ".env": SECRET,
    "sub/.hidden/file.txt": SECRET,
    "ten.bin": bytes(range(256)) * 40,
}


@pytest.fixture
def static_dir(tmp_path):
    root = tmp_path / "root"
    for name, data in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    os.symlink(tmp_path / "secret.txt", root / "escape")
    os.symlink(tmp_path / "outside", root / "escape_dir")
    os.symlink(root / ".env", root / "to_dotfile")
    os.symlink(root / "css" / "app.css", root / "inside_link.css")
    (root / "big.bin").write_bytes(os.urandom(1024 * 1024))  # past the in-memory cache size
    return root


@pytest.fixture
def static_site(running_reactor, static_dir):
    top = resource.Resource()
    top.putChild(b"static", PrivateStaticRoot(str(static_dir)))
    listener = Listener(Website(top, debug=False))
    yield listener
    listener.close()


@pytest.mark.parametrize(
    "path",
    ["/static", "/static/", "/static/css", "/static/css/", "/static/sub/", "/static/sub/deeper/"],
)
def test_listing_refused_at_every_depth(static_site, path):
    code, _, body = get(static_site, path)
    assert code == 403
    assert b"app.css" not in body and b"leaf" not in body


TRAVERSALS = [
    b"/static/../secret.txt",
    b"/static/css/../../secret.txt",
    b"/static/%2e%2e/secret.txt",
    b"/static/%2E%2E/secret.txt",
    b"/static/..%2fsecret.txt",
    b"/static/%2e%2e%2fsecret.txt",
    b"/static/css/..%2f..%2fsecret.txt",
    b"/static/..%5csecret.txt",
    b"/static/..\\secret.txt",
    b"/static/%c0%ae%c0%ae/secret.txt",
    b"/static/%252e%252e/secret.txt",
    b"/static/css/app.css%00",
    b"/static/css/app.css%00.png",
    b"/static/%00/../secret.txt",
    b"/static//secret.txt",
    b"/static/%2fetc%2fpasswd",
    b"/static/escape",
    b"/static/escape_dir/secret.txt",
    b"/static/.env",
    b"/static/%2eenv",
    b"/static/to_dotfile",
    b"/static/sub/.hidden/file.txt",
    b"/static/sub/%2ehidden/file.txt",
    b"/static/./.env",
]


@pytest.mark.parametrize("raw", TRAVERSALS, ids=[t.decode("latin-1") for t in TRAVERSALS])
def test_traversal_refused(static_site, raw):
    code, body = raw_get(static_site.number, raw)
    assert code in (400, 403, 404), code
    assert SECRET not in body


def test_symlink_inside_root_is_served(static_site):
    code, _, body = get(static_site, "/static/inside_link.css")
    assert (code, body) == (200, FILES["css/app.css"])


@pytest.mark.parametrize(
    "name, ctype",
    [
        ("css/app.css", "text/css; charset=utf-8"),
        ("js/app.js", "text/javascript; charset=utf-8"),
        ("js/mod.mjs", "text/javascript; charset=utf-8"),
        ("img/logo.svg", "image/svg+xml"),
        ("fonts/f.woff2", "font/woff2"),
        ("bin/m.wasm", "application/wasm"),
        ("img/p.webp", "image/webp"),
        ("img/p.avif", "image/avif"),
        ("js/app.js.map", "application/json"),
        ("data/blob.qqq9", "application/octet-stream"),
    ],
)
def test_types(static_site, name, ctype):
    code, headers, body = get(static_site, "/static/" + name)
    assert code == 200 and body == FILES[name]
    assert headers["content-type"] == ctype
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-length"] == str(len(FILES[name]))


def test_cache_control(static_site):
    hashed = get(static_site, "/static/css/app.0123456789ab.css")[1]["cache-control"]
    plain = get(static_site, "/static/css/app.css")[1]["cache-control"]
    assert hashed == DEFAULT_CACHE_CONTROL["hashed"] and "immutable" in hashed
    assert plain == DEFAULT_CACHE_CONTROL["default"] and "immutable" not in plain


def test_cache_control_configurable(running_reactor, static_dir):
    top = resource.Resource()
    policy = {"default": "no-cache", "hashed": "public, max-age=60"}
    top.putChild(b"s", PrivateStaticRoot(str(static_dir), cache_control=policy))
    listener = Listener(Website(top))
    try:
        assert get(listener, "/s/css/app.css")[1]["cache-control"] == "no-cache"
        assert (
            get(listener, "/s/css/app.0123456789ab.css")[1]["cache-control"] == "public, max-age=60"
        )
    finally:
        listener.close()


def test_conditional_get(static_site):
    code, headers, _ = get(static_site, "/static/css/app.css")
    etag, last_modified = headers["etag"], headers["last-modified"]
    assert code == 200 and etag.startswith('"')

    def status(*hdrs):
        c, h, body = get(static_site, "/static/css/app.css", list(hdrs))
        if c == 304:
            assert body == b"" and "content-length" not in h and h["etag"] == etag
            assert "cache-control" in h
        return c

    assert status(("If-None-Match", etag)) == 304
    assert status(("If-None-Match", "W/" + etag)) == 304
    assert status(("If-None-Match", '"nope", ' + etag)) == 304
    assert status(("If-None-Match", "*")) == 304
    assert status(("If-None-Match", '"nope"')) == 200
    assert status(("If-Modified-Since", last_modified)) == 304
    assert status(("If-Modified-Since", formatdate(time.time() + 3600, usegmt=True))) == 304
    assert status(("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")) == 200
    assert status(("If-Modified-Since", "garbage")) == 200
    # RFC 9110 13.2.2: If-None-Match is evaluated, If-Modified-Since then ignored
    assert status(("If-None-Match", '"nope"'), ("If-Modified-Since", last_modified)) == 200


def test_changed_file_gets_new_validators(static_site, static_dir):
    first = get(static_site, "/static/js/app.js")[1]["etag"]
    path = static_dir / "js" / "app.js"
    path.write_bytes(b"console.log(2222)")
    os.utime(path, (time.time() + 5, time.time() + 5))
    code, headers, body = get(static_site, "/static/js/app.js")
    assert body == b"console.log(2222)" and headers["etag"] != first


def test_head(static_site):
    code, headers, body = get(static_site, "/static/ten.bin", method="HEAD")
    assert code == 200 and body == b""
    assert headers["content-length"] == str(len(FILES["ten.bin"]))
    assert headers["etag"] and headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize("name", ["ten.bin", "big.bin"])
def test_ranges(static_site, static_dir, name):
    data = (static_dir / name).read_bytes()
    url = "/static/" + name
    code, headers, body = get(static_site, url, [("Range", "bytes=10-19")])
    assert (code, body) == (206, data[10:20])
    assert headers["content-range"] == f"bytes 10-19/{len(data)}"
    code, _, body = get(static_site, url, [("Range", "bytes=-5")])
    assert (code, body) == (206, data[-5:])
    code, _, body = get(static_site, url, [("Range", "bytes=100-")])
    assert (code, body) == (206, data[100:])
    code, headers, _ = get(static_site, url, [("Range", f"bytes={len(data)}-")])
    assert code == 416 and headers["content-range"] == f"bytes */{len(data)}"
    code, _, body = get(static_site, url, [("Range", "bytes=0-1,5-6")])
    assert (code, body) == (200, data)  # several ranges: whole file (allowed by RFC 9110)
    code, _, body = get(static_site, url, [("Range", "bytes=0-4"), ("If-Range", '"stale"')])
    assert (code, body) == (200, data)
    code, _, body = get(static_site, url)
    assert (code, body) == (200, data)


def test_methods(static_site):
    code, headers, _ = get(static_site, "/static/css/app.css", method="POST", body=b"x")
    assert code == 405 and headers["allow"] == "GET, HEAD"


def test_missing_and_missing_root(running_reactor, tmp_path):
    top = resource.Resource()
    top.putChild(b"static", PrivateStaticRoot(str(tmp_path / "not-collected-yet")))
    listener = Listener(Website(top))
    try:
        assert get(listener, "/static/x.css")[0] == 404
        assert get(listener, "/static/")[0] == 404
    finally:
        listener.close()


def test_under_django_root_and_as_evennia_builds_it(django_site, static_dir):
    site = django_site(maxthreads=2)
    site.root.putChild(b"static", PrivateStaticRoot(str(static_dir)))
    assert get(site.listener, "/static/css/app.css")[2] == FILES["css/app.css"]
    assert get(site.listener, "/static/css/")[0] == 403
    assert get(site.listener, "/hello/")[2] == b"hello"
    # the Django request finishes just after its bytes arrive; then nothing is pending
    wait_for(lambda: in_reactor(site.root.status)["pending"] == 0, what="no pending")
    before = in_reactor(site.root.status)["pending"]
    assert get(site.listener, "/static/css/app.css")[0] == 200
    assert in_reactor(site.root.status)["pending"] == before == 0  # static is never pending


def test_a_file_gets_the_same_type_from_the_game_and_from_s3(
    static_site, static_dir, storage, s3_client, bucket
):
    """One Content-Type table (media_types): a browser that gets a file from the
    game's static root and then from the bucket sees the same type."""
    from django.core.files.base import ContentFile

    names = [
        "css/app.css",
        "js/app.js",
        "js/mod.mjs",
        "img/logo.svg",
        "fonts/f.woff2",
        "bin/m.wasm",
        "img/p.webp",
        "img/p.avif",
        "js/app.js.map",
        "data/blob.qqq9",
        "sub/deeper/leaf.txt",
    ]
    for name in names:
        storage.save(name, ContentFile(FILES[name]))
        from_s3 = s3_client.head_object(Bucket=bucket, Key=storage.key_for(name))["ContentType"]
        code, headers, _ = get(static_site, "/static/" + name)
        assert code == 200, name
        assert headers["content-type"] == from_s3, name
