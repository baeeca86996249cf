"""Where one sync run writes, worked out once and handed to every step.

The bucket, the key prefix, the shared client and the engine's tunables
(``AWS_S3_SYNC_*`` settings) are read once per run; every phase of the run
gets this one object instead of a long list of arguments. The checks that a
storage is one the engine can write to live here too.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from ..s3.keys import prefix_of
from ..s3.transfer import DEFAULT_PART_WORKERS, MIN_PART_SIZE
from .hashcache import default_cache_dir

__all__ = [
    "Destination",
    "setting_defaults",
    "hash_cache_path",
    "DEFAULT_WORKERS",
    "is_sync_storage",
    "check_sync_storage",
]

DEFAULT_WORKERS = 16
DEFAULT_PART_SIZE = 8 * 1024 * 1024  # for storages without file_buffer_size


def setting_defaults() -> dict:
    """Engine tunables from Django settings: ``AWS_S3_SYNC_WORKERS`` (parallel
    requests, default 16), ``AWS_S3_SYNC_MULTIPART_THRESHOLD`` (bytes; bigger
    bodies go up in parts of the storage's ``file_buffer_size``; default: one part)
    and ``AWS_S3_SYNC_CACHE_DIR`` (where local checksums are remembered; ``None``:
    the user cache folder, ``False``: hash every file on every run)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    values = {
        "workers": getattr(settings, "AWS_S3_SYNC_WORKERS", None) or DEFAULT_WORKERS,
        "multipart_threshold": getattr(settings, "AWS_S3_SYNC_MULTIPART_THRESHOLD", None),
    }
    checks = {
        "workers": ("AWS_S3_SYNC_WORKERS", 1),
        "multipart_threshold": ("AWS_S3_SYNC_MULTIPART_THRESHOLD", MIN_PART_SIZE),
    }
    for key, (name, minimum) in checks.items():
        value = values[key]
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ImproperlyConfigured(
                f"{name} is {value!r}; it must be an integer >= {minimum}. "
                f"Fix: set {name} to a larger integer or remove it."
            )
    cache_dir = getattr(settings, "AWS_S3_SYNC_CACHE_DIR", None)
    if cache_dir is None or cache_dir is True:
        cache_dir = default_cache_dir()
    elif cache_dir is not False and (
        not isinstance(cache_dir, (str, os.PathLike)) or not os.fspath(cache_dir)
    ):
        raise ImproperlyConfigured(
            f"AWS_S3_SYNC_CACHE_DIR is {cache_dir!r}; it must be a folder path, None (the user "
            "cache folder) or False (no cache). Fix: set it to a path or remove it."
        )
    values["cache_dir"] = os.fspath(cache_dir) if cache_dir is not False else None
    values["quick_noop"] = bool(getattr(settings, "AWS_S3_SYNC_QUICK_NOOP", True))
    return values


def hash_cache_path(storage, cache_dir: str | None) -> str | None:
    """One checksum cache file per destination (endpoint, bucket, prefix)."""
    if not cache_dir:
        return None
    where = "\n".join(
        str(x or "")
        for x in (getattr(storage, "endpoint_url", ""), storage.bucket_name, prefix_of(storage))
    )
    return os.path.join(cache_dir, f"hashes-{hashlib.sha256(where.encode()).hexdigest()[:20]}.json")


@dataclass(frozen=True)
class Destination:
    """Where one run writes, and how: worked out once, then handed to every step.

    ``threshold`` is the size above which a body goes up in parts of
    ``chunksize`` (by default one part size, as the storage's own
    ``save()`` does); parts of big files share the client's connection pool
    with the ``workers`` that send files.
    """

    storage: object
    bucket: str
    prefix: str
    workers: int
    threshold: int
    chunksize: int
    part_workers: int
    cache_path: str | None
    quick_noop: bool = True

    @classmethod
    def of(
        cls, storage, *, workers: int | None = None, multipart_threshold: int | None = None
    ) -> Destination:
        defaults = setting_defaults()
        workers = workers or defaults["workers"]
        chunksize = getattr(storage, "file_buffer_size", None) or DEFAULT_PART_SIZE
        pool_size = getattr(storage, "max_pool_connections", None) or 10
        return cls(
            storage=storage,
            bucket=storage.bucket_name,
            prefix=prefix_of(storage),
            workers=workers,
            threshold=multipart_threshold or defaults["multipart_threshold"] or chunksize,
            chunksize=chunksize,
            part_workers=max(1, min(DEFAULT_PART_WORKERS, pool_size // workers)),
            cache_path=hash_cache_path(storage, defaults["cache_dir"]),
            quick_noop=defaults["quick_noop"],
        )

    @property
    def client(self):
        """The storage's shared boto3 client (the storage builds it on first use)."""
        return self.storage.connection


def is_sync_storage(storage) -> bool:
    """True for storages the engine can write to (ours: they prepare uploads)."""
    # On the class: reading storage.connection would build the boto3 client.
    return all(
        hasattr(type(storage), a) or hasattr(storage, a)
        for a in ("connection", "bucket_name", "key_for", "prepare_upload")
    )


def check_sync_storage(storage, alias: str = "staticfiles"):
    """``storage`` itself if the engine can sync to it; ImproperlyConfigured (with the fix) if not."""
    from django.core.exceptions import ImproperlyConfigured

    if not is_sync_storage(storage):
        raise ImproperlyConfigured(
            f"STORAGES[{alias!r}] is {type(storage).__module__}.{type(storage).__name__}, "
            "which is not an S3 storage of contrib_awsstorage, so there is nothing to sync to. "
            f"Fix: set STORAGES[{alias!r}]['BACKEND'] to 'contrib_awsstorage.aws_s3_cdn."
            f"{'S3StaticStorage' if alias == 'staticfiles' else 'S3Boto3Storage'}'."
        )
    if not storage.bucket_name:
        raise ImproperlyConfigured(
            f"STORAGES[{alias!r}] has no bucket. Fix: set AWS_STORAGE_BUCKET_NAME "
            f"(or OPTIONS['bucket_name'] of STORAGES[{alias!r}])."
        )
    return storage
