"""Multipart uploads driven part by part, for bodies whose size is not known up front.

A file opened for writing (``storage.open(name, "w")``) receives its bytes
in ``write()`` calls; s3transfer wants a whole file or stream to pull from,
so the file object sends each full buffer as the next part itself, through
:class:`StreamedUpload`. Whatever fails, the upload is aborted: S3 keeps,
and bills, the parts of an upload nobody completes or aborts.

Bodies already whole (``save()``, the sync) go through s3transfer instead
(``s3/transfer.py``).
"""

from __future__ import annotations

from .errors import S3StorageError
from .transfer import DEFAULT_PART_WORKERS, MIN_PART_SIZE

__all__ = ["DEFAULT_PART_WORKERS", "MIN_PART_SIZE", "StreamedUpload"]


class StreamedUpload:
    """One multipart upload of ``key``, fed a part at a time.

    ``call(operation, **kwargs)`` performs one S3 operation (the storage's
    ``_call``: bucket, error translation); ``params`` are the
    CreateMultipartUpload arguments. The upload is created with the first part.
    """

    def __init__(self, call, key: str, params: dict):
        self._call = call
        self.key = key
        self._params = params
        self.upload_id = None
        self._parts = []

    @property
    def started(self) -> bool:
        return self.upload_id is not None

    def send_part(self, body: bytes) -> None:
        if self.upload_id is None:
            response = self._call("CreateMultipartUpload", Key=self.key, **self._params)
            self.upload_id = response["UploadId"]
        number = len(self._parts) + 1
        response = self._call(
            "UploadPart", Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})

    def complete(self) -> dict:
        """Complete the upload; returns S3's answer (ETag...)."""
        response = self._call(
            "CompleteMultipartUpload",
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self.upload_id = None
        return response

    def abort(self) -> None:
        """Abort, best effort: the error that made us abort is the one to report."""
        upload_id, self.upload_id = self.upload_id, None
        if upload_id is None:
            return
        try:
            self._call("AbortMultipartUpload", Key=self.key, UploadId=upload_id)
        except S3StorageError:
            pass
