"""A static-file root fit to be a CDN origin: private, validated, cacheable.

Twisted's ``static.File`` lists directories, follows symlinks out of its
root, serves dotfiles, sends no ETag or Cache-Control and types unknown
files ``text/html``. ``PrivateStaticRoot`` keeps its constructor (so it is a
drop-in for Evennia's) but resolves the whole URL path itself, once, and
caches per file everything a response needs - validators, headers, and the
bytes of small files - revalidated by one ``stat`` per request (whitenoise
is the model). Nothing outside the root is ever opened.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from email.utils import formatdate, parsedate_to_datetime

from twisted.web import http, pages, static
from twisted.web.server import NOT_DONE_YET

from ..media_types import (
    HASHED_NAME_PATTERN,
    IMMUTABLE_CACHE_CONTROL,
    STATIC_CACHE_CONTROL,
    content_type_for,
)

__all__ = ["PrivateStaticRoot", "DEFAULT_CACHE_CONTROL", "content_type_for"]

#: ``AWSSTORAGE_STATIC_CACHE_CONTROL`` defaults; a partial dict in settings
#: overrides only the keys it names. RFC 9111 section 5.2; RFC 8246 (immutable).
DEFAULT_CACHE_CONTROL = {
    # names with a content hash (Django's ManifestStaticFilesStorage adds 12 hex)
    "hashed_pattern": HASHED_NAME_PATTERN,
    "hashed": IMMUTABLE_CACHE_CONTROL,
    "default": STATIC_CACHE_CONTROL,
}

_FORBIDDEN_BYTES = re.compile(rb"[\x00-\x1f\x7f/\\]")


class _Entry:
    """Everything a response for one file needs, computed once."""

    __slots__ = ("path", "key", "size", "mtime", "etag", "last_modified", "headers", "body")

    def __init__(self, path, st, cache_control, body):
        self.path = path
        self.key = (st.st_mtime_ns, st.st_size, st.st_ino)
        self.size = st.st_size
        self.mtime = int(st.st_mtime)
        # Strong validator from size and mtime, as whitenoise and nginx do.
        self.etag = b'"%x-%x"' % (st.st_size, st.st_mtime_ns)
        self.last_modified = formatdate(self.mtime, usegmt=True).encode("ascii")
        self.headers = (
            (b"Content-Type", [content_type_for(path).encode("ascii")]),
            (b"ETag", [self.etag]),
            (b"Last-Modified", [self.last_modified]),
            (b"Cache-Control", [cache_control.encode("ascii")]),
            (b"Accept-Ranges", [b"bytes"]),
            (b"X-Content-Type-Options", [b"nosniff"]),
        )
        self.body = body


_DIRECTORY = object()


class PrivateStaticRoot(static.File):
    """Static files without directory listings, dotfiles or escapes.

    Same constructor as ``twisted.web.static.File`` (Evennia builds it with
    just a path). It is a leaf: it resolves the remaining URL path itself,
    which is both safer (one place checks every segment) and faster (no
    child resource per segment).
    """

    isLeaf = True
    #: Files up to this size are kept in memory after the first request.
    max_cached_body = 256 * 1024
    #: Total bytes of file bodies kept in memory per root.
    body_cache_budget = 64 * 1024 * 1024

    def __init__(
        self,
        path,
        defaultType="text/html",
        ignoredExts=(),
        registry=None,
        allowExt=0,
        cache_control=None,
    ):
        super().__init__(path, defaultType, ignoredExts, registry, allowExt)
        policy = dict(DEFAULT_CACHE_CONTROL)
        policy.update(cache_control if cache_control is not None else _settings_policy())
        self.cache_control = policy
        self._hashed = re.compile(policy["hashed_pattern"])
        self._entries: dict[bytes, _Entry] = {}
        self._cached_bytes = 0
        self._lock = threading.Lock()

    def createSimilarFile(self, path):
        f = super().createSimilarFile(path)
        f.cache_control = self.cache_control
        f._hashed = self._hashed
        return f

    def directoryListing(self):
        """Directory listings are never shown: 403 at every depth."""
        return pages.forbidden()

    # -- resolution -------------------------------------------------------

    def _resolve(self, segments):
        """The cached entry for a URL path, ``_DIRECTORY``, or None (404)."""
        key = b"/".join(segments)
        entry = self._entries.get(key)
        if entry is not None:
            try:
                st = os.stat(entry.path)
            except OSError:
                st = None
            if st is not None and (st.st_mtime_ns, st.st_size, st.st_ino) == entry.key:
                return entry
            self._forget(key)
        directory_request = bool(segments) and segments[-1] == b""
        if directory_request:
            segments = segments[:-1]
        names = []
        for seg in segments:
            if not seg or seg[:1] == b"." or _FORBIDDEN_BYTES.search(seg):
                return None  # empty, dotfile, "..", separators, NUL, controls
            try:
                names.append(seg.decode("utf-8"))
            except UnicodeDecodeError:
                return None  # overlong or invalid UTF-8 (e.g. %c0%ae)
        root = os.path.realpath(self.path)
        real = os.path.realpath(os.path.join(root, *names))
        if real != root:
            if not real.startswith(root + os.sep):
                return None  # a symlink pointing out of the root
            if any(part.startswith(".") for part in real[len(root) + 1 :].split(os.sep)):
                return None  # a symlink onto a dotfile inside the root
        try:
            st = os.stat(real)
        except OSError:
            return None
        if stat.S_ISDIR(st.st_mode):
            return _DIRECTORY
        if directory_request or not stat.S_ISREG(st.st_mode):
            return None
        return self._remember(key, real, st)

    def _remember(self, key, real, st):
        policy = self.cache_control
        cache_control = (
            policy["hashed"] if self._hashed.search(os.path.basename(real)) else policy["default"]
        )
        body = None
        if (
            st.st_size <= self.max_cached_body
            and self._cached_bytes + st.st_size <= self.body_cache_budget
        ):
            try:
                with open(real, "rb") as fh:
                    body = fh.read(st.st_size + 1)
            except OSError:
                return None
            if len(body) != st.st_size:
                body = None  # changing under us: stream it this time, cache nothing
                return _Entry(real, st, cache_control, None)
        entry = _Entry(real, st, cache_control, body)
        with self._lock:
            self._entries[key] = entry
            if body is not None:
                self._cached_bytes += len(body)
        return entry

    def _forget(self, key):
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None and old.body is not None:
                self._cached_bytes -= len(old.body)

    # -- rendering --------------------------------------------------------

    def render(self, request):
        method = request.method
        if method != b"GET" and method != b"HEAD":
            request.setResponseCode(http.NOT_ALLOWED)
            request.setHeader(b"Allow", b"GET, HEAD")
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return b"Method not allowed.\n"
        found = self._resolve(request.postpath)
        if found is None:
            return _not_found(request)
        if found is _DIRECTORY:
            return self.directoryListing().render(request)
        entry = found
        headers = request.responseHeaders
        for name, value in entry.headers:
            headers.setRawHeaders(name, value)
        if _not_modified(request, entry):
            # RFC 9110 section 15.4.5: same validators, no body, no length.
            request.setResponseCode(http.NOT_MODIFIED)
            headers.removeHeader(b"Content-Type")
            request.write(b"")
            request.finish()
            return NOT_DONE_YET
        size = entry.size
        start, end = 0, size - 1
        if method == b"GET":
            wanted = _single_range(request, entry)
            if wanted == "unsatisfiable":
                request.setResponseCode(http.REQUESTED_RANGE_NOT_SATISFIABLE)
                headers.setRawHeaders(b"Content-Range", [b"bytes */%d" % size])
                headers.setRawHeaders(b"Content-Type", [b"text/plain; charset=utf-8"])
                return b"Range not satisfiable.\n"
            if wanted is not None:
                start, end = wanted
                request.setResponseCode(http.PARTIAL_CONTENT)
                headers.setRawHeaders(b"Content-Range", [b"bytes %d-%d/%d" % (start, end, size)])
        length = end - start + 1 if size else 0
        headers.setRawHeaders(b"Content-Length", [b"%d" % length])
        if method == b"HEAD":
            return b""
        if entry.body is not None:
            if start == 0 and length == size:
                return entry.body
            return entry.body[start : end + 1]
        return self._stream(request, entry, start, length)

    def _stream(self, request, entry, start, length):
        """Large files: send from disk with Twisted's back-pressured producers."""
        try:
            fh = open(entry.path, "rb")
        except OSError:
            request.responseHeaders.removeHeader(b"Content-Range")
            request.setResponseCode(http.OK)
            return _not_found(request)
        if start == 0 and length == entry.size:
            producer = static.NoRangeStaticProducer(request, fh)
        else:
            producer = static.SingleRangeStaticProducer(request, fh, start, length)
        producer.start()
        return NOT_DONE_YET


