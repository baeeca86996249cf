"""The no-op fast path: "nothing to do" from three parallel reads, no write.

Evennia's launcher runs ``collectstatic`` in its own process before every
reload, and most reloads change no static file. This asks only what a no-op
needs, in parallel, on the storage's own boto3 client (so the credential
chain, ``~/.aws/config``, ``HTTPS_PROXY`` and the storage's botocore
``Config`` apply as for every other request): the listing of the prefix, the
sync manifest and the last-run record. When every local file is unchanged by
the manifest's rules (``plan.decide``), nothing is stale that ``--delete``
would remove, no invalidation is pending, and the last run was good, the sync
is done, with no write (the record keeps describing the last run that did
something). On any other answer or on any error it steps aside, and the full
sync runs and explains the error properly. Housekeeping (aborting uploads a
killed run left open) waits for the next run that uploads.

Why it is kept: ``bench/reload_bench.py`` times ``evennia reload`` on a demo
game against a vanilla one with local static files; with this path the
reload is no slower than the vanilla game's (the full sync's no-op also
lists open multipart uploads and rewrites the record).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError

from ..s3.errors import S3StorageError, error_code
from ..s3.keys import prefix_of
from ..s3.listing import list_page
from .plan import (
    MANIFEST_NAME,
    UNCHANGED,
    Remote,
    decide,
    is_state_key,
    object_fingerprint,
    state_entries,
)
from .record import read_last_run, state_key

__all__ = ["try_noop"]


def _listing(client, bucket: str, prefix: str) -> tuple[dict[str, Remote], int]:
    """The prefix's objects, and the number of pages (requests) it took."""
    found, params, pages = {}, {"Bucket": bucket, "Prefix": prefix}, 0
    while True:
        entries, response = list_page(client, **params)
        pages += 1
        found.update((key, Remote(key, size, etag)) for key, size, etag in entries)
        if not response.get("IsTruncated"):
            return found, pages
        params["ContinuationToken"] = response["NextContinuationToken"]


def _manifest(client, storage):
    """The parsed sync manifest, or None when there is none."""
    key = state_key(storage, MANIFEST_NAME)
    try:
        body = client.get_object(Bucket=storage.bucket_name, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    return json.loads(body)


def try_noop(
    storage, files: dict[str, str], keys: dict[str, str], hashes, *, delete: bool, report
) -> bool:
    """Fill ``report`` and return True when the sync has nothing to do; False
    (``report`` untouched) whenever it cannot be sure: then the full sync runs."""
    if not storage.bucket_name:
        return False
    started = time.monotonic()
    prefix = prefix_of(storage)
    try:
        client = storage.connection  # built here, before the threads share it
        with ThreadPoolExecutor(max_workers=3) as pool:
            listing = pool.submit(_listing, client, storage.bucket_name, prefix)
            manifest = pool.submit(_manifest, client, storage)
            record = pool.submit(read_last_run, storage)
            names = sorted(files)
            md5s = dict(zip(names, map(hashes.md5, (files[n] for n in names))))
            (remote, pages), document, last = listing.result(), manifest.result(), record.result()
    except (ClientError, BotoCoreError, S3StorageError, OSError, ValueError):
        return False  # the full sync meets the same error and explains it
    if not isinstance(document, dict) or not isinstance(last, dict):
        return False
    if not last.get("ok") or (last.get("invalidation") or {}).get("status") in (
        "failed",
        "pending",
    ):
        return False  # the last run did not finish well: the full sync records this one
    entries = state_entries(document)
    if not entries:
        return False
    for name in names:
        key = keys[name]
        # Headers the settings changed (a new fingerprint) need the full sync's re-tag.
        meta = object_fingerprint(storage, name)
        if decide(md5s[name], remote.get(key), entries.get(key), False, meta)[0] != UNCHANGED:
            return False
    local = set(keys.values())
    stale = sorted(
        k for k in remote if k.startswith(prefix) and k not in local and not is_state_key(k, prefix)
    )
    if delete and stale:
        return False
    report.unchanged, report.stale, report.hashed = len(names), stale, hashes.misses
    report.requests = pages + 2  # the listing's pages, the manifest, the record
    report.seconds = time.monotonic() - started
    return True
