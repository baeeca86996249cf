"""``s3_check`` end to end against the real S3 server: the happy path,
``--json``, ``--no-write`` and exit codes."""

from __future__ import annotations

from contrib_awsstorage.diagnostics.probes import ORDER
from contrib_awsstorage.sync.record import write_last_run
from tools.faultproxy import FaultProxy

from .conftest import finishes


def test_all_ok_on_a_working_public_bucket(run_check, public_bucket_both, s3_client):
    public_bucket = public_bucket_both
    run = run_check()
    assert run.code == 0, run.text
    for check in ORDER:
        for target in ("staticfiles", "default"):
            status = run.status(check, target)
            assert status in ("OK", "WARN", "SKIP"), (check, target, run.out)
    assert run.status("public", "staticfiles") == "OK"
    assert run.status("public", "default") == "SKIP"  # uploads use signed URLs
    assert run.status("write") == run.status("read") == run.status("delete") == "OK"
    assert "access key AKIA…MO00" in run.out
    # The probe objects are gone, nothing else was left in the bucket.
    assert s3_client.list_objects_v2(Bucket=public_bucket)["KeyCount"] == 0
    assert run.out.strip().splitlines()[-1].startswith("s3_check: ")


def test_checks_come_in_the_documented_order(run_check, public_bucket):
    run = run_check()
    seen = []
    for line in run.out.splitlines():
        if "[staticfiles]" in line and not line.startswith(" "):
            check = line[6:].split(" [", 1)[0]
            if not seen or seen[-1] != check:
                seen.append(check)
    assert seen == ["settings"] + list(ORDER)


def test_json_output(run_check, public_bucket):
    run = run_check("--json")
    assert run.code == 0
    data = run.json()
    assert set(data) == {"ok", "counts", "results"}
    assert data["ok"] is True and data["counts"]["FAIL"] == 0
    first = data["results"][0]
    assert set(first) == {"check", "status", "message", "fix", "target", "code"}
    assert {r["check"] for r in data["results"]} >= {"settings", *ORDER}


def test_json_failure_exit_code(run_check, storages, dead_endpoint):
    storages.AWS_S3_ENDPOINT_URL = dead_endpoint
    run = run_check("--json")
    assert run.code == 1
    data = run.json()  # stdout stays pure JSON even when failing
    assert data["ok"] is False and data["counts"]["FAIL"] >= 1


def test_no_write_sends_no_write_request(run_check, storages, s3_server, bucket, s3_client):
    s3_client.put_object(Bucket=bucket, Key="static/css/site.css", Body=b"body{}")
    s3_server.create_bucket(bucket, public_read=True)
    with FaultProxy(s3_server.endpoint_url) as proxy:
        storages.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
        storages.STATIC_URL = f"{proxy.endpoint_url}/{bucket}/static/"
        run = run_check("--no-write")
        methods = proxy.stats()["by_method"]
    assert run.code == 0, run.text
    assert set(methods) <= {"GET", "HEAD"}, methods
    assert run.status("write") == "SKIP" and "--no-write" in run.out
    assert run.lines("read") == [] and run.lines("delete") == []
    assert run.status("public") == "OK"  # an existing file was fetched instead


def test_no_write_with_empty_prefix_skips_public_check(run_check, public_bucket):
    run = run_check("--no-write")
    assert run.status("public") == "SKIP"
    assert "s3_migrate_static" in run.lines("public")[0][1]


def test_last_sync_ok_is_reported(run_check, public_bucket):
    from django.core.files.storage import storages as handler

    storage = handler.create_storage(
        {
            "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
            "OPTIONS": {"location": "static"},
        }
    )
    write_last_run(
        storage,
        {
            "finished_at": "2026-01-02T03:04:05Z",
            "ok": True,
            "uploaded": 7,
            "unchanged": 3,
            "deleted": 1,
            "failed": 0,
            "failures": [],
        },
    )
    run = run_check()
    ((status, line, _),) = run.lines("sync")
    assert status == "OK"
    assert "2026-01-02T03:04:05Z" in line and "7 uploaded" in line and "3 unchanged" in line


def test_dead_endpoint_fails_at_the_first_probe(run_check, storages, dead_endpoint):
    storages.AWS_S3_ENDPOINT_URL = dead_endpoint
    run = finishes(run_check)
    assert run.code == 1
    ((status, line, fix),) = run.lines("endpoint")
    assert status == "FAIL" and "connection refused" in line
    assert "AWS_S3_ENDPOINT_URL" in fix
    assert run.status("bucket") == "SKIP" and run.status("write") == "SKIP"
    assert "Traceback" not in run.text


def test_run_budget_bounds_the_whole_run(both_storages, s3_server):
    """``@awsstatus /check`` passes a budget: a slow store cannot hold it long."""
    from contrib_awsstorage import diagnostics

    with FaultProxy(s3_server.endpoint_url, delay=0.4) as proxy:
        both_storages.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
        results = finishes(diagnostics.run, write=False, budget=1.0)
    skipped = [r for r in results if "time budget ran out" in r.message]
    assert skipped and all(r.status == "SKIP" for r in skipped)
    media = [r for r in results if r.target == "default" and r.check != "settings"]
    assert media and all(r.status == "SKIP" for r in media)


def test_exit_status_of_the_real_process(public_bucket, s3_server, dead_endpoint):
    """What a shell (or CI) sees: 0 when nothing FAILs, 1 otherwise."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    def run(endpoint):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.diagnostics.cli_settings",
            "PYTHONPATH": str(root),
            "S3_CHECK_ENDPOINT": endpoint,
            "S3_CHECK_BUCKET": public_bucket,
        }
        return subprocess.run(
            [sys.executable, "-m", "django", "s3_check", "--no-write"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=root,
        )

    ok, dead = run(s3_server.endpoint_url), run(dead_endpoint)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "FAIL" not in ok.stdout and "Traceback" not in ok.stderr
    assert dead.returncode == 1
    assert "FAIL  endpoint [staticfiles]" in dead.stdout and "Traceback" not in dead.stderr
    assert "check(s) failed" in dead.stderr
