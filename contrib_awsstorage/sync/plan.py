"""Plan a sync: what to upload, what is unchanged, what is stale.

Decisions are by content checksum, never by mtime (a fresh checkout or a
CI build touches every file without changing one byte). The remote side is
read with one paginated ListObjectsV2 of our prefix plus one GET of the
sync manifest: a small JSON object we keep in the bucket mapping each key
to the MD5 of its *source* bytes and the ETag/size S3 gave the object we
wrote. The manifest is trusted for a key only while the listing still shows
that ETag and size, so an object replaced behind our back is re-checked.
Without a trusted entry the plan compares the ETag with the one the upload
would produce (plain MD5, or AWS's multipart form), and only for gzipped or
multipart objects written by someone else falls back to one HEAD to read
the source checksum our storage keeps in the object metadata.

Each manifest entry also holds a fingerprint of the headers the settings
give the object (``s3.uploads.metadata_fingerprint``: Cache-Control,
Content-Type, Content-Disposition, Content-Encoding, ...). When the bytes
are the same but the fingerprint differs, the object is re-tagged in place
(CopyObject onto itself, ``RETAG``), with no upload. An object whose
fingerprint is not known (a manifest written before fingerprints existed, or
an object settled by its ETag or a HEAD) is re-tagged once: nothing proves
its headers match, and one CopyObject costs less than a wrong Cache-Control.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from ..s3.errors import error_code
from ..s3.keys import STATE_DIR
from ..s3.listing import list_page
from ..s3.objects import SOURCE_MD5_METADATA_KEY
from ..s3.transfer import expected_etag
from ..s3.uploads import gzips_body, metadata_fingerprint, upload_params
from .hashcache import md5_file

__all__ = [
    "LocalFile",
    "Remote",
    "StateEntry",
    "FileDecision",
    "Plan",
    "MANIFEST_NAME",
    "walk_tree",
    "manifest_hashed_names",
    "md5_file",
    "body_etag",
    "decide",
    "list_remote",
    "submit_listing",
    "gather_listing",
    "read_state",
    "state_document",
    "is_state_key",
    "object_fingerprint",
    "SOURCE_MD5_METADATA_KEY",
]

MANIFEST_NAME = STATE_DIR + "sync-manifest.json"
STATE_VERSION = 1

UPLOAD, UNCHANGED, VERIFY, RETAG = "upload", "unchanged", "verify", "retag"


@dataclass(frozen=True)
class LocalFile:
    """A file to sync: its storage name and where it is on disk."""

    name: str
    path: str
    size: int


@dataclass(frozen=True)
class Remote:
    """One object of the listing."""

    key: str
    size: int
    etag: str  # without quotes


@dataclass(frozen=True)
class StateEntry:
    """What we know we wrote for a key: the source checksum and S3's answer."""

    md5: str
    etag: str
    size: int
    meta: str = ""  # metadata fingerprint ("": written before fingerprints, or not known)


@dataclass
class FileDecision:
    local: LocalFile
    key: str
    md5: str
    action: str  # UPLOAD / UNCHANGED / RETAG / VERIFY (VERIFY: resolved by the planner)
    reason: str
    meta: str = ""  # the metadata fingerprint the settings give it now


@dataclass
class Plan:
    """What the upload, delete and state phases need; made from one listing, the sync
    manifest and, for objects another writer made, a HEAD each."""

    prefix: str
    uploads: list[FileDecision] = field(default_factory=list)
    unchanged: list[FileDecision] = field(default_factory=list)
    retags: list[FileDecision] = field(default_factory=list)  # same bytes, new headers
    deletes: list[str] = field(default_factory=list)  # keys
    remote: dict[str, Remote] = field(default_factory=dict)
    state: dict[str, StateEntry] = field(default_factory=dict)
    confirmed: dict[str, StateEntry] = field(default_factory=dict)  # new trusted entries
    remote_count: int = 0


# -- local side -----------------------------------------------------------
def walk_tree(root: str) -> dict[str, str]:
    """``{storage name: path}`` for every file under ``root`` (symlinks followed),
    ``/``-separated names, our state folder excluded."""
    root = os.path.abspath(root)
    found = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            name = os.path.relpath(path, root).replace(os.sep, "/")
            if not name.startswith(STATE_DIR) and os.path.isfile(path):
                found[name] = path
    return found


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


