"""Secrets: every command and error path, run as a user would run it (own
process, DEBUG on, our logs at DEBUG), with a known secret key and session
token. Neither appears anywhere in stdout, stderr or the logs; the access
key id only masked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tools.faultproxy import FaultProxy

from .trees import ROOT, make_tree

ACCESS_KEY = "AKIAQSCANKNOWNKEY777"
SECRET_KEY = "ScanSecret/Key+Never+Print+0123456789abcdEFGH"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEScanSessionToken/NeverPrint+" + "Zm9vYmFy" * 12
SIGNED = re.compile(r"(?i)x-amz-(signature|credential|security-token)=")


def _windows(secret: str, size: int = 16):
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def assert_clean(label: str, text: str) -> None:
    for name, secret in (("secret key", SECRET_KEY), ("session token", SESSION_TOKEN)):
        leaked = [w for w in _windows(secret) if w in text]
        assert not leaked, f"{label}: part of the {name} is in the output: {leaked[0]!r}"
    assert ACCESS_KEY not in text, f"{label}: the access key id is shown unmasked"
    assert not SIGNED.search(text), f"{label}: a signed URL is in the output"


@pytest.fixture
def scan_env(s3_server, bucket, s3_client, tmp_path):
    s3_server.create_bucket(bucket, public_read=True)
    policy = json.loads(s3_client.get_bucket_policy(Bucket=bucket)["Policy"])
    policy["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/media/denied/*",
        }
    )
    s3_client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    make_tree(tmp_path, small=10, big=(), seed=3)
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="tests.reliability.secrets_settings",
        RELIABILITY_BUCKET=bucket,
        RELIABILITY_ENDPOINT=s3_server.endpoint_url,
        RELIABILITY_STATIC_ROOT=str(tmp_path),
        SCAN_ACCESS_KEY=ACCESS_KEY,
        SCAN_SECRET_KEY=SECRET_KEY,
        SCAN_SESSION_TOKEN=SESSION_TOKEN,
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)
    return env


def run(env: dict, *args: str, **extra) -> subprocess.CompletedProcess:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, *args],
        env=dict(env, **extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    proc.seconds = time.monotonic() - started
    return proc


def scan(env: dict, full: bool) -> dict:
    """Run every path (``full``: also the slower variants); label -> process.
    Read-only runs go in parallel; the syncs one after another."""
    django = ("-m", "django")
    parallel = {
        "error paths and @awsstatus": (("-m", "tests.reliability.secrets_probe"), {}),
        "s3_check pass": ((*django, "s3_check"), {}),
        "s3_check fail": ((*django, "s3_check"), {"RELIABILITY_BUCKET": "no-such-bucket-x"}),
        "system checks": ((*django, "check"), {}),
    }
    if full:
        parallel["s3_check --json"] = ((*django, "s3_check", "--json"), {})
        parallel["s3_check dead endpoint"] = (
            (*django, "s3_check"),
            {"RELIABILITY_ENDPOINT": "http://127.0.0.1:9"},
        )
    with ThreadPoolExecutor(len(parallel)) as pool:
        futures = {
            label: pool.submit(run, env, *args, **extra)
            for label, (args, extra) in parallel.items()
        }
        runs = {label: future.result() for label, future in futures.items()}
    runs["sync pass"] = run(env, *django, "s3_migrate_static", "--no-progress", "-v", "2")
    with FaultProxy(env["RELIABILITY_ENDPOINT"]) as proxy:
        proxy.set_faults(["500", "reset"], rate=1.0, writes_only=True)
        runs["sync fail"] = run(
            env,
            *django,
            "s3_migrate_static",
            "--no-progress",
            "--force",
            RELIABILITY_ENDPOINT=proxy.endpoint_url,
        )
    if full:
        runs["sync --json"] = run(env, *django, "s3_migrate_static", "--json", "--force")
        runs["collectstatic"] = run(env, *django, "collectstatic", "--noinput", "-v", "2")
    return runs


def check_scan(runs: dict) -> None:
    probe = runs["error paths and @awsstatus"]
    assert probe.returncode == 0, probe.stderr[-3000:]
    for marker in ("== @awsstatus/check/write", "error: ", "AWS storage status"):
        assert marker in probe.stdout, marker  # the paths really ran
    assert runs["s3_check pass"].returncode == 0, runs["s3_check pass"].stdout[-3000:]
    assert runs["s3_check fail"].returncode == 1
    assert runs["sync pass"].returncode == 0, runs["sync pass"].stderr[-3000:]
    assert runs["sync fail"].returncode == 1
    assert "AKIA…Y777" in runs["s3_check pass"].stdout  # masked, still recognisable
    for label, proc in runs.items():
        assert_clean(f"{label} (stdout)", proc.stdout)
        assert_clean(f"{label} (stderr)", proc.stderr)


@pytest.mark.evennia  # the @awsstatus paths
def test_no_secret_in_any_command_or_error_path(scan_env):
    check_scan(scan(scan_env, full=False))


@pytest.mark.soak
@pytest.mark.evennia
def test_no_secret_in_any_command_or_error_path_full(scan_env):
    runs = scan(scan_env, full=True)
    check_scan(runs)
    assert runs["collectstatic"].returncode == 0, runs["collectstatic"].stderr[-3000:]
