"""After a sync: invalidate, at the CloudFront edge, what changed.

Only plain-named keys whose bytes changed, or that were deleted, are
invalidated. Hashed (manifest) names never are: a new version always gets a
new name, so the edge can keep the old one as long as it likes. The paths
are collapsed to stay inside CloudFront's limits and its free tier:

- at most 3,000 individual paths, or 15 wildcard paths, may be in progress
  per distribution (``TooManyInvalidationsInProgress`` beyond that);
- each path of a batch is billed as one path, a wildcard (``/css/*``) too,
  however many files it matches; the first 1,000 paths a month are free,
  then about USD 0.005 a path.

So when ``FOLDER_WILDCARD_MIN`` or more files of one folder change, the
folder's wildcard is sent instead of its files; more than 15 wildcards are
merged into their parents' wildcards; more than 3,000 paths become one
wildcard for the storage's whole prefix. Paths are the URL paths of
``url()`` on the custom domain (RFC 3986 percent-encoded, as the edge
compares them).

A failed invalidation never undoes the upload: its paths are kept in the
last-run record as pending and the next sync sends them again.
"""

from __future__ import annotations

import posixpath
import time
import uuid
from urllib.parse import quote, urlsplit

from ..media_types import looks_hashed

__all__ = [
    "MAX_PATHS",
    "MAX_WILDCARDS",
    "FOLDER_WILDCARD_MIN",
    "viewer_path",
    "root_path",
    "collapse",
    "changed_keys",
    "pending_in",
    "pending_paths",
    "run",
    "looks_hashed",
    "describe",
]

MAX_PATHS = 3000
MAX_WILDCARDS = 15
FOLDER_WILDCARD_MIN = 5
WAIT_SECONDS = 15 * 60
PENDING = ("failed", "pending")

# Django's hashed names: name.<12 hex of the MD5>.ext (HashedFilesMixin.hashed_name)


def _domain_path(storage) -> str:
    """The path part of custom_domain (``cdn.example.com/assets`` -> ``/assets``)."""
    domain = (getattr(storage, "custom_domain", None) or "").strip("/")
    path = urlsplit("//" + domain).path if domain else ""
    return path.rstrip("/")


def viewer_path(storage, key: str) -> str:
    """The CloudFront path of ``key``: what url() puts after the host.
    A literal '*' is escaped so it can never act as a wildcard."""
    return _domain_path(storage) + "/" + quote(key, safe="/~!()'$&+,;=:@").replace("*", "%2A")


def root_path(storage) -> str:
    """The CloudFront path of the storage's prefix (ends with '/')."""
    from ..s3.keys import prefix_of

    return viewer_path(storage, prefix_of(storage)).rstrip("/") + "/"


def _covered(path: str, wildcards) -> bool:
    return any(path != w and path.startswith(w[:-1]) for w in wildcards)


def collapse(
    paths,
    root: str = "/",
    *,
    folder_min: int = FOLDER_WILDCARD_MIN,
    max_paths: int = MAX_PATHS,
    max_wildcards: int = MAX_WILDCARDS,
) -> list[str]:
    """The fewest CloudFront paths that cover ``paths``, within the limits.

    ``paths`` may already hold wildcards (pending ones of an earlier run).
    Wildcards never reach above ``root`` (the storage's prefix).
    """
    root = root if root.endswith("/") else root + "/"
    wildcards = {p for p in paths if p.endswith("*")}
    singles = {p for p in paths if not p.endswith("*")}
    by_folder: dict[str, list[str]] = {}
    for path in singles:
        by_folder.setdefault(posixpath.dirname(path).rstrip("/") + "/", []).append(path)
    for folder, members in by_folder.items():
        if len(members) >= folder_min and folder.startswith(root):
            wildcards.add(folder + "*")
    wildcards = {w for w in wildcards if not _covered(w, wildcards)}
    while len(wildcards) > max_wildcards:
        # Merge the deepest wildcards that share a parent into the parent's wildcard.
        parents: dict[str, int] = {}
        for w in wildcards:
            folder = w[:-1]
            if folder == root or not folder.startswith(root):
                continue
            parent = posixpath.dirname(folder.rstrip("/")) + "/"
            parents[parent] = parents.get(parent, 0) + 1
        if not parents:
            return [root + "*"]
        best = max(parents, key=lambda p: (p.count("/"), parents[p]))
        wildcards.add(best + "*")
        wildcards = {w for w in wildcards if not _covered(w, wildcards)}
    singles = {p for p in singles if not _covered(p, wildcards)}
    if len(singles) > max_paths:
        return [root + "*"]
    return sorted(wildcards) + sorted(singles)


