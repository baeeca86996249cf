"""The sync engine: make a bucket prefix hold a set of local files, in named phases.

``sync(storage, files, options)`` makes the bucket hold exactly ``files`` (a
``{storage name: local path}`` mapping) under the storage's prefix, the way
the storage itself would have written them. One run is a :class:`SyncRun`,
whose methods are its phases, in the order :meth:`SyncRun.run` calls them:
read the remote side, scan the local side, plan, upload (the sync manifest
meanwhile), delete, record the state, invalidate, clean up, record the run.
They share one thread pool, and each one's wall time goes into the report's
``timings`` (``timings.py``). A resync with nothing to do costs three reads
(the listing, the sync manifest, the last-run record), whatever the number
of files, and writes nothing. The commands (``s3_migrate_static``, our
``collectstatic``) are thin over this module; it imports Django and the
storage layer, never Evennia or Twisted.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from ..media_types import IMMUTABLE_CACHE_CONTROL
from ..s3.errors import S3StorageError, scrub, translate_client_error
from . import invalidate as cdn
from . import record as syncrecord
from .destination import (
    DEFAULT_WORKERS,
    Destination,
    check_sync_storage,
    is_sync_storage,
    setting_defaults,
)
from .execute import Uploader
from .generations import Retention
from .hashcache import LocalHashes
from .plan import (
    MANIFEST_NAME,
    RETAG,
    FileDecision,
    Plan,
    StateEntry,
    first_pass,
    gather_listing,
    manifest_hashed_names,
    read_state,
    resolve_unknown,
    settle_same_bytes,
    stale_keys,
    state_document,
    submit_listing,
    walk_tree,
)
from .report import SyncReport
from .timings import Timings

__all__ = [
    "sync",
    "sync_directory",
    "SyncOptions",
    "SyncRun",
    "SyncReport",
    "manifest_hashed_names",
    "setting_defaults",
    "IMMUTABLE_CACHE_CONTROL",
    "DEFAULT_WORKERS",
    "check_sync_storage",
    "is_sync_storage",
]

STALE_MULTIPART_SECONDS = 15 * 60
MAX_RECORDED_FAILURES = 20
LAST_NAME_HELD_BACK = "not uploaded because other files failed (it refers to them)"


@dataclass(frozen=True)
class SyncOptions:
    """How one sync runs; the defaults add and replace files and never delete.

    ``delete``: remove keys under the prefix that no local file maps to, only
    when nothing failed. ``dry_run``: plan and report, write nothing.
    ``force``: upload every file, changed or not. ``workers`` and
    ``multipart_threshold`` override ``AWS_S3_SYNC_WORKERS`` and
    ``AWS_S3_SYNC_MULTIPART_THRESHOLD``. ``last_names`` go up only after every
    other upload succeeded (a static manifest must never point at files that
    are not there yet); ``immutable_names`` (hashed assets) get a year-long
    immutable Cache-Control. ``command`` and ``source`` go into the last-run
    record. Multipart uploads under the prefix older than
    ``stale_multipart_seconds`` are aborted (a killed run left them).
    ``on_plan(uploads, deletes)`` is called once, before any write. With a
    CloudFront distribution, what changed is invalidated unless
    ``invalidate`` is false (``wait``: until the invalidation completed).
    ``start_up``: the seconds the process took to reach the sync (a command
    run as a program knows them, ``timings.process_age``), for the timings.
    """

    delete: bool = False
    dry_run: bool = False
    force: bool = False
    workers: int | None = None
    last_names: tuple[str, ...] = ()
    immutable_names: frozenset[str] = frozenset()
    command: str = "sync"
    source: str = ""
    multipart_threshold: int | None = None
    stale_multipart_seconds: float = STALE_MULTIPART_SECONDS
    on_plan: Callable[[int, int], None] | None = None
    invalidate: bool = True
    wait: bool = False
    start_up: float | None = None

    def __post_init__(self):
        for name in ("last_names", "immutable_names"):
            if isinstance(getattr(self, name), str):
                raise TypeError(
                    f"SyncOptions({name}={getattr(self, name)!r}) is one string; it must be "
                    f"a collection of storage names. Fix: pass ({getattr(self, name)!r},)."
                )
        object.__setattr__(self, "last_names", tuple(self.last_names))
        object.__setattr__(self, "immutable_names", frozenset(self.immutable_names))
        if self.workers is not None and (
            not isinstance(self.workers, int) or isinstance(self.workers, bool) or self.workers < 1
        ):
            raise ValueError(
                f"SyncOptions(workers={self.workers!r}): workers must be an integer >= 1. "
                "Fix: pass a positive number, or None for AWS_S3_SYNC_WORKERS."
            )


def sync(
    storage, files: dict[str, str], options: SyncOptions = SyncOptions(), progress=None
) -> SyncReport:
    """Make ``storage`` hold ``files`` as ``options`` say; return the report.

    ``progress(name, outcome)`` is called in the calling thread as each
    upload or delete finishes. Planning errors raise ``S3StorageError`` (with
    its fix); per-file errors are collected in the report.
    """
    return SyncRun(storage, files, options, progress).run()


def sync_directory(
    storage, root: str, options: SyncOptions = SyncOptions(), progress=None
) -> SyncReport:
    """Sync the tree under ``root``; a Django static manifest in it goes last and
    its hashed assets are marked immutable (unless ``options`` name others)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"source folder {root!r} does not exist")
    files = walk_tree(root)
    manifest_name = getattr(storage, "manifest_name", None) or "staticfiles.json"
    hashed = manifest_hashed_names(files, manifest_name)
    defaults = SyncOptions()
    changes = {}
    if hashed and options.last_names == defaults.last_names:
        changes["last_names"] = (manifest_name,)
    if hashed and options.immutable_names == defaults.immutable_names:
        changes["immutable_names"] = hashed
    if options.source == defaults.source:
        changes["source"] = root
    return sync(storage, files, replace(options, **changes), progress)


