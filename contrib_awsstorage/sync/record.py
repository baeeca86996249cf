"""The last sync's record, kept in the bucket next to the files it describes.

``s3_check``, system checks and the in-game ``@awsstatus`` run in other
processes than the sync (the launcher runs ``collectstatic``, the server
runs the game), so the record lives where all of them can read it: a small
JSON object under the storage's location prefix, in the engine's own
state folder (``.contrib_awsstorage/``), which sync and ``--delete`` never
touch.

Record keys (all present, but ``timings``: older records lack it):
``version``, ``command``, ``source``, ``started_at``/``finished_at`` (ISO
8601 UTC), ``duration_seconds``, ``ok``, ``uploaded``, ``unchanged``, ``deleted``, ``failed``, ``bytes``,
``requests``, ``failures`` (up to 20 ``{"name", "error"}``), ``host``,
``invalidation`` (the CloudFront invalidation, ``{"id", "paths", "status"}``
or ``None``; ``failed``/``pending`` ones are sent again by the next run),
``timings`` (seconds per phase, ``sync/timings.py``; the record's own write
is not in it). A run with nothing to do leaves the record as it is.
"""

from __future__ import annotations

import json

from ..s3.errors import error_code
from ..s3.keys import STATE_DIR, prefix_of

__all__ = ["STATE_DIR", "LAST_RUN_NAME", "state_key", "read_last_run", "write_last_run"]

LAST_RUN_NAME = STATE_DIR + "last-sync.json"
RECORD_VERSION = 1


def state_key(storage, name: str) -> str:
    """Key of one of the engine's own state objects (not a user file)."""
    return prefix_of(storage) + name


def read_last_run(storage) -> dict | None:
    """The last non-dry-run sync's record for ``storage``, or ``None`` if none ran yet.

    Raises the translated ``S3StorageError`` (with its fix) when the bucket
    cannot be read, so callers can tell "never synced" from "cannot see".
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from ..s3.errors import translate_client_error

    key = state_key(storage, LAST_RUN_NAME)
    try:
        response = storage.connection.get_object(Bucket=storage.bucket_name, Key=key)
        body = response["Body"].read()
    except ClientError as exc:
        if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise translate_client_error(exc, "GetObject", storage.bucket_name, key) from None
    except BotoCoreError as exc:
        raise translate_client_error(exc, "GetObject", storage.bucket_name, key) from None
    try:
        record = json.loads(body)
    except ValueError:
        return None  # a damaged record is as good as none; the next sync rewrites it
    return record if isinstance(record, dict) else None


def write_last_run(storage, record: dict) -> None:
    """Store ``record`` (a JSON-able dict) as the last run of ``storage``.

    Private (no ACL is sent, so buckets with ACLs disabled accept it) and
    never cached, so a status check always sees the newest run.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from ..s3.errors import translate_client_error

    key = state_key(storage, LAST_RUN_NAME)
    body = json.dumps({"version": RECORD_VERSION, **record}, sort_keys=True).encode()
    try:
        storage.connection.put_object(
            Bucket=storage.bucket_name,
            Key=key,
            Body=body,
            ContentType="application/json",
            CacheControl="no-store",
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate_client_error(exc, "PutObject", storage.bucket_name, key) from None
