"""Carry out a sync plan: parallel uploads on one shared client, then deletes.

Every object is written with one atomic PutObject, or, above the multipart
threshold, a multipart upload that is aborted on any failure, so S3 never
holds a half-written object or an orphaned upload we started. Each request
is retried with capped, jittered exponential backoff on throttling, 5xx
and connection trouble, on top of botocore's own retries.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from botocore import xform_name
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from ..media_types import IMMUTABLE_CACHE_CONTROL
from ..s3.errors import error_code
from ..s3.multipart import DEFAULT_PART_WORKERS, upload_in_parts
from ..s3.objects import SOURCE_MD5_METADATA_KEY
from .plan import FileDecision, StateEntry, body_etag

__all__ = ["Uploader", "with_retries", "is_retryable"]

RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "SlowDown",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "PriorRequestNotComplete",
        "500",
        "502",
        "503",
        "504",
    }
)
_TRANSIENT = (
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    ConnectTimeoutError,
    ResponseStreamingError,
)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in RETRYABLE_CODES or status >= 500
    return isinstance(exc, _TRANSIENT)


def with_retries(
    call, *, attempts: int = 4, base_delay: float = 0.2, max_delay: float = 5.0, sleep=time.sleep
):
    """``call()``, retried on transient errors with full-jitter backoff."""
    for attempt in range(attempts):
        try:
            return call()
        except (ClientError, BotoCoreError) as exc:
            if attempt == attempts - 1 or not is_retryable(exc):
                raise
            sleep(random.uniform(0, min(max_delay, base_delay * 2**attempt)))


class Uploader:
    """Uploads and deletes for one storage; safe to call from many threads."""

    def __init__(
        self,
        storage,
        *,
        threshold: int,
        chunksize: int,
        immutable_names=frozenset(),
        attempts: int = 4,
        part_workers: int = DEFAULT_PART_WORKERS,
    ):
        self.storage = storage
        self.client = storage.connection
        self.bucket = storage.bucket_name
        self.threshold = threshold
        self.chunksize = chunksize
        self.immutable_names = frozenset(immutable_names)
        self.attempts = attempts
        self.part_workers = part_workers  # parallel parts of one big file

    def _retry(self, call):
        return with_retries(call, attempts=self.attempts)

    def upload(self, decision: FileDecision) -> tuple[StateEntry, int]:
        """Write one file with the storage's headers; return its new state and size."""
        with open(decision.local.path, "rb") as handle:
            data = handle.read()
        body, params = self.storage.prepare_upload(decision.local.name, data)
        params = dict(params)
        if decision.local.name in self.immutable_names:
            params["CacheControl"] = IMMUTABLE_CACHE_CONTROL
        if len(body) > self.threshold:
            etag = self._multipart(decision.key, body, params)
        else:
            response = self._retry(
                lambda: self.client.put_object(
                    Bucket=self.bucket, Key=decision.key, Body=body, **params
                )
            )
            etag = response["ETag"].strip('"')
        return StateEntry(decision.md5, etag, len(body)), len(body)

    def _multipart(self, key: str, body: bytes, params: dict) -> str:
        expected = body_etag(body, self.threshold, self.chunksize)

        def call(operation, **kwargs):
            method = getattr(self.client, xform_name(operation))
            try:
                return self._retry(lambda: method(Bucket=self.bucket, **kwargs))
            except ClientError as exc:
                # A retried Complete whose first try did succeed: the object is there.
                if operation == "CompleteMultipartUpload" and error_code(exc) == "NoSuchUpload":
                    head = self._retry(lambda: self.client.head_object(Bucket=self.bucket, Key=key))
                    if head["ETag"].strip('"') == expected:
                        return {"ETag": head["ETag"]}
                raise

        response = upload_in_parts(
            call, key, body, params, self.chunksize, workers=self.part_workers
        )
        return response["ETag"].strip('"')

    def abort(self, key: str, upload_id: str) -> None:
        try:
            self._retry(
                lambda: self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            )
        except ClientError as exc:
            if error_code(exc) != "NoSuchUpload":
                raise

    def abort_stale_multipart(self, prefix: str, older_than: float) -> list[str]:
        """Abort multipart uploads under ``prefix`` started more than ``older_than``
        seconds ago (left by a killed sync); return their keys."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        aborted = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", ()):
                if upload["Initiated"] <= cutoff:
                    self.abort(upload["Key"], upload["UploadId"])
                    aborted.append(upload["Key"])
        return aborted

    def head_source_md5(self, key: str) -> str | None:
        """The source checksum our storage stored in the object's metadata."""

        head = self._retry(lambda: self.client.head_object(Bucket=self.bucket, Key=key))
        return (head.get("Metadata") or {}).get(SOURCE_MD5_METADATA_KEY)

    def delete(self, keys: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
        """DeleteObjects in batches of 1,000; ``(deleted keys, [(key, error)])``."""
        deleted, failed = [], []
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            response = self._retry(
                lambda: self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},  # noqa: B023 (called at once)
                )
            )
            errors = {
                e["Key"]: f"{e.get('Code')}: {e.get('Message', '')}"
                for e in response.get("Errors", ())
            }
            failed.extend(errors.items())
            deleted.extend(k for k in batch if k not in errors)
        return deleted, failed
