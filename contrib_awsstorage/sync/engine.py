"""The static sync engine: plan, execute in parallel, report.

``sync(storage, files)`` makes the bucket hold exactly ``files`` (a
``{storage name: local path}`` mapping) under the storage's prefix, the way
the storage itself would have written them. A resync with nothing to do
costs a fixed handful of requests (the listing, the sync manifest, the
stale-multipart listing and the last-run record), whatever the number of
files. Commands (``s3_migrate_static``, our ``collectstatic``) are thin over
this module; it imports Django and the storage layer, never Evennia or
Twisted.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from ..media_types import IMMUTABLE_CACHE_CONTROL
from ..s3.errors import S3StorageError, scrub, translate_client_error
from . import invalidate as cdn
from . import record as syncrecord
from .destination import DEFAULT_WORKERS, Destination, setting_defaults
from .execute import Uploader
from .generations import Retention
from .hashcache import LocalHashes
from .plan import (
    MANIFEST_NAME,
    UNCHANGED,
    first_pass,
    gather_listing,
    read_state,
    resolve_unknown,
    settle_unchanged,
    stale_keys,
    state_document,
    submit_listing,
    walk_tree,
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

STALE_MULTIPART_SECONDS = 15 * 60
HASH_THREADS = 4
MAX_RECORDED_FAILURES = 20


@dataclass
class SyncReport:
    """What a sync did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    uploaded: list[str] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bytes: int = 0
    requests: int = 0
    seconds: float = 0.0
    started_at: str = ""
    finished_at: str = ""
    stale: list[str] = field(default_factory=list)  # would be deleted with delete=True
    hashed: int = 0  # local files read for their checksum (the others came from the cache)
    kept: list[str] = field(default_factory=list)  # stale hashed keys kept for cached pages
    invalidation: dict | None = None  # the CloudFront invalidation (sync/invalidate.py)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> dict:
        """The JSON summary: uploaded / unchanged / deleted / failed, bytes, seconds, requests."""
        return {
            "uploaded": len(self.uploaded),
            "unchanged": self.unchanged,
            "deleted": len(self.deleted),
            "failed": len(self.failures),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "stale": len(self.stale),
            "failures": [{"name": n, "error": e} for n, e in self.failures],
            "warnings": list(self.warnings),
            "kept": len(self.kept),
            "invalidation": self.invalidation,
        }


class _RequestCounter:
    """Counts requests the shared client sends while a sync runs."""

    def __init__(self, client):
        self.client, self.count, self._lock = client, 0, threading.Lock()
        self._id = f"contrib_awsstorage.sync.{uuid.uuid4().hex}"

    def __call__(self, **kwargs):
        with self._lock:
            self.count += 1

    def __enter__(self):
        self.client.meta.events.register("before-send.s3", self, unique_id=self._id)
        return self

    def __exit__(self, *exc):
        self.client.meta.events.unregister("before-send.s3", unique_id=self._id)


def manifest_hashed_names(
    files: dict[str, str], manifest_name: str = "staticfiles.json"
) -> set[str]:
    """Hashed names listed by a Django static manifest among ``files`` (empty if none)."""
    path = files.get(manifest_name)
    if not path:
        return set()
    try:
        with open(path, encoding="utf-8") as handle:
            paths = json.load(handle).get("paths", {})
    except (OSError, ValueError, AttributeError):
        return set()
    return {name for name in paths.values() if name in files} if isinstance(paths, dict) else set()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _error_text(exc: BaseException, operation: str, storage, key: str | None) -> str:
    if isinstance(exc, (ClientError, BotoCoreError)):
        exc = translate_client_error(exc, operation, storage.bucket_name, key)
    elif not isinstance(exc, (S3StorageError, OSError)):
        return f"{type(exc).__name__}: {scrub(str(exc))}"
    return str(exc)


def _raise_translated(exc, operation, storage, key=None):
    raise translate_client_error(exc, operation, storage.bucket_name, key) from None


