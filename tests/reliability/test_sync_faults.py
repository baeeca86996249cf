"""``s3_migrate_static`` (in its own process) against S3 through the fault
proxy: it finishes correctly despite faults, fails cleanly when writes
cannot succeed, and converges after being killed at a random point."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time

import pytest

from .trees import MB, ROOT, make_tree, open_uploads, remote_files, run_sync, sync_command, sync_env


def _summary(proc: subprocess.CompletedProcess) -> dict:
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON summary; stdout={proc.stdout!r} stderr={proc.stderr[-2000:]!r}"
    return json.loads(lines[-1])


def test_sync_under_ten_percent_faults_converges_exactly(tmp_path, fault_proxy, bucket, s3_client):
    files = make_tree(tmp_path, small=80, big=(6 * MB, 11 * MB), seed=10)
    # A stale remote file, to be deleted because the sync succeeds.
    s3_client.put_object(Bucket=bucket, Key="static/old/stale.css", Body=b"old")
    fault_proxy.set_faults(
        ["500", "503", "reset", "stall", "truncate"], rate=0.10, seed=5, stall_seconds=10
    )
    # Retries are botocore's only. One fault in ten is far worse than S3 ever is;
    # a user on such a network raises the attempts (AWS_S3_CLIENT_CONFIG), as
    # here: with 8 attempts a request fails for good once in 10**8, so the ~100
    # requests of this run finish (with the default 4, about one run in 100 would not).
    env = sync_env(bucket, fault_proxy.endpoint_url, tmp_path, RELIABILITY_ATTEMPTS=8)
    proc = run_sync(env, "--json", "--delete")
    stats = fault_proxy.stats()
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = _summary(proc)
    assert summary["failed"] == 0 and summary["uploaded"] == len(files)
    assert summary["deleted"] == 1
    # About 10 % of all requests were faulted (seeded: 7.5-13 % of any run of
    # 85 to 140 requests, so this holds whatever order the requests come in).
    assert 0.04 * stats["requests"] <= stats["faults_total"] <= 0.2 * stats["requests"], stats[
        "faults"
    ]
    remote = remote_files(s3_client, bucket)
    assert remote.keys() == files.keys()
    for name, data in files.items():
        assert remote[name] == data, name
    assert open_uploads(s3_client, bucket) == []
    # And it is really done: a resync uploads nothing.
    fault_proxy.clear_faults()
    again = _summary(run_sync(env, "--json"))
    assert again["uploaded"] == 0 and again["unchanged"] == len(files)


@pytest.mark.parametrize("kinds", [["500", "503"], ["reset"]], ids=["errors", "resets"])
def test_sync_with_every_write_failing_exits_1_and_changes_nothing(
    tmp_path, fault_proxy, bucket, s3_client, kinds
):
    files = make_tree(tmp_path, small=12, big=(6 * MB,), seed=11)
    before = {"static/old/stale.css": b"keep me", "static/d0/sub0/f0.css": b"older version"}
    for key, body in before.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    fault_proxy.set_faults(kinds, rate=1.0, writes_only=True, seed=5)
    env = sync_env(bucket, fault_proxy.endpoint_url, tmp_path, RELIABILITY_ATTEMPTS=1)
    proc = run_sync(env, "--delete")
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    # A clear list: one FAILED line per local file, naming it, no traceback.
    failed_lines = [line for line in proc.stderr.splitlines() if line.startswith("FAILED ")]
    named = {line.split()[1].rstrip(":") for line in failed_lines}
    assert set(files) <= named, sorted(set(files) - named)[:5]
    assert "Traceback" not in proc.stderr
    assert "nothing was deleted" in proc.stderr
    stats = fault_proxy.stats()
    assert (
        "DELETE" not in stats["by_method"] or stats["faults_total"] >= stats["by_method"]["DELETE"]
    )
    after = {}
    for obj in s3_client.list_objects_v2(Bucket=bucket, Prefix="static/").get("Contents", []):
        after[obj["Key"]] = s3_client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    assert after == before  # nothing deleted, nothing new, nothing half-written
    assert open_uploads(s3_client, bucket) == []


def test_sync_with_parts_failing_aborts_its_multipart_uploads(
    tmp_path, fault_proxy, bucket, s3_client
):
    """Creates and aborts get through, every PUT (parts, PutObject) fails:
    the uploads that were started are all aborted."""
    make_tree(tmp_path, small=3, big=(6 * MB, 7 * MB), seed=12)
    fault_proxy.set_faults("503", rate=1.0, methods=["PUT"])
    proc = run_sync(
        sync_env(bucket, fault_proxy.endpoint_url, tmp_path, RELIABILITY_ATTEMPTS=1), "--json"
    )
    assert proc.returncode == 1
    summary = _summary(proc)
    assert summary["failed"] >= 5 and summary["uploaded"] == 0
    stats = fault_proxy.stats()
    assert stats["by_method"].get("POST", 0) >= 2  # multipart uploads were started
    assert open_uploads(s3_client, bucket) == []
    assert remote_files(s3_client, bucket) == {}


def test_kill_9_at_a_random_point_then_rerun_converges(tmp_path, fault_proxy, bucket, s3_client):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    files = make_tree(tmp_path, small=150, big=(6 * MB, 12 * MB), seed=13)
    s3_client.put_object(Bucket=bucket, Key="static/old/stale.js", Body=b"stale")
    fault_proxy.delay = 0.01  # long enough a run for the kill to land mid-way
    env = sync_env(bucket, fault_proxy.endpoint_url, tmp_path, RELIABILITY_WORKERS=4)
    proc = subprocess.Popen(
        sync_command("--json", "--delete"),
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Wait until the sync is really writing, then kill it at a random point.
    deadline = time.monotonic() + 30
    while fault_proxy.stats()["by_method"].get("PUT", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, f"seed={seed}: the sync ended before the kill"
    puts_at_kill = fault_proxy.stats()["by_method"].get("PUT", 0)
    partial = remote_files(s3_client, bucket)
    # Whatever the killed run left is whole: each object equals its file.
    for name, data in partial.items():
        if name != "old/stale.js":
            assert data == files[name], f"seed={seed}: {name} is half-written"
    # A file changed while nobody was looking (same size, so only content tells).
    changed = "d1/sub1/f1" + next(
        p.suffix for p in tmp_path.joinpath("d1/sub1").iterdir() if p.stem == "f1"
    )
    files[changed] = bytes(b ^ 0xFF for b in files[changed])
    (tmp_path / changed).write_bytes(files[changed])
    fault_proxy.delay = 0.0
    rerun = run_sync(env, "--json", "--delete")
    assert rerun.returncode == 0, f"seed={seed}: {rerun.stderr[-3000:]}"
    remote = remote_files(s3_client, bucket)
    assert remote.keys() == files.keys(), f"seed={seed}"
    assert all(remote[name] == data for name, data in files.items()), f"seed={seed}"
    summary = _summary(rerun)
    # Files the killed run finished are not uploaded again (except the changed one).
    assert summary["uploaded"] <= len(files) - len(partial) + 1 + 1, (seed, puts_at_kill, summary)
