"""The sync engine: local static files to S3 by content, in parallel, recorded.

``engine`` runs a sync (``sync``, ``sync_directory``, ``SyncReport``);
``plan`` decides what to send from one listing of the prefix; ``execute``
uploads and deletes; ``collect`` feeds it Django's finders; ``record`` keeps
the state object and the last-run record in the bucket; ``hashcache``
remembers local checksums between runs. Neither Evennia nor Twisted is
imported here.
"""

from .engine import (
    DEFAULT_WORKERS,
    IMMUTABLE_CACHE_CONTROL,
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
    "SyncReport",
    "manifest_hashed_names",
    "setting_defaults",
    "IMMUTABLE_CACHE_CONTROL",
    "DEFAULT_WORKERS",
    "check_sync_storage",
    "is_sync_storage",
]
