"""Uploads through s3transfer, boto3's managed transfer.

s3transfer decides between one PutObject and a multipart upload, sends the
parts in parallel, and aborts a multipart upload that fails, so the bucket
never keeps (and bills) the parts of an upload nobody completes. Retries are
the client's own (botocore's retry mode, ``s3/client.py``); nothing here
tries again.

boto3 is imported on the first upload, not with this module: a process that
only builds URLs or finds nothing to upload (Evennia's launcher on a no-op
reload) never loads it.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["DEFAULT_PART_WORKERS", "MIN_PART_SIZE", "expected_etag", "upload"]

#: Parts of one file sent at the same time (one connection each).
DEFAULT_PART_WORKERS = 4
#: S3's smallest part (every part but the last): 5 MiB.
MIN_PART_SIZE = 5 * 1024 * 1024


def _transfer_config(threshold, chunksize, workers, size):
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=threshold,
        multipart_chunksize=chunksize,
        max_concurrency=max(1, workers),
        # One PutObject needs no thread pool: cheap for the many small files of a sync.
        use_threads=size is None or size >= threshold,
        preferred_transfer_client="classic",  # the same code path with or without awscrt
    )


def _size_of(source):
    if isinstance(source, (str, os.PathLike)):
        return os.path.getsize(source)
    if hasattr(source, "seekable") and source.seekable():
        here = source.tell()
        end = source.seek(0, os.SEEK_END)
        source.seek(here)
        return end - here
    return None


def upload(
    client,
    bucket: str,
    key: str,
    source,
    extra_args: dict | None = None,
    *,
    threshold: int = MIN_PART_SIZE,
    chunksize: int = MIN_PART_SIZE,
    workers: int = DEFAULT_PART_WORKERS,
) -> None:
    """Upload ``source`` (a local path, or a binary file object read from its
    current position) to ``bucket``/``key`` with ``extra_args`` (ContentType,
    Metadata, ACL...: what ``prepare_upload`` returns).

    Bodies under ``threshold`` bytes go up in one PutObject; others as a
    multipart upload of ``chunksize`` parts, ``workers`` at a time. botocore's
    own exceptions (``ClientError``...) are raised unchanged, for the caller
    to explain; an ``extra_args`` key s3transfer does not accept raises
    ``ValueError`` naming it.
    """
    from boto3.s3.transfer import create_transfer_manager

    size = _size_of(source)
    config = _transfer_config(threshold, chunksize, workers, size)
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    with create_transfer_manager(client, config) as manager:
        manager.upload(source, bucket, key, extra_args=dict(extra_args or {})).result()


def expected_etag(body: bytes, threshold: int = MIN_PART_SIZE, chunksize: int = MIN_PART_SIZE):
    """The ETag S3 gives ``body`` uploaded by ``upload`` (unquoted): the MD5 of
    the bytes, or for a multipart upload the MD5 of the parts' MD5s and
    ``-<parts>``. (Not for SSE-KMS/SSE-C objects, whose ETag is no MD5.)"""
    if len(body) < threshold:
        return hashlib.md5(body).hexdigest()
    from s3transfer.utils import ChunksizeAdjuster

    part = ChunksizeAdjuster().adjust_chunksize(chunksize, len(body))
    view = memoryview(body)
    digests = b"".join(
        hashlib.md5(view[start : start + part]).digest() for start in range(0, len(body), part)
    )
    return f"{hashlib.md5(digests).hexdigest()}-{-(-len(body) // part)}"
