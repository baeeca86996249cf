"""A bounded, briefly cached picture of the bucket for ``@awsstatus``.

The in-game command must answer even when S3 is down or slow, and
several admins typing it must not multiply the requests. So: one probe at
a time, a hard wall-clock bound (the probe runs in a daemon thread; if it
overruns, the answer says so and the thread finishes on its own), and the
result is reused for ``ttl`` seconds unless ``refresh`` is asked for.
"""

from __future__ import annotations

import threading
import time

from ..s3.keys import STATE_DIR as PROBE_DIR
from ..s3.keys import prefix_of
from .credentials import snapshot_entry as credential_entry
from .settings_checks import resolve, target_settings_checks
from .storage import probe_storage, url_base
from .targets import load_targets

DEFAULT_TTL = 30.0
DEFAULT_BUDGET = 8.0
PAGE_SIZE = 1000  # ListObjectsV2's maximum

_lock = threading.Lock()
_cache: dict = {"at": None, "value": None}
_inflight: dict = {"thread": None, "box": None}


def _describe(target, values) -> dict:
    info = {
        "alias": target.alias,
        "ours": True,
        "backend": target.backend,
        "bucket": values.get("bucket_name"),
        "region": values.get("region_name"),
        "endpoint": values.get("endpoint_url"),
        "location": values.get("location") or "",
        "custom_domain": values.get("custom_domain"),
        "url_base": None,
        "reachable": None,
        "reason": "",
        "fix": "",
        "objects": None,
        "bytes": None,
        "complete": False,
        "last_sync": None,
        "last_sync_error": "",
        "credentials": None,
    }
    return info


def _count(storage, info: dict, deadline: float) -> None:
    """Object count and size under the prefix; stops at ``deadline``."""
    prefix = prefix_of(storage)
    count = size = 0
    token = None
    while True:
        kwargs = {"Bucket": storage.bucket_name, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
        if token:
            kwargs["ContinuationToken"] = token
        page = storage.connection.list_objects_v2(**kwargs)
        for obj in page.get("Contents", []):
            if not obj["Key"][len(prefix) :].startswith(PROBE_DIR):
                count += 1
                size += obj.get("Size", 0)
        info["objects"], info["bytes"], info["reachable"] = count, size, True
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            info["complete"] = True
            return
        if time.monotonic() > deadline:
            return  # partial: "at least" this many


def _probe_target(target, deadline: float) -> dict:
    from botocore.exceptions import BotoCoreError, ClientError

    from contrib_awsstorage.s3.errors import S3StorageError, scrub, translate_client_error

    values, problems = resolve(target)
    if values is None:
        return {
            "alias": target.alias,
            "ours": True,
            "backend": target.backend,
            "reachable": False,
            "reason": problems[-1].message if problems else "bad settings",
            "fix": problems[-1].fix if problems else "",
        }
    info = _describe(target, values)
    failures = [r for r in target_settings_checks(target) if r.failed]
    if failures:
        info["reachable"], info["reason"] = False, failures[0].message
        info["fix"] = failures[0].fix
        return info
    try:
        storage = probe_storage(target, values)
        info["endpoint"] = storage.connection.meta.endpoint_url
        info["region"] = storage.connection.meta.region_name
        info["url_base"] = url_base(storage)
        info["credentials"] = credential_entry(storage)
    except Exception as exc:  # bad client settings: say so, never raise into the game
        info["reachable"], info["reason"] = False, scrub(f"{type(exc).__name__}: {exc}")
        return info
    try:
        _count(storage, info, deadline)
    except (ClientError, BotoCoreError) as exc:
        err = translate_client_error(
            exc, "ListObjectsV2", storage.bucket_name, region=info["region"]
        )
        info["reachable"] = False
        info["reason"] = scrub(getattr(err, "summary", str(err)))
        info["fix"] = scrub(getattr(err, "fix", ""))
        return info
    from contrib_awsstorage.sync.record import read_last_run

    try:
        info["last_sync"] = read_last_run(storage)
    except S3StorageError as exc:
        info["last_sync_error"] = scrub(exc.summary)
    return info


def _take(budget: float) -> dict:
    started = time.monotonic()
    deadline = started + budget * 0.7  # leave room for the sync record after counting
    storages = []
    for target in load_targets():
        if not target.ours:
            storages.append({"alias": target.alias, "ours": False, "backend": target.backend})
            continue
        storages.append(_probe_target(target, deadline))
    return {
        "taken_at": time.time(),
        "duration": time.monotonic() - started,
        "storages": storages,
        "timed_out": False,
    }


def _timed_out(budget: float) -> dict:
    storages = []
    for target in load_targets():
        entry = {"alias": target.alias, "ours": target.ours, "backend": target.backend}
        if target.ours:
            entry.update(
                reachable=False,
                reason=f"S3 did not answer within {budget:.0f} s.",
                fix="run 'evennia s3_check' to see which step is slow.",
            )
        storages.append(entry)
    return {"taken_at": time.time(), "duration": budget, "storages": storages, "timed_out": True}


def snapshot(
    refresh: bool = False, ttl: float = DEFAULT_TTL, budget: float = DEFAULT_BUDGET
) -> dict:
    """The bucket state of every storage of ours (see module doc).

    Keys: ``taken_at`` (epoch), ``age`` (seconds since taken), ``duration``,
    ``timed_out``, ``cached`` and ``storages``: per ``STORAGES`` alias a dict
    with ``alias``, ``ours``, ``backend`` and, for ours, ``bucket``,
    ``region``, ``endpoint``, ``location``, ``custom_domain``, ``url_base``,
    ``reachable``, ``reason`` (one line when unreachable) and ``fix``, ``objects``,
    ``bytes``, ``complete`` (False: counting stopped at the time bound),
    ``last_sync`` (the sync record or None), ``last_sync_error`` and
    ``credentials`` (source, masked key, ``expires_at`` epoch, ``renewable``,
    ``warnings``: see ``diagnostics.credentials``).
    Blocking, but never longer than about ``budget`` seconds: call it off
    the reactor thread.
    """
    with _lock:
        cached = _cache["value"]
        if cached and not refresh and time.monotonic() - _cache["at"] < ttl:
            return {**cached, "age": time.time() - cached["taken_at"], "cached": True}
        thread, box = _inflight["thread"], _inflight["box"]
        if thread is None or not thread.is_alive():
            box = {}

            def work(box=box):
                try:
                    box["value"] = _take(budget)
                except Exception as exc:  # never let a probe bug kill the caller
                    from contrib_awsstorage.s3.errors import scrub

                    box["error"] = scrub(f"{type(exc).__name__}: {exc}")

            thread = threading.Thread(target=work, name="awsstorage-snapshot", daemon=True)
            _inflight["thread"], _inflight["box"] = thread, box
            thread.start()
    thread.join(budget)
    if "value" in box:
        value = box["value"]
    elif "error" in box:
        value = _timed_out(budget)
        for entry in value["storages"]:
            if entry.get("ours"):
                entry["reason"] = f"status probe failed: {box['error']}"
        value["timed_out"] = False
    else:
        value = _timed_out(budget)
    with _lock:
        if "value" in box:
            _cache["at"], _cache["value"] = time.monotonic(), value
    return {**value, "age": time.time() - value["taken_at"], "cached": False}


def clear_cache() -> None:
    """Forget the cached snapshot and any probe still running (tests;
    settings changed): the next call starts afresh."""
    with _lock:
        _cache["at"] = _cache["value"] = None
        _inflight["thread"] = _inflight["box"] = None
