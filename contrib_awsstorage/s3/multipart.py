"""Multipart upload of a body already in memory: parts in parallel, no orphans.

One implementation for the storage's ``save()`` and the sync engine. Parts
go up on a few threads (one connection each), so a big file is not limited
by one connection's throughput; on any failure the upload is aborted
(S3 keeps, and bills, parts of an upload nobody completes or aborts) and
the original error is raised.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

__all__ = ["upload_in_parts", "DEFAULT_PART_WORKERS", "MIN_PART_SIZE"]

DEFAULT_PART_WORKERS = 4
#: S3's smallest part (every part but the last): 5 MiB.
MIN_PART_SIZE = 5 * 1024 * 1024


def upload_in_parts(
    call, key: str, body: bytes, params: dict, part_size: int, workers: int = DEFAULT_PART_WORKERS
) -> dict:
    """Create, send and complete a multipart upload of ``body``; return the
    CompleteMultipartUpload response.

    ``call(operation, **kwargs)`` performs one S3 operation (the caller adds
    the bucket, retries and error translation); ``params`` are the
    CreateMultipartUpload arguments (ContentType, Metadata...).
    """
    upload_id = call("CreateMultipartUpload", Key=key, **params)["UploadId"]
    view = memoryview(body)
    starts = list(range(0, len(body), part_size))

    def send(number: int) -> dict:
        start = starts[number - 1]
        response = call(
            "UploadPart",
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=bytes(view[start : start + part_size]),
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    try:
        numbers = range(1, len(starts) + 1)
        if workers <= 1 or len(starts) == 1:
            parts = [send(n) for n in numbers]
        else:
            pool = ThreadPoolExecutor(max_workers=min(workers, len(starts)))
            try:
                futures = [pool.submit(send, n) for n in numbers]
                parts = [future.result() for future in futures]
            finally:
                pool.shutdown(cancel_futures=True)  # after a failure: start no more parts
        return call(
            "CompleteMultipartUpload", Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        try:
            call("AbortMultipartUpload", Key=key, UploadId=upload_id)
        except Exception:  # noqa: BLE001 - the error that made us abort is the one to report
            pass
        raise
