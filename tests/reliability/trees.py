"""Generated local trees and checks of what the bucket holds."""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from pathlib import Path

from contrib_awsstorage.sync.record import STATE_DIR

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
_EXTS = [".css", ".js", ".svg", ".png", ".woff2", ".txt", ".json"]


def make_tree(
    root: Path, small: int = 60, big: tuple[int, ...] = (6 * MB,), seed: int = 1
) -> dict[str, bytes]:
    """Write ``small`` small files and the ``big`` ones; return name -> bytes."""
    rng = random.Random(seed)
    files = {}
    for i in range(small):
        name = f"d{i % 7}/sub{i % 3}/f{i}{rng.choice(_EXTS)}"
        files[name] = rng.randbytes(rng.choice([0, 10, 300, 2_000, 20_000, 120_000]))
    for i, size in enumerate(big):
        files[f"big/asset{i}.bin"] = rng.randbytes(size)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def remote_files(s3_client, bucket: str, prefix: str = "static/") -> dict[str, bytes]:
    """Every user object under ``prefix`` (engine state excluded), downloaded."""
    found = {}
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            name = obj["Key"][len(prefix) :]
            if name.startswith(STATE_DIR):
                continue
            response = s3_client.get_object(Bucket=bucket, Key=obj["Key"])
            data = response["Body"].read()
            if (
                response.get("ContentEncoding") == "gzip"
            ):  # stored gzipped: compare the source bytes
                data = gzip.decompress(data)
            found[name] = data
    return found


def open_uploads(s3_client, bucket: str) -> list[dict]:
    return s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def sync_env(bucket: str, endpoint: str, source: Path, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        RELIABILITY_BUCKET=bucket,
        RELIABILITY_ENDPOINT=endpoint,
        RELIABILITY_STATIC_ROOT=str(source),
        DJANGO_SETTINGS_MODULE="tests.reliability.sync_settings",
        PYTHONPATH=str(ROOT),
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def sync_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "django", "s3_migrate_static", "--no-progress", *args]


def run_sync(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``s3_migrate_static`` in its own process; return the finished process."""
    return subprocess.run(
        sync_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