@dataclass(frozen=True)
class RemoteReads:
    """The reads a plan needs, on the wire together: the listing's ranges, the
    sync manifest (None with ``force``) and the last-run record (None when
    nothing needs it)."""

    listing: list[Future]
    state: Future | None
    record: Future | None


class _RequestCounter:
    """Counts the requests the shared client sends while a sync runs."""

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _error_text(exc: BaseException, operation: str, storage, key: str | None) -> str:
    if isinstance(exc, (ClientError, BotoCoreError)):
        exc = translate_client_error(exc, operation, storage.bucket_name, key)
    elif not isinstance(exc, (S3StorageError, OSError)):
        return f"{type(exc).__name__}: {scrub(str(exc))}"
    return str(exc)


class SyncRun:
    """One run of :func:`sync`: its phases, one method each, on one thread pool.

    The pool (``workers`` threads) carries the remote reads, the local
    hashing, the HEADs of the plan, the uploads and the writes of the state;
    no task waits on another, so one pool cannot deadlock. ``report`` is
    filled as the phases go, ``report.timings`` with each phase's wall time.

    A small deploy's floor is the process start, one round of reads, one
    round of uploads and the record; the run keeps to it:

    - the reads (listing, sync manifest, last-run record) go out together,
      first, and the files are hashed while they are on the wire; when they
      show nothing to do, the run ends there, with no write;
    - the new sync manifest is written while the files upload, when the
      ETags the uploads will get are known beforehand (plain bodies under
      the multipart threshold: the MD5 of the file). That is safe because
      no run trusts an entry the listing does not confirm (``plan.decide``
      compares ETag and size), so a run killed in between converges; when
      the uploads end otherwise than predicted, the manifest is written
      again with what happened;
    - stale multipart uploads are looked for during the uploads, and the
      manifest history (``generations.py``) only when a static manifest
      changes, also during the uploads.
    """

    def __init__(self, storage, files: dict[str, str], options: SyncOptions, progress=None):
        self.storage, self.files, self.options, self.progress = storage, files, options, progress
        self.dest = Destination.of(
            storage, workers=options.workers, multipart_threshold=options.multipart_threshold
        )
        self.timings = Timings(options.start_up)
        self.report = SyncReport(dry_run=options.dry_run, started_at=_now())
        self.keys = {name: storage.key_for(name) for name in files}
        self.cdn_on = bool(getattr(storage, "cloudfront_distribution_id", None))
        self.pool: ThreadPoolExecutor | None = None
        self.history: Future | None = None  # the manifest history, read during the uploads
        self.early: tuple[Future, dict] | None = None  # the manifest written during the uploads
        self.sweep: Future | None = None  # the housekeeping started with the uploads
        self._lock = threading.Lock()  # the report and the new state, written from the pool

    # -- the sequence -----------------------------------------------------------
    def run(self) -> SyncReport:
        started = time.monotonic()
        options, report = self.options, self.report
        self.retention = Retention(self.storage, self.files, options.last_names)
        with self.timings.phase("client"):
            client = self.dest.client  # built on first use: boto3's import and models
        self.uploader = Uploader(
            self.storage,
            threshold=self.dest.threshold,
            chunksize=self.dest.chunksize,
            immutable_names=options.immutable_names,
            part_workers=self.dest.part_workers,
        )
        self.pool = ThreadPoolExecutor(self.dest.workers, thread_name_prefix="contrib-s3-sync")
        try:
            with _RequestCounter(client) as counter:
                reads = self.read_remote()
                md5s, hashes = self.scan_local()
                plan = self.plan(reads, md5s, hashes)
                if plan is not None and not options.dry_run:
                    self.write(plan)
                if plan is not None:
                    self.invalidate(plan, reads.record)
                    self.finish_housekeeping(plan)
                report.requests = counter.count
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        report.seconds = time.monotonic() - started
        report.finished_at = _now()
        report.timings = self.timings.as_dict()
        if plan is not None and not options.dry_run:
            with self.timings.phase("record"):
                self.record_run()
            report.timings = self.timings.as_dict()
        return report

    def write(self, plan: Plan) -> None:
        """The run's writes: the uploads (the sync manifest and the housekeeping
        meanwhile), the deletes, the sync manifest as it ended, the history."""
        self.sweep = self.pool.submit(self.housekeeping, plan)
        self.timings.until_done("housekeeping", [self.sweep])
        new_state = self.upload_all(plan)
        self.delete()
        self.record_state(plan, new_state)
        with self.timings.phase("retention"):
            self.retention.after(self.report)

    # -- phase 1: the remote side -------------------------------------------------
    def read_remote(self) -> RemoteReads:
        """Send the reads a plan needs, all at once, before the local files are
        hashed: the listing of the prefix (the server's time per key is a no-op
        run's critical path), the sync manifest, and the last-run record (is
        the last run good? what did it leave to invalidate?)."""
        options = self.options
        listing = submit_listing(self.dest, self.keys.values(), self.pool)
        state = None if options.force else self.pool.submit(read_state, self.dest)
        wants_record = (self.dest.quick_noop and not options.force) or self.cdn_on
        record = self.pool.submit(self._last_run) if wants_record and not options.dry_run else None
        self.timings.until_done("listing", [f for f in (*listing, state, record) if f])
        return RemoteReads(listing, state, record)

    def _last_run(self) -> dict | None:
        """The last-run record; None when there is none or it cannot be read
        (then the run cannot end early, and nothing is known to re-invalidate)."""
        try:
            return syncrecord.read_last_run(self.storage)
        except S3StorageError:
            return None

    # -- phase 2: the local side --------------------------------------------------
    def scan_local(self) -> tuple[dict[str, str], LocalHashes]:
        """Every local file's MD5, hashed on the pool while the reads are out
        (from the checksum cache while a file's stat is unchanged)."""
        with self.timings.phase("scan"):
            hashes = LocalHashes(self.dest.cache_path)
            names = sorted(self.files)
            digests = self.pool.map(hashes.md5, [self.files[n] for n in names])
            return dict(zip(names, digests)), hashes

    # -- phase 3: the plan --------------------------------------------------------
    def plan(self, reads: RemoteReads, md5s: dict[str, str], hashes: LocalHashes) -> Plan | None:
        """Decide each file by content (plan.py); None when there is nothing to
        do (``report`` then says so, and nothing is written). Otherwise settle
        unknown objects with a HEAD each and fill the report's counts;
        ``on_plan`` is told the work either way."""
        options, report, storage = self.options, self.report, self.storage
        try:
            remote = gather_listing(reads.listing)
        except (ClientError, BotoCoreError) as exc:
            raise translate_client_error(exc, "ListObjectsV2", storage.bucket_name) from None
        try:
            state = reads.state.result() if reads.state else {}
        except (ClientError, BotoCoreError) as exc:
            key = self.dest.prefix + MANIFEST_NAME
            raise translate_client_error(exc, "GetObject", storage.bucket_name, key) from None
        with self.timings.phase("plan"):
            plan = first_pass(
                self.dest,
                self.files,
                remote,
                state,
                force=options.force,
                md5s=md5s,
                keys=self.keys,
                hashed=options.immutable_names,
            )
            stale = stale_keys(plan, set(self.keys.values()))
            if not options.dry_run:
                hashes.save()
            report.hashed = hashes.misses
            report.unchanged = len(plan.unchanged)
            if self.nothing_to_do(plan, stale, reads.record):
                report.stale = stale
                if options.on_plan:
                    options.on_plan(0, 0)
                return None
            self._verify(plan, resolve_unknown(self.dest, plan))
            report.unchanged = len(plan.unchanged)
            report.stale, report.kept = self.retention.before(plan, stale, options.delete)
            if not options.dry_run and self.retention.wants_history(plan):
                self.history = self.pool.submit(self.retention.load, plan)
                self.timings.until_done("retention", [self.history])
        if options.on_plan:
            options.on_plan(len(plan.uploads), len(report.stale) if options.delete else 0)
        if options.dry_run:
            report.uploaded = [d.local.name for d in plan.uploads]
            report.metadata_updated = [d.local.name for d in plan.retags]
            report.deleted = list(report.stale) if options.delete else []
        return plan

    def nothing_to_do(self, plan: Plan, stale: list[str], record_future) -> bool:
        """True when the run can end before any write: every file is unchanged by
        the manifest's rules, no header to set, nothing stale that ``delete``
        would remove, and the last run was good with no invalidation left
        pending (``AWS_S3_SYNC_QUICK_NOOP``; the record stays as it is: it
        describes the last run that did something).

        Why it is kept: Evennia's launcher runs ``collectstatic`` before every
        reload, and most reloads change no static file. ``bench/reload_bench.py``
        shows the reload no slower than a vanilla game's with this, not without
        (the full no-op also lists open multipart uploads and writes the record)."""
        options = self.options
        if options.dry_run or options.force or not self.dest.quick_noop or record_future is None:
            return False
        if plan.uploads or plan.retags or (options.delete and stale):
            return False
        last = record_future.result()
        return (
            isinstance(last, dict)
            and bool(last.get("ok"))
            and (last.get("invalidation") or {}).get("status") not in cdn.PENDING
        )

    def _verify(self, plan: Plan, need_head: list[FileDecision]) -> None:
        """Objects another writer made: unchanged if the source checksum our
        storage keeps in their metadata matches (one HEAD each)."""
        if not need_head:
            return
        futures = {self.pool.submit(self.uploader.head_source, d.key): d for d in need_head}
        for future in as_completed(futures):
            decision = futures[future]
            try:  # same source, and gzipped exactly when we would gzip it
                same = future.result() == (decision.md5, decision.meta.startswith("z"))
            except (ClientError, BotoCoreError):
                same = False  # cannot tell: uploading is always correct
            if same:
                settle_same_bytes(plan, decision)
            else:
                decision.action, decision.reason = "upload", "changed"
        plan.uploads = [d for d in plan.uploads if d.action != RETAG]

    # -- phase 4: the uploads (the sync manifest meanwhile) -----------------------
    def upload_all(self, plan: Plan) -> dict:
        """Upload, re-tag, then upload the last names, and return the state the
        writes made; the sync manifest goes up meanwhile (``self.early``) when
        its entries can be known beforehand."""
        new_state = dict(plan.confirmed)
        predicted = self.predicted_state(plan)
        if predicted is not None and predicted != plan.state:
            self.early = (self.pool.submit(self._put_state, predicted), predicted)
        last = set(self.options.last_names)
        with self.timings.phase("uploads"):
            self.upload([d for d in plan.uploads if d.local.name not in last], new_state)
            self.retag(plan, new_state)
            self.upload_last([d for d in plan.uploads if d.local.name in last], new_state)
        return new_state

    def predicted_state(self, plan: Plan) -> dict | None:
        """The sync manifest this run leaves if every write succeeds, when it can
        be known before the writes: each upload is a plain body under the
        multipart threshold (S3's ETag is then the MD5 of the file) and each
        re-tag copies a single-part object (its ETag stays). None otherwise."""
        new_state = dict(plan.confirmed)
        for d in plan.uploads:
            if d.meta.startswith("z") or d.local.size >= self.dest.threshold:
                return None
            new_state[d.key] = StateEntry(d.md5, d.md5, d.local.size, d.meta)
        for d in plan.retags:
            remote = plan.remote[d.key]
            if "-" in remote.etag:
                return None
            new_state[d.key] = StateEntry(d.md5, remote.etag, remote.size, d.meta)
        going = set(self.report.stale) if self.options.delete else set()
        return self._with_kept_entries(plan, new_state, going)

    def upload(self, decisions: list[FileDecision], new_state: dict) -> None:
        """Send ``decisions`` on the pool, largest first (a big file started last
        would run on alone at the end); one file's failure never stops the others."""
        decisions = sorted(decisions, key=lambda d: d.local.size, reverse=True)

        def uploaded(decision, result):
            entry, size = result
            new_state[decision.key] = entry
            self.report.uploaded.append(decision.local.name)
            self.report.bytes += size

        self._each_on_pool(self.uploader.upload, decisions, "PutObject", uploaded, "uploaded")

    def retag(self, plan: Plan, new_state: dict) -> None:
        """Set the headers of objects whose bytes are right but whose metadata the
        settings changed: one CopyObject onto itself each, no upload."""

        def retagged(decision, entry):
            new_state[decision.key] = entry
            self.report.metadata_updated.append(decision.local.name)

        self._each_on_pool(
            lambda d: self.uploader.retag(d, plan.remote[d.key]),
            plan.retags,
            "CopyObject",
            retagged,
            "metadata updated",
        )

    def _each_on_pool(self, work, decisions, operation, on_success, outcome) -> None:
        """Run ``work(decision)`` for each decision on the pool; ``on_success`` notes
        a result (under the run's lock), a failure is recorded per file and the
        run goes on; progress hears of each."""
        futures = {self.pool.submit(work, d): d for d in decisions}
        for future in as_completed(futures):
            decision = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - recorded per file, the run goes on
                error = _error_text(exc, operation, self.storage, decision.key)
                with self._lock:
                    self.report.failures.append((decision.local.name, error))
                said = "failed"
            else:
                with self._lock:
                    on_success(decision, result)
                said = outcome
            if self.progress:
                self.progress(decision.local.name, said)

    def upload_last(self, decisions: list[FileDecision], new_state: dict) -> None:
        """The last names (the static manifest), only once every other file is up:
        it refers to them."""
        held_back = LAST_NAME_HELD_BACK if self.report.failures else None
        if decisions and held_back is None and self.history is not None:
            try:  # a manifest goes up only once its generation can be recorded
                self.history.result()
            except S3StorageError as exc:
                held_back = f"not uploaded: the manifest history could not be read: {exc}"
        if held_back:
            for decision in decisions:
                self.report.failures.append((decision.local.name, held_back))
        else:
            self.upload(decisions, new_state)

    # -- phase 5: deletes ---------------------------------------------------------
    def delete(self) -> None:
        """Delete the stale keys, only with ``delete`` and only when nothing failed
        (older hashed generations are already kept out of ``report.stale``)."""
        report = self.report
        if not (self.options.delete and report.stale and not report.failures):
            return
        with self.timings.phase("deletes"):
            deleted, failed = self.uploader.delete(report.stale)
        report.deleted = deleted
        report.failures.extend(failed)
        if self.progress:
            for key in deleted:
                self.progress(key, "deleted")

    # -- phase 6: the state -------------------------------------------------------
    def record_state(self, plan: Plan, new_state: dict) -> None:
        """Make the sync manifest (source MD5, ETag and size of each key) say what
        the writes did: unless the early write already said exactly that, write it."""
        final = self._with_kept_entries(plan, new_state, set(self.report.deleted))
        written = plan.state
        if self.early is not None and self.early[0].result() is None:
            written = self.early[1]
        if final != written:
            error = self._put_state(final)
            if error:
                self.report.failures.append((MANIFEST_NAME, error))

    @staticmethod
    def _with_kept_entries(plan: Plan, new_state: dict, deleted: set) -> dict:
        """``new_state`` plus the trusted entries of remote objects we neither
        own locally nor deleted (another writer's files stay known)."""
        state = dict(new_state)
        for key, entry in plan.state.items():
            remote = plan.remote.get(key)
            if (
                key not in state
                and key not in deleted
                and remote is not None
                and (remote.etag, remote.size) == (entry.etag, entry.size)
            ):
                state[key] = entry
        return state

    def _put_state(self, entries: dict) -> str | None:
        """Write the sync manifest; the error text when that failed, else None."""
        key = self.dest.prefix + MANIFEST_NAME
        with self.timings.phase("state_write"):
            try:
                self.dest.client.put_object(
                    Bucket=self.dest.bucket,
                    Key=key,
                    Body=state_document(entries),
                    ContentType="application/json",
                    CacheControl="no-store",
                )
            except (ClientError, BotoCoreError) as exc:
                return _error_text(exc, "PutObject", self.storage, key)
        return None

    # -- phase 7: the CDN ---------------------------------------------------------
    def invalidate(self, plan: Plan, record_future) -> None:
        """Invalidate at CloudFront the plain-named keys that changed or went away,
        with the paths an earlier run left pending (sync/invalidate.py)."""
        if not self.cdn_on:
            return
        options = self.options
        pending = () if options.dry_run else cdn.pending_in(record_future.result())
        with self.timings.phase("invalidation"):
            self.report.invalidation = cdn.run(
                self.storage,
                cdn.changed_keys(plan, self.report, options.immutable_names),
                pending,
                send=options.invalidate,
                wait=options.wait,
                dry_run=options.dry_run,
                sync_ok=self.report.ok,
            )

    # -- phase 8: housekeeping (started with the uploads) ------------------------
    def housekeeping(self, plan: Plan, after_uploads: bool = False) -> None:
        """Abort the multipart uploads a killed run left open under the prefix.

        During the uploads it leaves alone the keys this run may upload in
        parts: one of our own uploads in progress must never be taken for
        stale (moto dates every open upload 2010; a skewed clock could too).
        A run that did upload in parts sweeps again once its uploads are done
        (``after_uploads``): an upload whose CreateMultipartUpload answer was
        lost, and so was tried again, is left open by this very run."""
        try:
            self.uploader.abort_stale_multipart(
                self.dest.prefix,
                self.options.stale_multipart_seconds,
                skip_keys=() if after_uploads else self._multipart_keys(plan),
            )
        except (ClientError, BotoCoreError) as exc:
            with self._lock:
                self.report.warnings.append(
                    "could not clean up old multipart uploads: "
                    + _error_text(exc, "ListMultipartUploads", self.storage, None)
                )

    def finish_housekeeping(self, plan: Plan) -> None:
        """Wait for the sweep made during the uploads, and sweep once more when
        this run uploaded in parts."""
        if self.sweep is None:
            return
        self.sweep.result()
        if self._multipart_keys(plan):
            with self.timings.phase("housekeeping"):
                self.housekeeping(plan, after_uploads=True)

    def _multipart_keys(self, plan: Plan) -> set[str]:
        """Keys this run may upload in parts (half the threshold: a gzipped body
        is not the size of its file)."""
        return {d.key for d in plan.uploads if d.local.size >= self.dest.threshold // 2}

    # -- phase 9: the record ------------------------------------------------------
    def record_run(self) -> None:
        """Store the last-run record in the bucket (sync/record.py) for s3_check,
        the system checks and @awsstatus, which run in other processes."""
        report, options = self.report, self.options
        summary = report.summary()
        record = {
            key: summary[key]
            for key in ("uploaded", "unchanged", "deleted", "failed", "bytes", "requests", "ok")
        }
        record.update(
            command=options.command,
            source=options.source,
            started_at=report.started_at,
            finished_at=report.finished_at,
            duration_seconds=round(report.seconds, 3),
            failures=summary["failures"][:MAX_RECORDED_FAILURES],
            host=socket.gethostname(),
            invalidation=summary["invalidation"],
            timings=self.timings.as_dict(),
        )
        try:
            syncrecord.write_last_run(self.storage, record)
        except S3StorageError as exc:
            report.warnings.append(f"could not store the last-run record: {exc}")
