"""Every FAIL of ``s3_check``, produced against the real S3 server (or a
real HTTP server / a bad configuration), with its fix text."""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.storage import storages as handler

from contrib_awsstorage.sync.record import write_last_run
from tools.faultproxy import FaultProxy

from .conftest import NEVER_ANSWERS, finishes


def _deny(s3_client, bucket, action, resource_suffix="/*"):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": action,
                "Resource": f"arn:aws:s3:::{bucket}{resource_suffix}",
            }
        ],
    }
    s3_client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def _keys(s3_client, bucket):
    return [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_missing_bucket(run_check, storages):
    storages.AWS_STORAGE_BUCKET_NAME = "no-such-bucket-for-s3-check"
    run = run_check()
    assert run.code == 1
    ((status, line, fix),) = run.lines("bucket")
    assert status == "FAIL" and "does not exist" in line
    assert "AWS_STORAGE_BUCKET_NAME" in fix
    assert "run 'evennia s3_setup --apply' (or 'manage.py s3_setup --apply')" in fix
    assert run.status("list") == run.status("write") == "SKIP"


def test_bucket_in_another_region(run_check, storages, s3_server):
    s3_server.create_bucket("s3-check-eu-bucket", region="eu-west-1")
    storages.AWS_STORAGE_BUCKET_NAME = "s3-check-eu-bucket"
    run = run_check("--no-write")
    assert run.code == 1
    ((status, line, fix),) = run.lines("bucket")
    assert status == "FAIL" and "'eu-west-1'" in line and "'us-east-1'" in line
    assert fix == "fix: set AWS_S3_REGION_NAME = 'eu-west-1'."


def test_put_denied(run_check, storages, bucket, s3_client):
    _deny(s3_client, bucket, "s3:PutObject")
    run = run_check()
    assert run.code == 1
    ((status, line, fix),) = run.lines("write")
    assert status == "FAIL" and "PutObject" in line and "denied" in line
    assert "s3:PutObject" in fix
    assert run.status("read") == "SKIP"
    assert _keys(s3_client, bucket) == []


def test_get_denied_still_removes_the_probe_object(run_check, storages, bucket, s3_client):
    _deny(s3_client, bucket, "s3:GetObject")
    run = run_check()
    assert run.code == 1
    ((status, line, fix),) = run.lines("read")
    assert status == "FAIL" and "GetObject" in line
    assert "s3:GetObject" in fix
    assert run.status("write") == "OK" and run.status("delete") == "OK"
    assert _keys(s3_client, bucket) == []


def test_delete_denied_says_what_was_left_behind(run_check, storages, bucket, s3_client):
    _deny(s3_client, bucket, "s3:DeleteObject")
    run = run_check()
    assert run.code == 1
    ((status, line, fix),) = run.lines("delete")
    assert status == "FAIL" and "left behind" in line
    assert "s3:DeleteObject" in fix
    (left,) = _keys(s3_client, bucket)
    assert left.startswith("static/.contrib_awsstorage/s3-check-") and left in line


def test_list_failing(run_check, storages, s3_server):
    with FaultProxy(s3_server.endpoint_url) as proxy:
        proxy.set_faults("500", rate=1.0, match="list-type=2")
        storages.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
        run = run_check("--no-write")
    assert run.code == 1
    ((status, line, fix),) = run.lines("list")
    assert status == "FAIL" and "ListObjectsV2" in line
    assert fix.startswith("fix: ")


def test_acl_with_bucket_owner_enforced(run_check, storages, bucket, s3_client):
    s3_client.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    storages.AWS_DEFAULT_ACL = "public-read"
    run = run_check("--no-write")
    assert run.code == 1
    ((status, line, fix),) = run.lines("acl")
    assert status == "FAIL" and "BucketOwnerEnforced" in line and "'public-read'" in line
    assert "set AWS_DEFAULT_ACL = None" in fix and "'evennia s3_setup --apply'" in fix


def test_acl_ok_when_no_acl_is_sent(run_check, storages, bucket, s3_client):
    s3_client.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    run = run_check("--no-write")
    assert run.status("acl") == "OK"


def test_private_bucket_fails_anonymous_get(run_check, storages, bucket):
    run = run_check()
    assert run.code == 1
    ((status, line, fix),) = run.lines("public")
    assert status == "FAIL" and "HTTP 403" in line
    assert f"arn:aws:s3:::{bucket}/static/*" in fix and "s3:GetObject" in fix
    assert "run 'evennia s3_setup --apply' (or 'manage.py s3_setup --apply')" in fix


def test_dead_custom_domain_fails_anonymous_get(run_check, public_bucket, dead_endpoint):
    domain = dead_endpoint.split("//", 1)[1]
    with_domain = {"location": "static", "custom_domain": domain, "url_protocol": "http:"}
    from django.conf import settings

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {**settings.STORAGES["staticfiles"], "OPTIONS": with_domain},
    }
    settings.STATIC_URL = f"http://{domain}/"
    run = run_check()
    ((status, line, fix),) = run.lines("public")
    assert status == "FAIL" and "connection refused" in line
    assert "AWS_S3_CUSTOM_DOMAIN" in fix