def sync(
    storage,
    files: dict[str, str],
    *,
    delete: bool = False,
    dry_run: bool = False,
    force: bool = False,
    workers: int | None = None,
    last_names=(),
    immutable_names=(),
    progress=None,
    command: str = "sync",
    source: str = "",
    multipart_threshold: int | None = None,
    stale_multipart_seconds: float = STALE_MULTIPART_SECONDS,
    on_plan=None,
    invalidate: bool = True,
    wait: bool = False,
) -> SyncReport:
    """Make ``storage`` hold ``files``; return the report.

    ``last_names`` go up only after every other upload succeeded (a static
    manifest must never point at assets that are not there yet);
    ``immutable_names`` (hashed assets) get a year-long immutable
    Cache-Control. Stale keys are deleted only with ``delete`` and only when
    nothing failed. ``progress(name, outcome)`` is called (in the calling
    thread) as each upload/delete finishes; ``on_plan(uploads, deletes)`` once,
    before the work starts. Planning errors raise ``S3StorageError`` (with its fix);
    per-file errors are collected in the report. With a CloudFront distribution
    (``cloudfront_distribution_id``), changed plain-named keys are invalidated
    afterwards unless ``invalidate`` is false (``wait``: until it completed).
    """
    dest = Destination.of(storage, workers=workers, multipart_threshold=multipart_threshold)
    cdn_on = bool(getattr(storage, "cloudfront_distribution_id", None))
    report = SyncReport(dry_run=dry_run, started_at=_now())
    started = time.monotonic()
    if not (dry_run or force) and dest.quick_noop:
        # Nothing to do is told without boto3 (sync/quick.py); anything else: the full sync.
        from .quick import try_noop

        quick_hashes = LocalHashes(dest.cache_path)
        if try_noop(
            storage,
            files,
            {n: storage.key_for(n) for n in files},
            quick_hashes,
            delete=delete,
            report=report,
        ):
            quick_hashes.save()
            if on_plan:
                on_plan(0, 0)
            report.finished_at = _now()
            return report
    uploader = Uploader(
        storage,
        threshold=dest.threshold,
        chunksize=dest.chunksize,
        immutable_names=immutable_names,
        part_workers=dest.part_workers,
    )
    with _RequestCounter(dest.client) as counter:
        cleanup = None
        if not dry_run:
            # Uploads a killed run left open are aborted while we plan and upload.
            cleaner = ThreadPoolExecutor(max_workers=1)
            cleanup = cleaner.submit(
                uploader.abort_stale_multipart, dest.prefix, stale_multipart_seconds
            )
            cleaner.shutdown(wait=False)
        keys = {name: storage.key_for(name) for name in files}
        pending = None
        if cdn_on and not dry_run:  # paths an earlier run could not invalidate, read meanwhile
            pending = ThreadPoolExecutor(max_workers=1)
            pending_future = pending.submit(cdn.pending_paths, storage)
            pending.shutdown(wait=False)
        retention = Retention(storage, files, last_names)
        hashes = LocalHashes(dest.cache_path)
        plan = _plan(dest, files, keys, uploader, hashes, force=force)
        if not dry_run:
            hashes.save()
        report.hashed = hashes.misses
        report.unchanged = len(plan.unchanged)
        report.stale = stale_keys(plan, set(keys.values()))
        report.stale, report.kept = retention.before(plan, report.stale, delete)
        if on_plan:
            on_plan(len(plan.uploads), len(report.stale) if delete else 0)
        if dry_run:
            report.uploaded = [d.local.name for d in plan.uploads]
            report.deleted = list(report.stale) if delete else []
        else:
            _execute(
                dest,
                plan,
                report,
                uploader,
                cleanup,
                last_names=set(last_names),
                delete=delete,
                progress=progress,
            )
            retention.after(report)
        if cdn_on:
            report.invalidation = cdn.run(
                storage,
                cdn.changed_keys(plan, report, immutable_names),
                pending_future.result() if pending else (),
                send=invalidate,
                wait=wait,
                dry_run=dry_run,
                sync_ok=report.ok,
            )
        report.requests = counter.count
    report.seconds = time.monotonic() - started
    report.finished_at = _now()
    if not dry_run:
        _write_record(storage, report, command, source)
    return report


def _plan(dest, files, keys, uploader, hashes, *, force):
    storage = dest.storage
    # The listing is the critical path (the server's time per key dominates a
    # no-op run), so its requests go on the wire first; the sync manifest is
    # fetched and the local files hashed while they are out (hashlib, file
    # reads and sockets release the GIL).
    lister = ThreadPoolExecutor(max_workers=8)
    with ThreadPoolExecutor(max_workers=HASH_THREADS + 1) as side:
        try:
            listing = submit_listing(dest, keys.values(), lister)
            state_future = None if force else side.submit(read_state, dest)
            names = sorted(files)
            digests = side.map(hashes.md5, [files[n] for n in names])
            try:
                remote = gather_listing(listing)
            except (ClientError, BotoCoreError) as exc:
                side.shutdown(cancel_futures=True)
                _raise_translated(exc, "ListObjectsV2", storage)
        finally:
            lister.shutdown(cancel_futures=True)
        try:
            state = state_future.result() if state_future else {}
        except (ClientError, BotoCoreError) as exc:
            side.shutdown(cancel_futures=True)
            _raise_translated(exc, "GetObject", storage, dest.prefix + MANIFEST_NAME)
        md5s = dict(zip(names, digests))
    plan = first_pass(dest, files, remote, state, force=force, md5s=md5s, keys=keys)
    need_head = resolve_unknown(dest, plan)
    if need_head:
        with ThreadPoolExecutor(max_workers=dest.workers) as pool:
            futures = {pool.submit(uploader.head_source_md5, d.key): d for d in need_head}
            for future in as_completed(futures):
                decision = futures[future]
                try:
                    same = future.result() == decision.md5
                except (ClientError, BotoCoreError):
                    same = False  # cannot tell: uploading is always correct
                if same:
                    settle_unchanged(plan, decision, plan.remote[decision.key])
                else:
                    decision.action, decision.reason = "upload", "changed"
        plan.uploads = [d for d in plan.uploads if d.action != UNCHANGED]
    return plan


