"""The sync's S3 writes: one file up, stale keys deleted, open uploads aborted.

Every object is written with one atomic PutObject or, from the multipart
threshold up, a multipart upload through s3transfer (``s3/transfer.py``),
which aborts it on any failure, so S3 never holds a half-written object or
an orphaned upload we started. Retries are botocore's own (the client's
retry mode, ``s3/client.py``); nothing here retries on top of them.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from ..s3.errors import error_code, translate_client_error
from ..s3.objects import SOURCE_MD5_METADATA_KEY
from ..s3.transfer import DEFAULT_PART_WORKERS
from ..s3.transfer import upload as transfer_upload
from ..s3.uploads import metadata_params
from .plan import FileDecision, StateEntry, body_etag

__all__ = ["Uploader"]

#: DeleteObjects takes at most this many keys per request.
DELETE_BATCH = 1000


class Uploader:
    """Uploads and deletes for one storage; safe to call from many threads
    (it holds nothing but the storage's shared, thread-safe client)."""

    def __init__(
        self,
        storage,
        *,
        threshold: int,
        chunksize: int,
        immutable_names=frozenset(),
        part_workers: int = DEFAULT_PART_WORKERS,
    ):
        self.storage = storage
        self.client = storage.connection
        self.bucket = storage.bucket_name
        self.threshold = threshold
        self.chunksize = chunksize
        self.immutable_names = frozenset(immutable_names)
        self.part_workers = part_workers  # parallel parts of one big file

    def upload(self, decision: FileDecision) -> tuple[StateEntry, int]:
        """Write one file with the storage's headers; return its new state and size."""
        with open(decision.local.path, "rb") as handle:
            data = handle.read()
        name = decision.local.name
        body, params = self.storage.prepare_upload(name, data, hashed=name in self.immutable_names)
        if len(body) >= self.threshold:  # s3transfer's own rule
            etag = self._multipart(decision.key, body, params)
        else:
            response = self.client.put_object(
                Bucket=self.bucket, Key=decision.key, Body=body, **params
            )
            etag = response["ETag"].strip('"')
        return StateEntry(decision.md5, etag, len(body), decision.meta), len(body)

    def retag(self, decision: FileDecision, remote) -> StateEntry:
        """Give the object the headers the settings ask for now, in place: a
        CopyObject onto itself (MetadataDirective REPLACE), only while it still
        holds the bytes we checked (CopySourceIfMatch).

        A multipart object's checksum is one of its parts' checksums; the copy is
        one whole object, so it asks for a whole-object checksum (CRC32), unless
        the client sends checksums only when required (stores that refuse them)."""
        name = decision.local.name
        params = metadata_params(self.storage, name, hashed=name in self.immutable_names)
        params["Metadata"] = {
            **(params.get("Metadata") or {}),
            SOURCE_MD5_METADATA_KEY: decision.md5,
        }
        if self.client.meta.config.request_checksum_calculation != "when_required":
            params.setdefault("ChecksumAlgorithm", "CRC32")
        response = self.client.copy_object(
            Bucket=self.bucket,
            Key=decision.key,
            CopySource={"Bucket": self.bucket, "Key": decision.key},
            CopySourceIfMatch=f'"{remote.etag}"',
            MetadataDirective="REPLACE",
            **params,
        )
        etag = response["CopyObjectResult"]["ETag"].strip('"')
        return StateEntry(decision.md5, etag, remote.size, decision.meta)

    def _multipart(self, key: str, body: bytes, params: dict) -> str:
        """Upload ``body`` in parts through s3transfer; return the ETag S3 gives it."""
        expected = body_etag(body, self.threshold, self.chunksize)
        try:
            transfer_upload(
                self.client,
                self.bucket,
                key,
                io.BytesIO(body),
                params,
                threshold=self.threshold,
                chunksize=self.chunksize,
                workers=self.part_workers,
            )
        except ClientError as exc:
            # botocore retried a Complete whose first try did succeed (its answer
            # was lost): the upload is gone because the object is there.
            if error_code(exc) != "NoSuchUpload":
                raise
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            if head["ETag"].strip('"') != expected:
                raise
        return expected

    def abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if error_code(exc) != "NoSuchUpload":
                raise

    def abort_stale_multipart(
        self, prefix: str, older_than: float, skip_keys=frozenset()
    ) -> list[str]:
        """Abort multipart uploads under ``prefix`` started more than ``older_than``
        seconds ago (left by a killed sync), but none of ``skip_keys`` (keys
        being uploaded now); return their keys."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        aborted = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", ()):
                if upload["Initiated"] <= cutoff and upload["Key"] not in skip_keys:
                    self.abort(upload["Key"], upload["UploadId"])
                    aborted.append(upload["Key"])
        return aborted

    def head_source(self, key: str) -> tuple[str | None, bool]:
        """The source checksum our storage stored in the object's metadata, and
        whether its body is gzipped."""
        head = self.client.head_object(Bucket=self.bucket, Key=key)
        md5 = (head.get("Metadata") or {}).get(SOURCE_MD5_METADATA_KEY)
        return md5, head.get("ContentEncoding") == "gzip"

    def delete(self, keys: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
        """DeleteObjects in batches of 1,000; ``(deleted keys, [(key, error)])``, never raises
        for S3's answer (a batch botocore could not send fails each of its keys)."""
        deleted, failed = [], []
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            except (ClientError, BotoCoreError) as exc:  # the whole batch: each key failed
                error = str(translate_client_error(exc, "DeleteObjects", self.bucket, None))
                failed.extend((k, error) for k in batch)
                continue
            errors = {
                e["Key"]: f"{e.get('Code')}: {e.get('Message', '')}"
                for e in response.get("Errors", ())
            }
            failed.extend(errors.items())
            deleted.extend(k for k in batch if k not in errors)
        return deleted, failed
