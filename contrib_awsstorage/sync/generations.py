"""Old generations stay: ``--delete``/``--clear`` never break a cached page.

A page cached (in a browser, at the CDN edge) before a deploy still names
the hashed files of the manifest it was rendered with. So the hashed keys
any of the last ``AWS_S3_SYNC_KEEP_GENERATIONS`` (default 2) manifests
refer to, and hashed keys younger than ``AWS_S3_SYNC_KEEP_SECONDS``
(default one day), survive ``--delete``; only older ones are deleted.

The bucket only ever holds the newest ``staticfiles.json``, so the engine
keeps the history itself: ``.contrib_awsstorage/generations.json`` under the
prefix lists the keys of each recent manifest. It is read and written only
by runs that upload a new manifest (during their uploads) or delete: a run
that changes no manifest costs nothing here.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from ..s3.errors import error_code
from .invalidate import looks_hashed
from .record import STATE_DIR, state_key

__all__ = ["GENERATIONS_NAME", "keep_settings", "Retention"]

GENERATIONS_NAME = STATE_DIR + "generations.json"
DEFAULT_KEEP_GENERATIONS = 2
DEFAULT_KEEP_SECONDS = 24 * 3600
HISTORY_LENGTH = 5  # generations remembered (at least the number kept)
VERSION = 1


def keep_settings() -> tuple[int, float]:
    """``(generations, seconds)`` from the settings, validated (the fix names the setting)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    values = []
    for name, default, minimum in (
        ("AWS_S3_SYNC_KEEP_GENERATIONS", DEFAULT_KEEP_GENERATIONS, 1),
        ("AWS_S3_SYNC_KEEP_SECONDS", DEFAULT_KEEP_SECONDS, 0),
    ):
        value = getattr(settings, name, None)
        value = default if value is None else value
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < minimum:
            raise ImproperlyConfigured(
                f"{name} is {value!r}; it must be a number >= {minimum}. "
                f"Fix: set {name} to a larger number or remove it."
            )
        values.append(value)
    return int(values[0]), float(values[1])


def _now() -> datetime:
    return datetime.now(UTC)


def _manifest_keys(storage, data: bytes) -> set[str] | None:
    try:
        paths = json.loads(data).get("paths")
    except (ValueError, AttributeError):
        return None
    if not isinstance(paths, dict):
        return None
    return {storage.key_for(name) for name in paths.values() if isinstance(name, str)}