def _upload_all(decisions, uploader, workers, report, progress, new_state, lock):
    if not decisions:
        return
    # Largest first: a big multipart file started last would leave one
    # worker busy while the others sit idle at the end of the run.
    decisions = sorted(decisions, key=lambda d: d.local.size, reverse=True)
    with ThreadPoolExecutor(max_workers=min(workers, len(decisions))) as pool:
        futures = {pool.submit(uploader.upload, d): d for d in decisions}
        for future in as_completed(futures):
            decision = futures[future]
            try:
                entry, size = future.result()
            except Exception as exc:  # noqa: BLE001 - one file's failure must not stop the others
                with lock:
                    report.failures.append(
                        (
                            decision.local.name,
                            _error_text(exc, "PutObject", uploader.storage, decision.key),
                        )
                    )
                outcome = "failed"
            else:
                with lock:
                    new_state[decision.key] = entry
                    report.uploaded.append(decision.local.name)
                    report.bytes += size
                outcome = "uploaded"
            if progress:
                progress(decision.local.name, outcome)


def _execute(dest, plan, report, uploader, cleanup, *, last_names, delete, progress):
    storage, workers = dest.storage, dest.workers
    lock = threading.Lock()
    new_state = dict(plan.confirmed)
    first = [d for d in plan.uploads if d.local.name not in last_names]
    last = [d for d in plan.uploads if d.local.name in last_names]
    # Finish aborting a killed run's open uploads before starting our own, so
    # the clean-up can never take one of ours for stale (moto, for one, dates
    # every upload 2010; a skewed clock could do the same on a real store).
    try:
        cleanup.result()
    except (ClientError, BotoCoreError) as exc:
        report.warnings.append(
            "could not clean up old multipart uploads: "
            + _error_text(exc, "ListMultipartUploads", storage, None)
        )
    _upload_all(first, uploader, workers, report, progress, new_state, lock)
    if report.failures:
        for decision in last:
            report.failures.append(
                (decision.local.name, "not uploaded because other files failed (it refers to them)")
            )
    else:
        _upload_all(last, uploader, workers, report, progress, new_state, lock)
    if delete and report.stale and not report.failures:
        deleted, failed = uploader.delete(report.stale)
        report.deleted = deleted
        report.failures.extend(failed)
        if progress:
            for key in deleted:
                progress(key, "deleted")
    # Keep trusted entries for remote objects we neither own locally nor deleted.
    deleted = set(report.deleted)
    for key, entry in plan.state.items():
        remote = plan.remote.get(key)
        if (
            key not in new_state
            and key not in deleted
            and remote is not None
            and (remote.etag, remote.size) == (entry.etag, entry.size)
        ):
            new_state[key] = entry
    if new_state != plan.state:
        key = dest.prefix + MANIFEST_NAME
        try:
            dest.client.put_object(
                Bucket=dest.bucket,
                Key=key,
                Body=state_document(new_state),
                ContentType="application/json",
                CacheControl="no-store",
            )
        except (ClientError, BotoCoreError) as exc:
            report.failures.append((MANIFEST_NAME, _error_text(exc, "PutObject", storage, key)))


def _write_record(storage, report, command, source):
    summary = report.summary()
    record = {
        key: summary[key]
        for key in ("uploaded", "unchanged", "deleted", "failed", "bytes", "requests", "ok")
    }
    record.update(
        command=command,
        source=source,
        started_at=report.started_at,
        finished_at=report.finished_at,
        duration_seconds=round(report.seconds, 3),
        failures=summary["failures"][:MAX_RECORDED_FAILURES],
        host=socket.gethostname(),
        invalidation=summary["invalidation"],
    )
    try:
        syncrecord.write_last_run(storage, record)
    except S3StorageError as exc:
        report.warnings.append(f"could not store the last-run record: {exc}")


def sync_directory(storage, root: str, **kwargs) -> SyncReport:
    """Sync the tree under ``root``; a Django static manifest in it goes last and
    its hashed assets are marked immutable."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"source folder {root!r} does not exist")
    files = walk_tree(root)
    manifest_name = getattr(storage, "manifest_name", None) or "staticfiles.json"
    hashed = manifest_hashed_names(files, manifest_name)
    if hashed:
        kwargs.setdefault("last_names", (manifest_name,))
        kwargs.setdefault("immutable_names", hashed)
    kwargs.setdefault("source", root)
    return sync(storage, files, **kwargs)


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
