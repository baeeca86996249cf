"""Path traversal: for any path string, nothing outside the base (storage
location, static root) is ever read, written or listed."""

from __future__ import annotations

import os
import posixpath
import socket
import uuid
from urllib.parse import quote

import pytest
from django.core.exceptions import SuspiciousFileOperation, SuspiciousOperation
from django.core.files.base import ContentFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage, safe_join
from contrib_awsstorage.s3.errors import S3StorageError

from .loadgen import WebStack

NASTY = [
    "..",
    ".",
    "",
    "...",
    "%2e%2e",
    "%2E%2E",
    ".%2e",
    "%2e.",
    "..%2f",
    "..%5c",
    "%252e%252e",
    "%c0%ae%c0%ae",
    "..\\",
    "\\..",
    "%00",
    "a%00b",
    "~",
    ".env",
    ".git",
    "/",
    "//",
    "a",
    "b.txt",
    "sub",
    "ü",
    "%",
    "%zz",
    ";",
    "..;",
    "\x00",
    "\\",
]
segment = st.one_of(st.sampled_from(NASTY), st.text(max_size=6))
relpath = st.lists(segment, max_size=6).map("/".join)


def _escapes(base: str, joined: str) -> bool:
    base_norm = posixpath.normpath("/" + base.strip("/")) if base.strip("/") else "/"
    final = posixpath.normpath("/" + joined)
    return not (final == base_norm or final.startswith(base_norm.rstrip("/") + "/"))


@settings(max_examples=600, deadline=None)
@given(
    base=st.sampled_from(["", "static", "media/uploads", "a/b/c"]),
    paths=st.lists(relpath, min_size=1, max_size=3),
)
def test_safe_join_never_leaves_base(base, paths):
    try:
        joined = safe_join(base, *paths)
    except ValueError:
        return
    assert "\x00" not in joined and "\\" not in joined
    assert ".." not in joined.split("/")
    assert not joined.startswith("/")
    assert not _escapes(base, joined), (base, paths, joined)
    if base:
        assert (
            joined == base.strip("/") + "/"
            or joined.startswith(base.strip("/") + "/")
            or joined == base.strip("/")
        )


@pytest.fixture
def located_storage(s3_settings):
    s3_settings.AWS_LOCATION = "media/uploads"
    return S3Boto3Storage()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=relpath)
def test_storage_keys_stay_inside_location(located_storage, name):
    try:
        key = located_storage.key_for(name)
    except (SuspiciousOperation, ValueError):
        return
    assert key.startswith("media/uploads/") or key == "media/uploads/", (name, key)
    assert ".." not in key.split("/"), (name, key)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=relpath.filter(lambda n: n.strip("/")))
def test_storage_save_writes_only_inside_location(located_storage, s3_client, bucket, name):
    try:
        saved = located_storage.save(name, ContentFile(b"payload"))
    except (SuspiciousOperation, SuspiciousFileOperation, ValueError):
        saved = None
    except S3StorageError:  # e.g. a key the S3 server will not take ("\n"): refused, fine
        saved = None
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert all(k.startswith("media/uploads/") for k in keys), (name, keys)
    if saved is not None:
        assert located_storage.exists(saved)
        assert located_storage.key_for(saved) in keys


# -- PrivateStaticRoot over real HTTP ----------------------------------------------

MARKER = f"TOPSECRET-{uuid.uuid4().hex}"
PUBLIC = {
    "a.css": b"body{}",
    "sub/b.js": b"let b;",
    "sub/deeper/c.txt": b"c",
    "\u00fc.txt": b"umlaut",
}


@pytest.fixture(scope="module")
def static_stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("static")
    root, outside = base / "root", base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(MARKER)
    for name, data in PUBLIC.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / ".env").write_text(MARKER)
    (root / "sub" / ".git").mkdir()
    (root / "sub" / ".git" / "config").write_text(MARKER)
    os.symlink(outside / "secret.txt", root / "escape.txt")
    os.symlink(outside, root / "escdir")
    os.symlink(root / ".env", root / "dotlink.txt")
    (base / "sibling.txt").write_text(MARKER)
    with WebStack(static_root=root, threads=2) as stack:
        yield stack


def _get(port: int, target: bytes, method: bytes = b"GET") -> tuple[int, bytes]:
    """One raw HTTP request (the target goes on the wire exactly as given)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    if b"transfer-encoding: chunked" in head.lower():
        decoded, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if not size:
                break
            decoded, rest = decoded + rest[:size], rest[size + 2 :]
        body = decoded
    return status, body


def test_public_files_are_served_and_the_rest_refused(static_stack):
    for port in (static_stack.server, static_stack.portal):
        for name, data in PUBLIC.items():
            target = "/static/" + quote(name)
            assert _get(port, target.encode("ascii")) == (200, data), (port, name)
        for target in [
            b"/static/",
            b"/static/sub/",
            b"/static/sub",
            b"/static/.env",
            b"/static/escape.txt",
            b"/static/escdir/secret.txt",
            b"/static/dotlink.txt",
            b"/static/sub/.git/config",
            b"/static/../sibling.txt",
            b"/static/%2e%2e/sibling.txt",
            b"/media/escdir/",
        ]:
            status, body = _get(port, target)
            assert status in (400, 403, 404), (port, target, status)
            assert MARKER.encode() not in body


url_segment = st.one_of(
    st.sampled_from(
        NASTY
        + [
            "escape.txt",
            "escdir",
            "secret.txt",
            "dotlink.txt",
            "sibling.txt",
            "root",
            "outside",
            "a.css",
            "c.txt",
            "deeper",
            "%c3%bc.txt",
        ]
    ),
    st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#?"),
        max_size=5,
    ),
)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    mount=st.sampled_from(["/static/", "/media/", "/static//", "/static/sub/"]),
    segments=st.lists(url_segment, max_size=6),
    method=st.sampled_from([b"GET", b"HEAD"]),
    via_portal=st.booleans(),
)
def test_no_url_reads_outside_the_static_root(static_stack, mount, segments, method, via_portal):
    target = (mount + "/".join(segments)).encode("utf-8").replace(b"\x00", b"%00")
    port = static_stack.portal if via_portal else static_stack.server
    status, body = _get(port, target, method)
    assert MARKER.encode() not in body, target
    if status == 200 and method == b"GET":
        assert body in PUBLIC.values(), (target, body[:200])
