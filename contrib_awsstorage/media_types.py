"""One Content-Type table for every byte this contrib serves or uploads.

S3 uploads (the storage's ``save()`` and the sync) and the game's own static
root must give the same file the same type, or a browser that gets a file
from one and then the other sees it change. The table covers modern web
assets first, because :mod:`mimetypes` varies by platform (RFC 9239 for
JavaScript, RFC 8081 for fonts); text types carry ``charset=utf-8``.

The same goes for how long a static file may be cached (RFC 9111 section
5.2; RFC 8246), one rule for S3 uploads and the game's static root:

- a content-hashed name (``app.3f2a1b9c0d4e.css``) -> ``IMMUTABLE_CACHE_CONTROL``
- any other static file                          -> ``STATIC_CACHE_CONTROL``
- media (files served at signed URLs)            -> no Cache-Control
"""

from __future__ import annotations

import mimetypes
import os
import re

__all__ = [
    "FALLBACK_TYPE",
    "HASHED_NAME_PATTERN",
    "IMMUTABLE_CACHE_CONTROL",
    "STATIC_CACHE_CONTROL",
    "content_type_for",
    "guess_content_type",
    "looks_hashed",
    "static_cache_control",
]

#: Cache-Control for names that carry a content hash (``app.3f2a1b9c0d4e.css``):
#: a new version always gets a new name, so caches may keep this one for a
#: year and never revalidate it (RFC 9111 section 5.2.2.1; RFC 8246).
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"

#: Cache-Control for the other static files: a new deploy reaches every
#: browser within five minutes.
STATIC_CACHE_CONTROL = "public, max-age=300"

#: A content hash in the name, as Django's ManifestStaticFilesStorage writes it (12 hex).
HASHED_NAME_PATTERN = r"\.[0-9a-f]{12}(\.[^/.]+)?$"
_HASHED = re.compile(HASHED_NAME_PATTERN)


def looks_hashed(name: str) -> bool:
    """True when the file name (not its folder) carries a content hash."""
    return bool(_HASHED.search(name.rsplit("/", 1)[-1]))


def static_cache_control(name: str, hashed: bool = False) -> str:
    """The Cache-Control of static file ``name``: immutable for a hashed name
    (``hashed``: a static manifest lists it), else five minutes."""
    return IMMUTABLE_CACHE_CONTROL if hashed or looks_hashed(name) else STATIC_CACHE_CONTROL


#: Unknown files are not guessed as HTML: a stray upload must not render.
FALLBACK_TYPE = "application/octet-stream"

_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/vnd.microsoft.icon",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".zip": "application/zip",
    ".gz": "application/gzip",
}


def guess_content_type(name: str, default: str = FALLBACK_TYPE) -> tuple[str, str]:
    """``(bare type, header value)`` for a file name.

    A compression suffix that :mod:`mimetypes` reads as an *encoding*
    (``.tar.gz``) names the file's own type (``application/gzip``), never a
    Content-Encoding: the object would then be unpacked on read and would
    no longer round-trip.
    """
    ext = os.path.splitext(name)[1].lower()
    bare = _TYPES.get(ext)
    if bare is None:
        guessed, encoding = mimetypes.guess_type(name, strict=False)
        if encoding == "gzip":
            guessed = "application/gzip"
        elif encoding:
            guessed = FALLBACK_TYPE
        bare = guessed or default
    if bare.startswith("text/"):
        return bare, f"{bare}; charset=utf-8"
    return bare, bare


def content_type_for(name: str, default: str = FALLBACK_TYPE) -> str:
    """The Content-Type header value for a file name."""
    return guess_content_type(name, default)[1]