def body_etag(body: bytes, threshold: int, chunksize: int) -> str:
    """The ETag S3 gives ``body`` when the sync uploads it: MD5 below
    ``threshold`` bytes, else the multipart form ``md5-of-part-md5s-N`` with
    the part size s3transfer really uses (``s3.transfer.expected_etag``)."""
    return expected_etag(body, threshold, chunksize)


def object_fingerprint(storage, name: str, hashed: bool = False) -> str:
    """The metadata fingerprint the settings give storage name ``name`` now.
    Its first character says whether the body is gzipped (``z``) or not
    (``p``): a change there is new bytes, never a re-tag."""
    params = upload_params(storage, name, hashed=hashed)
    gzipped = gzips_body(storage, params)
    if gzipped:
        params["ContentEncoding"] = "gzip"
    return ("z" if gzipped else "p") + metadata_fingerprint(params)


def decide(
    md5: str,
    remote: Remote | None,
    entry: StateEntry | None,
    force: bool,
    meta: str | None = None,
) -> tuple[str, str]:
    """``(action, reason)`` for one file from what is known without a request
    (``meta``: the metadata fingerprint it should carry; None: not compared)."""
    if force:
        return UPLOAD, "forced"
    if remote is None:
        return UPLOAD, "new"
    if entry is not None and entry.etag == remote.etag and entry.size == remote.size:
        if entry.md5 != md5:
            return UPLOAD, "changed"
        if meta is None or entry.meta == meta:
            return UNCHANGED, "manifest"
        if not entry.meta:  # written before fingerprints: are its bytes what we would send?
            return VERIFY, "metadata not known"
        if entry.meta[0] != meta[0]:
            return UPLOAD, "encoding changed"  # gzip switched: other bytes
        return RETAG, "metadata changed"
    return VERIFY, "unknown remote object"


# -- remote side ----------------------------------------------------------
def is_state_key(key: str, prefix: str) -> bool:
    return key.startswith(prefix + STATE_DIR)


def list_remote(dest, expected=(), pool=None, page: int = 1000) -> dict[str, Remote]:
    """The listing of the destination's prefix (ListObjectsV2, 1 request per 1,000 keys).

    With the keys we ``expected`` and a thread ``pool``, a big prefix is
    listed as contiguous key ranges in parallel (each range starts after the
    last expected key of the one before), so its pages do not wait on each
    other; keys nobody expected are still found by the range they fall in.
    """
    if pool is None:
        return _list_range(dest, None, None, page)
    return gather_listing(submit_listing(dest, expected, pool, page))