def _not_found(request):
    request.setResponseCode(http.NOT_FOUND)
    for name in (b"ETag", b"Last-Modified", b"Cache-Control", b"Accept-Ranges", b"Content-Range"):
        request.responseHeaders.removeHeader(name)
    request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
    return b"Not found\n"


def _not_modified(request, entry) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match wins over If-Modified-Since."""
    inm = request.getHeader(b"if-none-match")
    if inm is not None:
        inm = inm.strip()
        if inm == b"*":
            return True
        # weak comparison (section 8.8.3.2): ignore W/ prefixes
        tags = {t.strip().removeprefix(b"W/") for t in inm.split(b",")}
        return entry.etag in tags
    ims = request.getHeader(b"if-modified-since")
    if ims is None:
        return False
    since = _parse_http_date(ims)
    return since is not None and entry.mtime <= since


def _parse_http_date(value: bytes):
    """Seconds since the epoch for an HTTP-date, or None (RFC 9110 5.6.7)."""
    try:
        return int(parsedate_to_datetime(value.decode("latin-1")).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _single_range(request, entry):
    """``(first, last)`` for one satisfiable byte range (RFC 9110 14.1.2),
    ``"unsatisfiable"``, or None to send the whole file (no, bad, several
    ranges, or an If-Range that does not match - section 13.1.5)."""
    header = request.getHeader(b"range")
    if header is None:
        return None
    if_range = request.getHeader(b"if-range")
    if if_range is not None:
        if_range = if_range.strip()
        if if_range.startswith(b'"') or if_range.startswith(b"W/"):
            if if_range != entry.etag:  # strong comparison
                return None
        elif if_range != entry.last_modified:
            return None
    unit, _, spec = header.partition(b"=")
    if unit.strip().lower() != b"bytes" or b"," in spec:
        return None
    first, dash, last = spec.strip().partition(b"-")
    if not dash:
        return None
    size = entry.size
    try:
        if not (first.isdigit() or not first) or not (last.isdigit() or not last):
            return None
        if first:
            start = int(first)
            end = int(last) if last else size - 1
            if last and end < start:
                return None  # invalid: ignore the Range field
            if start >= size:
                return "unsatisfiable"
            return start, min(end, size - 1)
        suffix = int(last)
    except ValueError:
        return None
    if suffix <= 0 or size == 0:
        return "unsatisfiable"
    return max(0, size - suffix), size - 1


def _settings_policy():
    """``AWSSTORAGE_STATIC_CACHE_CONTROL`` from Django settings, if any."""
    try:
        from django.conf import settings

        value = getattr(settings, "AWSSTORAGE_STATIC_CACHE_CONTROL", None)
    except Exception:  # settings not configured: a plain Twisted use
        return {}
    if value is None:
        return {}
    if not isinstance(value, dict) or not set(value) <= set(DEFAULT_CACHE_CONTROL):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "AWSSTORAGE_STATIC_CACHE_CONTROL must be a dict with keys among "
            f"{sorted(DEFAULT_CACHE_CONTROL)}, got {value!r}"
        )
    return value
