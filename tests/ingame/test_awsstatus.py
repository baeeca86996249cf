"""``@awsstatus`` through Evennia's command test harness, against real S3.

The storages point at the session's moto server over HTTP; the web root
is a real ``DjangoWebRoot`` on a real ``LockableThreadPool``.
"""

from __future__ import annotations

import json
import re
import socket
from unittest import mock

import pytest
from evennia.utils.test_resources import EvenniaCommandTest

from contrib_awsstorage import awsstatus, diagnostics, webserver
from contrib_awsstorage.awsstatus import CmdAwsStatus
from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS

pytestmark = pytest.mark.evennia

SECRET = DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]


def _storages(endpoint: str, bucket: str) -> dict:
    common = {
        "bucket_name": bucket,
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "addressing_style": "path",
        "access_key": DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "secret_key": SECRET,
    }
    return {
        "default": {
            "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage",
            "OPTIONS": {**common, "location": "media"},
        },
        "staticfiles": {
            "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
            "OPTIONS": {**common, "location": "static"},
        },
    }


def flat(text: str) -> str:
    """The output with table wrapping undone (values wrap at the client width)."""
    return " ".join(text.split())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestAwsStatus(EvenniaCommandTest):
    @pytest.fixture(autouse=True)
    def _s3(self, s3_server, s3_client, bucket):
        self.s3_server, self.s3_client, self.bucket = s3_server, s3_client, bucket
        diagnostics.clear_cache()
        webserver.set_active_web_root(None)
        yield
        diagnostics.clear_cache()
        webserver.set_active_web_root(None)

    def status(self, args: str = "", **settings) -> str:
        storages = settings.pop("STORAGES", _storages(self.s3_server.endpoint_url, self.bucket))
        with self.settings(STORAGES=storages, **settings):
            return self.call(CmdAwsStatus(), args, caller=self.char1)

    def test_bucket_ok_shows_storages_counts_and_no_secret(self):
        for i in range(3):
            self.s3_client.put_object(
                Bucket=self.bucket, Key=f"static/css/f{i}.css", Body=b"x" * 100
            )
        self.s3_client.put_object(Bucket=self.bucket, Key="media/up.png", Body=b"y" * 10)
        out = self.status()
        assert "Storage 'staticfiles'" in out and "Storage 'default'" in out
        assert self.bucket in out
        assert "reachable" in out and "UNREACHABLE" not in out
        static_part = out.split("Storage 'staticfiles'")[1].split("Storage 'default'")[0]
        assert "objects" in static_part and " 3" in static_part, static_part
        assert "300 B" in static_part
        assert self.s3_server.endpoint_url in out
        assert SECRET not in out

    def test_bucket_down_answers_with_a_reason(self):
        dead = f"http://127.0.0.1:{_closed_port()}"
        out = self.status(STORAGES=_storages(dead, self.bucket))
        assert "UNREACHABLE" in out
        assert "127.0.0.1" in out  # the reason names the endpoint it could not reach
        assert SECRET not in out

    def test_a_bucket_that_never_answers_is_cut_at_the_budget(self):
        """A listener that accepts and never answers: the command gives its
        timed-out answer (the budget, shortened here, is what ends the wait)."""
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)  # connections complete, nothing is ever read or sent
            endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
            with mock.patch.object(awsstatus, "SNAPSHOT_BUDGET", 1.0):
                out = self.status(STORAGES=_storages(endpoint, self.bucket))
        assert "S3 did not answer in time" in out
        assert "did not answer within 1 s" in flat(out)
        assert SECRET not in out

    def test_access_denied_is_reported_as_such(self):
        # moto enforces bucket-policy denials on object reads (not on listing):
        # the sync record cannot be read, and the command says why.
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{self.bucket}/*",
                }
            ],
        }
        self.s3_client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))
        out = flat(self.status())
        # both storages: the bucket lists fine, the sync record read is denied
        assert out.count("reachable") >= 2 and "UNREACHABLE" not in out
        assert re.search(r"last sync [^|]*denied.*last sync [^|]*denied", out, re.I | re.S), out
        assert "GetObject" in out
        assert SECRET not in out

    def test_storage_that_is_not_ours_is_named(self):
        out = self.status(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": _storages(self.s3_server.endpoint_url, self.bucket)["staticfiles"],
            }
        )
        assert "FileSystemStorage (not ours" in flat(out)

    def test_no_web_root_says_the_web_server_is_not_here(self):
        out = self.status()
        assert "Web server" in out
        assert "not running in this process" in out

    def test_web_root_counters_are_shown(self):
        pool = webserver.LockableThreadPool(minthreads=1, maxthreads=7, name="awsstatus-test")
        root = webserver.DjangoWebRoot(pool)
        webserver.set_active_web_root(root)
        out = self.status()
        assert "pending requests" in out
        assert "/ 7 max" in out
        assert "serving" in out
        pool.lock()
        out = self.status()
        assert "locked" in out

    def test_cached_until_refresh(self):
        first = self.status()
        assert "old; /refresh" not in first
        self.s3_client.put_object(Bucket=self.bucket, Key="static/new.js", Body=b"1")
        cached = self.status()
        assert "old; /refresh" in cached
        refreshed = self.status("/refresh")
        assert "old; /refresh" not in refreshed
        static_part = refreshed.split("Storage 'staticfiles'")[1].split("Storage 'default'")[0]
        assert "1 B" in static_part

    def test_check_switch_runs_the_diagnostics_read_only(self):
        out = self.status("/check")
        assert "Diagnostics (as evennia s3_check)" in out
        assert "OK" in out and "bucket" in out
        assert "write" in out and "SKIP" in out  # no probe object without /write
        assert SECRET not in out
        keys = [
            o["Key"] for o in self.s3_client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        ]
        assert keys == []

    def test_check_write_switch_writes_and_removes_a_probe(self):
        out = self.status("/check/write")
        write_lines = [
            l for l in out.splitlines() if l.startswith(("OK", "FAIL")) and " write" in l
        ]
        assert write_lines and all(l.startswith("OK") for l in write_lines), out
        keys = [
            o["Key"] for o in self.s3_client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        ]
        assert keys == []

    def test_write_alone_explains_itself(self):
        assert "Use /write together with /check" in self.status("/write")

    def test_tables_fit_the_client_width(self):
        out = self.status()
        assert max(len(line) for line in out.splitlines()) <= 80

    def test_permission_lock(self):
        cmd = CmdAwsStatus()
        assert not self.account2.check_permstring("Admin")
        assert not cmd.access(self.char2, "cmd")
        self.account2.permissions.add("Admin")
        assert cmd.access(self.char2, "cmd")
        assert cmd.access(self.char1, "cmd")  # char1's account is the Developer superuser
        assert cmd.help_category.lower() == "system"
        assert cmd.key == "@awsstatus" and "awsstatus" in cmd.aliases

    def test_last_invalidation_is_shown_with_its_state(self):
        """The last CloudFront invalidation and its state, from the last-run record."""
        from contrib_awsstorage.aws_s3_cdn import S3StaticStorage
        from contrib_awsstorage.sync.record import write_last_run

        storage = S3StaticStorage(
            **_storages(self.s3_server.endpoint_url, self.bucket)["staticfiles"]["OPTIONS"]
        )
        write_last_run(
            storage,
            {
                "command": "collectstatic",
                "uploaded": 1,
                "unchanged": 3,
                "deleted": 0,
                "failed": 0,
                "ok": True,
                "finished_at": "2026-01-01T00:00:00+00:00",
                "invalidation": {
                    "id": None,
                    "paths": ["/static/css/site.css"],
                    "status": "failed",
                    "error": "cannot reach CloudFront",
                },
            },
        )
        out = flat(self.status())
        assert "CDN invalidation" in out
        assert "failed, 1 path(s): /static/css/site.css (the next sync sends them again)" in out