def changed_keys(plan, report, immutable_names=()) -> list[str]:
    """Keys this sync replaced with other bytes, re-tagged (new headers) or
    deleted, hashed names left out."""
    uploaded, immutable = set(report.uploaded), set(immutable_names)
    keys = []
    for decision in plan.uploads:
        name = decision.local.name
        if name not in uploaded or name in immutable or decision.key not in plan.remote:
            continue  # not sent, hashed, or new (nothing cached under that name yet)
        entry, remote = plan.state.get(decision.key), plan.remote[decision.key]
        if (
            entry is not None
            and (entry.etag, entry.size) == (remote.etag, remote.size)
            and entry.md5 == decision.md5
        ):
            continue  # re-sent (--force) with the same bytes
        keys.append(decision.key)
    retagged = set(report.metadata_updated)
    keys.extend(
        d.key
        for d in plan.retags
        if d.local.name in retagged and d.local.name not in immutable and not looks_hashed(d.key)
    )
    hashed_sync = bool(immutable)
    keys.extend(k for k in report.deleted if not (hashed_sync and looks_hashed(k)))
    return keys


def pending_in(record) -> list[str]:
    """Paths an earlier run could not invalidate, from its last-run record (a
    dict, or None when there is none or it could not be read)."""
    invalidation = record.get("invalidation") if isinstance(record, dict) else None
    if isinstance(invalidation, dict) and invalidation.get("status") in PENDING:
        return [p for p in invalidation.get("paths") or () if isinstance(p, str)]
    return []


def pending_paths(storage) -> list[str]:
    """Paths an earlier run could not invalidate (read from the last-run record)."""
    from .record import read_last_run

    try:
        record = read_last_run(storage)
    except Exception:  # noqa: BLE001 - an unreadable record: nothing known to retry
        return []
    return pending_in(record)


def _wait(client, dist_id: str, invalidation_id: str, timeout: float, sleep=time.sleep) -> str:
    """Poll GetInvalidation until it is Completed (2 s, then up to 20 s apart)."""
    from ..s3.cloudfront import normalise_status

    deadline, delay = time.monotonic() + timeout, 2.0
    while True:
        status = normalise_status(
            client.get_invalidation(DistributionId=dist_id, Id=invalidation_id)["Invalidation"][
                "Status"
            ]
        )
        if status == "Completed" or time.monotonic() + delay > deadline:
            return status
        sleep(delay)
        delay = min(delay * 2, 20.0)


def run(
    storage,
    keys,
    pending=(),
    *,
    send: bool = True,
    wait: bool = False,
    wait_seconds: float = WAIT_SECONDS,
    dry_run: bool = False,
    sync_ok: bool = True,
) -> dict | None:
    """Invalidate ``keys`` (and the ``pending`` paths of an earlier run).

    Returns the summary's ``invalidation``: ``None`` when there is nothing
    to invalidate, else ``{"id", "paths", "status"}`` (status: CloudFront's
    ``InProgress``/``Completed``, or ``failed`` (with ``error``), ``pending``
    (the sync itself failed: sent by the next run), ``skipped``
    (--no-invalidate) or ``dry-run``).
    """
    from ..s3.cloudfront import (
        CloudFrontError,
        cloudfront_client,
        distribution_id,
        normalise_status,
        translate_cloudfront_error,
    )

    dist_id = distribution_id(storage)
    if not dist_id:
        return None
    fresh = [viewer_path(storage, k) for k in keys]
    paths = collapse(list(pending) + fresh, root_path(storage))
    if not paths:
        return None
    if dry_run:
        return {"id": None, "paths": paths, "status": "dry-run"}
    if not sync_ok:
        return {"id": None, "paths": paths, "status": "pending"}
    if not send:
        if pending:  # an earlier failure stays due; this run's paths were declined
            return {
                "id": None,
                "paths": collapse(list(pending), root_path(storage)),
                "status": "pending",
            }
        return {"id": None, "paths": paths, "status": "skipped"}
    from botocore.exceptions import BotoCoreError, ClientError

    operation = "CreateInvalidation"
    try:
        client = cloudfront_client(storage)
        response = client.create_invalidation(
            DistributionId=dist_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": paths},
                "CallerReference": f"contrib_awsstorage-{uuid.uuid4().hex}",
            },
        )["Invalidation"]
        result = {
            "id": response["Id"],
            "paths": paths,
            "status": normalise_status(response["Status"]),
        }
        if wait:  # confirmed by GetInvalidation, whatever CreateInvalidation said
            operation = "GetInvalidation"
            result["status"] = _wait(client, dist_id, result["id"], wait_seconds)
        return result
    except (ClientError, BotoCoreError) as exc:
        error = translate_cloudfront_error(exc, operation, dist_id)
    except CloudFrontError as exc:  # pragma: no cover - defensive
        error = exc
    if operation == "GetInvalidation":  # sent; only the wait failed
        return {"id": result["id"], "paths": paths, "status": result["status"], "error": str(error)}
    return {"id": None, "paths": paths, "status": "failed", "error": str(error)}


def describe(invalidation) -> str:
    """One line for @awsstatus: the last invalidation and its state."""
    if not isinstance(invalidation, dict):
        return "none recorded"
    paths = invalidation.get("paths") or []
    line = f"{invalidation.get('id') or '-'} {invalidation.get('status')}, {len(paths)} path(s)"
    if paths:
        line += f": {', '.join(paths[:3])}{' ...' if len(paths) > 3 else ''}"
    if invalidation.get("status") in PENDING:
        line += " (the next sync sends them again)"
    return line
