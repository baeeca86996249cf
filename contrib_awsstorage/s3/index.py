"""The listing index behind ``preload_metadata``: one listing answers every metadata question.

Django's ``collectstatic`` (and any code walking a tree) asks ``exists``,
``get_modified_time`` and ``size`` of every file; without an index each is
a HEAD request. With ``preload_metadata`` on, the storage lists its location
once (ListObjectsV2, 1,000 keys a page) and answers from that, for any
caller. Our own writes and deletes update the index as they succeed, so it
stays right for this process; changes made by others show after
``refresh()``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "ListingIndex",
    "as_utc",
    "entries_of_pages",
    "entry_of_listed",
    "entry_of_written",
    "listdir_of_pages",
    "list_pages",
]


def as_utc(value: datetime) -> datetime:
    """botocore's datetimes carry tzlocal/tzutc; normalise to ``datetime.timezone.utc``."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def entry_of_listed(obj: dict) -> dict:
    """The index entry of one ``Contents`` item of a ListObjectsV2 page."""
    return {
        "size": obj["Size"],
        "last_modified": as_utc(obj["LastModified"]),
        "etag": obj.get("ETag", "").strip('"'),
    }


def entries_of_pages(pages) -> dict:
    """S3 key -> entry for every object of undelimited ListObjectsV2 ``pages``."""
    return {obj["Key"]: entry_of_listed(obj) for page in pages for obj in page.get("Contents", ())}


def listdir_of_pages(pages, path: str) -> tuple[list[str], list[str]]:
    """``(directories, files)`` of ListObjectsV2 ``pages`` delimited by ``/``
    under key prefix ``path`` (S3 has no folders: they are common prefixes)."""
    directories, files = [], []
    for page in pages:
        for entry in page.get("CommonPrefixes", ()):
            directories.append(entry["Prefix"][len(path) :].rstrip("/"))
        for entry in page.get("Contents", ()):
            if entry["Key"] != path:
                files.append(entry["Key"][len(path) :])
    return directories, files


def entry_of_written(size: int, etag: str | None, response: dict | None = None) -> dict:
    """The index entry of an object we have just written: its time is the
    server's ``Date`` header when the response has one, else now."""
    modified = None
    date = (response or {}).get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date:
        try:
            modified = parsedate_to_datetime(date).astimezone(UTC)
        except (TypeError, ValueError):
            modified = None
    return {
        "size": size,
        "last_modified": modified or datetime.now(UTC).replace(microsecond=0),
        "etag": (etag or "").strip('"'),
    }


class ListingIndex:
    """S3 key -> ``{"size", "last_modified", "etag"}`` for every object under
    one prefix, listed on first use by ``list_entries()`` (a callable that
    returns that dict), then kept up to date by ``remember``/``forget``.
    Thread-safe: one storage is shared by every thread of a process."""

    def __init__(self, list_entries):
        self._list_entries = list_entries
        self._entries: dict | None = None
        self._lock = threading.RLock()

    def _loaded(self) -> dict:
        with self._lock:
            if self._entries is None:
                self._entries = self._list_entries()
            return self._entries

    @property
    def loaded(self) -> bool:
        return self._entries is not None

    def get(self, key: str) -> dict | None:
        """The entry of ``key``, or None if there is no such object."""
        with self._lock:
            return self._loaded().get(key)

    def snapshot(self) -> dict:
        """A copy of every entry (safe to iterate while other threads write)."""
        with self._lock:
            return dict(self._loaded())

    def refresh(self) -> dict:
        """List again, keep the result, return a copy of it."""
        fresh = self._list_entries()
        with self._lock:
            self._entries = fresh
            return dict(fresh)

    def remember(self, key: str, entry: dict) -> None:
        """Record our own write (nothing to do until the index is loaded)."""
        with self._lock:
            if self._entries is not None:
                self._entries[key] = entry

    def forget(self, key: str) -> None:
        """Record our own delete."""
        with self._lock:
            if self._entries is not None:
                self._entries.pop(key, None)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """``(directories, files)`` directly under key prefix ``path`` (empty,
        or ending in ``/``), as a delimited listing would answer it."""
        directories, files = set(), []
        with self._lock:
            keys = [k for k in self._loaded() if k.startswith(path) and k != path]
        for key in keys:
            rest = key[len(path) :]
            head, slash, _ = rest.partition("/")
            if slash:
                directories.add(head)
            else:
                files.append(rest)
        return sorted(directories), sorted(files)


def list_pages(storage, prefix: str, error_key=None, **kwargs):
    """ListObjectsV2 pages of ``storage``'s bucket under ``prefix``, however
    many (botocore's paginator); errors become ``s3/errors.py`` exceptions."""
    from botocore.exceptions import BotoCoreError, ClientError

    from .client import require_bucket_name

    require_bucket_name(storage)
    paginator = storage.connection.get_paginator("list_objects_v2")
    try:
        yield from paginator.paginate(Bucket=storage.bucket_name, Prefix=prefix, **kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise storage._translate(exc, "ListObjectsV2", error_key) from None
