"""The sync engine: local static files to S3 by content, in parallel, recorded.

``engine`` runs a sync in named phases (``sync``, ``sync_directory``,
``SyncOptions``); ``report`` is what it did; ``destination`` is where it
writes; ``plan`` decides what to send from one listing of the prefix;
``execute`` uploads and deletes; ``collect`` feeds it Django's finders;
``record`` keeps the last-run record in the bucket; ``generations`` keeps old
hashed files for cached pages; ``invalidate`` tells CloudFront what changed;
``hashcache`` remembers local checksums between runs; ``timings`` says how
long each phase took. Neither Evennia nor Twisted is imported here.
"""

from .engine import (
    DEFAULT_WORKERS,
    IMMUTABLE_CACHE_CONTROL,
    SyncOptions,
    SyncReport,
    check_sync_storage,
    is_sync_storage,
    manifest_hashed_names,
    setting_defaults,
    sync,
    sync_directory,
)

__all__ = [
    "sync",
    "sync_directory",
    "SyncOptions",
    "SyncReport",
    "manifest_hashed_names",
    "setting_defaults",
    "IMMUTABLE_CACHE_CONTROL",
    "DEFAULT_WORKERS",
    "check_sync_storage",
    "is_sync_storage",
]