def test_acl_unverifiable_with_an_acl_set_warns(run_check, storages, s3_server):
    storages.AWS_DEFAULT_ACL = "public-read"
    with FaultProxy(s3_server.endpoint_url) as proxy:
        proxy.set_faults("500", rate=1.0, match="ownershipControls")
        storages.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
        run = run_check("--no-write")
    ((status, line, fix),) = run.lines("acl")
    assert status == "WARN" and "could not read" in line
    assert "AWS_DEFAULT_ACL = None" in fix


class _SkewedClock(BaseHTTPRequestHandler):
    """Answers everything 404 with a Date header ``offset`` seconds in the past."""

    offset = 3600

    def _answer(self):
        self.send_response_only(404)
        self.send_header("Date", email.utils.formatdate(time.time() - self.offset, usegmt=True))
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def skewed_endpoint(request):
    offset = getattr(request, "param", 3600)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Skewed", (_SkewedClock,), {"offset": offset})
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_clock_skew(run_check, storages, skewed_endpoint):
    storages.AWS_S3_ENDPOINT_URL = skewed_endpoint
    run = run_check("--no-write")
    assert run.code == 1
    ((status, line, fix),) = run.lines("clock")
    assert status == "FAIL"
    seconds = int(re.search(r"local clock is (\d+) s ahead", line).group(1))
    assert 3590 <= seconds <= 3610
    assert "RequestTimeTooSkewed" in line and "NTP" in fix


@pytest.mark.parametrize("skewed_endpoint", [120], indirect=True)
def test_small_clock_skew_warns(run_check, storages, skewed_endpoint):
    storages.AWS_S3_ENDPOINT_URL = skewed_endpoint
    run = run_check("--no-write")
    ((status, line, fix),) = run.lines("clock")
    assert status == "WARN" and "signed URLs" in line and "NTP" in fix


def test_stalled_endpoint_is_bounded(run_check, storages, s3_server):
    """An endpoint that never answers: the check returns its timeout result."""
    with FaultProxy(s3_server.endpoint_url) as proxy:
        proxy.set_faults("stall", rate=1.0, stall_seconds=NEVER_ANSWERS)
        storages.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
        run = finishes(run_check, "--no-write")
    assert run.code == 1
    ((status, line, _),) = run.lines("endpoint")
    assert status == "FAIL" and "timed out" in line


def test_no_credentials(run_check, storages, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
        delattr(storages, name)
    run = run_check("--no-write")
    assert run.code == 1
    ((status, line, fix),) = run.lines("credentials")
    assert status == "FAIL" and "no AWS credentials found" in line
    assert "AWS_ACCESS_KEY_ID" in fix and "AWS_SECRET_ACCESS_KEY" in fix
    assert run.status("bucket") == "SKIP"


def test_access_key_without_secret(run_check, storages, monkeypatch):
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    delattr(storages, "AWS_SECRET_ACCESS_KEY")
    run = run_check("--no-write")
    ((status, line, fix),) = run.lines("credentials")
    assert status == "FAIL" and "no secret key" in line
    assert "AWS_SECRET_ACCESS_KEY" in fix


def test_last_sync_with_failures(run_check, public_bucket):
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
            "ok": False,
            "uploaded": 5,
            "unchanged": 0,
            "deleted": 0,
            "failed": 2,
            "failures": [{"name": "css/site.css", "error": "SlowDown"}],
        },
    )
    run = run_check("--no-write")
    assert run.code == 1
    ((status, line, fix),) = run.lines("sync")
    assert status == "FAIL" and "2 failed" in line and "css/site.css" in line
    assert "s3_migrate_static" in fix


def test_never_synced_static_is_a_note_not_a_warning(run_check, public_bucket):
    # a new bucket (right after s3_setup, say) has nothing wrong with it
    run = run_check("--no-write")
    ((status, line, fix),) = run.lines("sync")
    assert status == "OK" and "no sync recorded" in line and fix == ""
    assert "collectstatic" in line