def submit_listing(dest, expected, pool, page: int = 1000) -> list:
    """Start :func:`list_remote`'s requests on ``pool``; the futures go to
    :func:`gather_listing` (so the caller can work while they are on the wire)."""
    expected = sorted(k for k in expected if k.startswith(dest.prefix))
    count = len(expected)
    ranges = max(1, min(8, count // page + 1, count))
    if ranges < 2:
        return [pool.submit(_list_range, dest, None, None, page)]
    size = -(-count // ranges)
    bounds = [expected[i * count // ranges - 1] if i else None for i in range(ranges)] + [None]
    return [
        pool.submit(_list_range, dest, bounds[i], bounds[i + 1], min(page, size + 64))
        for i in range(ranges)
    ]


def gather_listing(futures) -> dict[str, Remote]:
    found = {}
    for future in futures:
        found.update(future.result())
    return found


def _list_range(dest, after, last, page) -> dict[str, Remote]:
    """Keys ``after < key <= last`` under the prefix (``None``: unbounded)."""
    params = {"Bucket": dest.bucket, "Prefix": dest.prefix, "MaxKeys": page}
    if after is not None:
        params["StartAfter"] = after
    found = {}
    while True:
        entries, response = list_page(dest.client, **params)
        for key, size, etag in entries:
            if last is not None and key > last:
                return found
            found[key] = Remote(key, size, etag)
        if not response.get("IsTruncated"):
            return found
        params["ContinuationToken"] = response["NextContinuationToken"]
        params.pop("StartAfter", None)


def read_state(dest) -> dict[str, StateEntry]:
    """The sync manifest (empty if missing, cut short or unreadable as JSON:
    every key is then verified against its ETag instead, which is always correct)."""
    from botocore.exceptions import ClientError, IncompleteReadError, ResponseStreamingError

    try:
        response = dest.client.get_object(Bucket=dest.bucket, Key=dest.prefix + MANIFEST_NAME)
    except ClientError as exc:
        if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
            return {}
        raise
    try:
        # The body is read after botocore's retries are over: a connection
        # lost here is not retried, and the manifest is only a shortcut.
        body = response["Body"].read()
    except (IncompleteReadError, ResponseStreamingError):
        return {}
    try:
        return state_entries(json.loads(body))
    except ValueError:
        return {}  # damaged: every key is verified against its ETag instead


def state_entries(document) -> dict[str, StateEntry]:
    """The entries of a parsed sync manifest; empty when it is of another
    version or damaged (every key is then verified against its ETag instead)."""
    try:
        if document.get("version") != STATE_VERSION:
            return {}
        return {
            k: StateEntry(str(v[0]), str(v[1]), int(v[2]), str(v[3]) if len(v) > 3 else "")
            for k, v in document["entries"].items()
        }
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return {}


def state_document(entries: dict[str, StateEntry]) -> bytes:
    data = {
        "version": STATE_VERSION,
        "entries": {k: [e.md5, e.etag, e.size, e.meta] for k, e in sorted(entries.items())},
    }
    return json.dumps(data, separators=(",", ":")).encode()


def first_pass(
    dest,
    files: dict[str, str],
    remote: dict[str, Remote],
    state: dict[str, StateEntry],
    *,
    force: bool,
    md5s: dict[str, str] | None = None,
    keys: dict[str, str] | None = None,
    hashed: frozenset[str] = frozenset(),
) -> Plan:
    """Classify every local file with no request at all (``md5s`` and ``keys``:
    checksums and S3 keys already computed, by name; ``hashed``: names a static
    manifest lists, which get the immutable Cache-Control)."""
    plan = Plan(prefix=dest.prefix, remote=remote, state=state)
    md5s, keys = md5s or {}, keys or {}
    for name, path in sorted(files.items()):
        key = keys.get(name) or dest.storage.key_for(name)
        local = LocalFile(name, path, os.path.getsize(path))
        md5 = md5s.get(name) or md5_file(path)
        meta = object_fingerprint(dest.storage, name, name in hashed)
        action, reason = decide(md5, remote.get(key), state.get(key), force, meta)
        decision = FileDecision(local, key, md5, action, reason, meta)
        if action == UNCHANGED:
            plan.unchanged.append(decision)
            plan.confirmed[key] = state[key]
        elif action == RETAG:
            plan.retags.append(decision)
        elif action == UPLOAD:
            plan.uploads.append(decision)
        else:
            plan.uploads.append(decision)  # resolved by resolve_unknown()
    return plan


def resolve_unknown(dest, plan: Plan) -> list[FileDecision]:
    """Settle VERIFY decisions by the ETag the upload would produce (no request).

    Returns the decisions that still need a HEAD: gzipped or multipart
    objects whose ETag another writer produced differently.
    """
    need_head = []
    for decision in plan.uploads:
        if decision.action != VERIFY:
            continue
        remote = plan.remote[decision.key]
        with open(decision.local.path, "rb") as handle:
            body, params = dest.storage.prepare_upload(decision.local.name, handle.read())
        if (
            len(body) == remote.size
            and body_etag(body, dest.threshold, dest.chunksize) == remote.etag
        ):
            settle_same_bytes(plan, decision)
        elif "-" in remote.etag or params.get("ContentEncoding"):
            need_head.append(decision)
        else:
            decision.action, decision.reason = UPLOAD, "changed"
    plan.uploads = [d for d in plan.uploads if d.action == UPLOAD or d.action == VERIFY]
    return need_head


def settle_same_bytes(plan: Plan, decision: FileDecision) -> None:
    """The object holds the file's bytes, but no fingerprint says which headers
    it carries: re-tag it once (see the module docstring)."""
    decision.action, decision.reason = RETAG, "metadata not known"
    plan.retags.append(decision)


def stale_keys(plan: Plan, local_keys: set[str]) -> list[str]:
    """Keys under our prefix that no local file maps to (our state excluded)."""
    return sorted(
        k
        for k in plan.remote
        if k.startswith(plan.prefix) and k not in local_keys and not is_state_key(k, plan.prefix)
    )