class Retention:
    """Decides which stale keys ``--delete`` may remove, and records each new manifest."""

    def __init__(self, storage, files: dict[str, str], last_names=()):
        self.storage = storage
        self.manifest_name = next((n for n in last_names if n in files), None)
        self.local = None  # (digest, keys) of the manifest being deployed
        if self.manifest_name:
            with open(files[self.manifest_name], "rb") as handle:
                data = handle.read()
            found = _manifest_keys(storage, data)
            if found is not None:
                self.local = (hashlib.md5(data, usedforsecurity=False).hexdigest(), found)
        self.history: list[dict] | None = None
        self.generations, self.seconds = keep_settings() if self.local else (0, 0.0)

    # -- the history in the bucket -------------------------------------------
    def _get(self, key: str) -> bytes | None:
        """The object's bytes, ``None`` if there is none; S3StorageError (with the
        fix) if it cannot be read: the history is never guessed, or a --delete
        could remove files a cached page still names."""
        from botocore.exceptions import BotoCoreError, ClientError

        from ..s3.errors import translate_client_error

        bucket = self.storage.bucket_name
        try:
            return self.storage.connection.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise translate_client_error(exc, "GetObject", bucket, key) from None
        except BotoCoreError as exc:
            raise translate_client_error(exc, "GetObject", bucket, key) from None

    def load(self, plan) -> list[dict]:
        """The history in the bucket (read once; S3StorageError when it cannot be
        read). The sync reads it during its uploads when a new manifest goes up
        (:meth:`wants_history`), and before them when it must decide deletes."""
        if self.history is None:
            history = []
            body = self._get(state_key(self.storage, GENERATIONS_NAME))
            try:
                document = json.loads(body) if body else {}
                if document.get("version") == VERSION:
                    history = [
                        g
                        for g in document.get("generations", ())
                        if isinstance(g, dict) and isinstance(g.get("keys"), list)
                    ]
            except (ValueError, AttributeError):
                history = []
            manifest_key = self.storage.key_for(self.manifest_name)
            if not history and manifest_key in plan.remote:
                # First run with a history: the manifest now live is the previous generation.
                old = self._get(manifest_key)
                keys = _manifest_keys(self.storage, old) if old else None
                if keys is not None:
                    history = [
                        {
                            "digest": hashlib.md5(old, usedforsecurity=False).hexdigest(),
                            "at": _now().isoformat(timespec="seconds"),
                            "keys": sorted(keys),
                        }
                    ]
            self.history = history
        return self.history

    def _kept_generations(self) -> list[dict]:
        generations = list(self.history or [])
        if not generations or generations[-1].get("digest") != self.local[0]:
            generations.append({"digest": self.local[0], "keys": sorted(self.local[1])})
        return generations[-self.generations :]

    # -- before the uploads ----------------------------------------------------
    def wants_history(self, plan) -> bool:
        """Whether this run uploads a new static manifest, whose generation
        :meth:`after` will record (so the history must be read first)."""
        return (
            self.local is not None
            and self.history is None
            and any(d.local.name == self.manifest_name for d in plan.uploads)
        )

    def before(self, plan, stale: list[str], delete: bool) -> tuple[list[str], list[str]]:
        """``(keys to delete, hashed keys kept for cached pages)`` out of ``stale``;
        reads the history only when it must decide deletes."""
        if not (self.local and delete and stale):
            return stale, []
        self.load(plan)
        known = set().union(*(set(g["keys"]) for g in self.history)) if self.history else set()
        referenced = set().union(*(set(g["keys"]) for g in self._kept_generations()))
        hashed = [k for k in stale if k in known or looks_hashed(k)]
        kept = {k for k in hashed if k in referenced}
        young = [k for k in hashed if k not in kept]
        if young and self.seconds > 0:
            kept |= self._younger_than_grace(set(young), plan.prefix)
        return [k for k in stale if k not in kept], sorted(kept)

    def _younger_than_grace(self, keys: set[str], prefix: str) -> set[str]:
        """The ``keys`` whose object was written less than the grace period ago
        (one more listing of the prefix, with LastModified; only when deleting)."""
        from botocore.exceptions import BotoCoreError, ClientError

        from ..s3.errors import translate_client_error

        cutoff = _now() - timedelta(seconds=self.seconds)
        young = set()
        bucket = self.storage.bucket_name
        paginator = self.storage.connection.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", ()):
                    if obj["Key"] in keys and obj["LastModified"].astimezone(UTC) > cutoff:
                        young.add(obj["Key"])
        except (ClientError, BotoCoreError) as exc:
            raise translate_client_error(exc, "ListObjectsV2", bucket) from None
        return young

    # -- after the uploads -------------------------------------------------------
    def after(self, report) -> None:
        """Append the deployed manifest to the history once it is in the bucket."""
        if (
            not self.local
            or self.history is None
            or not report.ok
            or self.manifest_name not in set(report.uploaded)
        ):
            return
        history = list(self.history)
        if not history or history[-1].get("digest") != self.local[0]:
            history.append(
                {
                    "digest": self.local[0],
                    "at": _now().isoformat(timespec="seconds"),
                    "keys": sorted(self.local[1]),
                }
            )
        history = history[-max(HISTORY_LENGTH, self.generations) :]
        key = state_key(self.storage, GENERATIONS_NAME)
        body = json.dumps(
            {"version": VERSION, "generations": history}, separators=(",", ":")
        ).encode()
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.storage.connection.put_object(
                Bucket=self.storage.bucket_name,
                Key=key,
                Body=body,
                ContentType="application/json",
                CacheControl="no-store",
            )
        except (ClientError, BotoCoreError) as exc:
            report.warnings.append(
                f"could not store the manifest history ({GENERATIONS_NAME}): "
                f"{type(exc).__name__}; the next --delete keeps less"
            )
        self.history = history
