"""The boto3-free no-op answer (sync/quick.py): its SigV4 signature is
botocore's, it answers a real no-op with three GETs and no write, and it
steps aside for anything else (a change, --delete of stale keys, a last run
that failed, a pending invalidation)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from contrib_awsstorage.sync import SyncOptions, sync_directory
from contrib_awsstorage.sync import record as syncrecord
from contrib_awsstorage.sync.quick import sigv4_headers

from .helpers import small_tree, write_tree


@pytest.mark.parametrize("token", [None, "session-token/+="])
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/bucket/?list-type=2&encoding-type=url&prefix=static%2F",
        "https://my-bucket.s3.eu-west-1.amazonaws.com/static/.contrib_awsstorage/sync-manifest.json",
        "https://s3.amazonaws.com/b/a%20b/%C3%A9t%C3%A9.css",
    ],
)
def test_signature_is_botocores(url, token):
    now = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    ours = sigv4_headers(
        "GET",
        url,
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token,
        "eu-west-1",
        now=now,
    )
    request = AWSRequest(
        method="GET", url=url, headers={"X-Amz-Content-SHA256": ours["x-amz-content-sha256"]}
    )
    signer = S3SigV4Auth(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
        "s3",
        "eu-west-1",
    )
    signer._timestamp = lambda: now.strftime("%Y%m%dT%H%M%SZ")
    import botocore.auth as auth

    real_now = auth.datetime.datetime
    try:

        class Frozen(real_now):
            @classmethod
            def utcnow(cls):
                return now.replace(tzinfo=None)

            @classmethod
            def now(cls, tz=None):
                return now if tz else now.replace(tzinfo=None)

        auth.datetime.datetime = Frozen
        signer.add_auth(request)
    finally:
        auth.datetime.datetime = real_now
    assert ours["Authorization"] == request.headers["Authorization"]


@pytest.fixture
def quick(settings):
    settings.AWS_S3_SYNC_QUICK_NOOP = True
    return settings


def test_a_noop_is_three_gets_and_no_boto3_request(
    quick, storage, tmp_path, counted, s3_client, bucket
):
    root = write_tree(tmp_path / "root", small_tree(12))
    assert len(sync_directory(storage, root).uploaded) == 12
    before = syncrecord.read_last_run(storage)
    counter = counted(storage)
    report = sync_directory(storage, root)
    assert report.ok and report.unchanged == 12 and report.uploaded == [] and report.requests == 3
    assert counter.count == 0  # the answer came without the boto3 client
    assert syncrecord.read_last_run(storage) == before  # and wrote nothing


def test_anything_else_takes_the_full_sync(quick, storage, tmp_path, counted, s3_client, bucket):
    root = write_tree(tmp_path / "root", small_tree(8))
    sync_directory(storage, root)
    write_tree(root, {"css/style0.css": "changed"})
    report = sync_directory(storage, root)
    assert report.uploaded == ["css/style0.css"]
    s3_client.put_object(Bucket=bucket, Key="static/stale.txt", Body=b"x")
    assert sync_directory(storage, root).stale == ["static/stale.txt"]  # quick: stale reported
    counter = counted(storage)
    report = sync_directory(
        storage, root, SyncOptions(delete=True)
    )  # stale + --delete: the full sync
    assert report.deleted == ["static/stale.txt"] and counter.count > 0


def test_a_failed_last_run_is_not_answered_quickly(quick, storage, tmp_path, counted):
    root = write_tree(tmp_path / "root", small_tree(4))
    sync_directory(storage, root)
    record = syncrecord.read_last_run(storage)
    record.pop("version")
    syncrecord.write_last_run(storage, {**record, "ok": False})
    counter = counted(storage)
    sync_directory(storage, root)
    assert counter.count > 0 and syncrecord.read_last_run(storage)["ok"] is True
    syncrecord.write_last_run(
        storage, {**record, "invalidation": {"id": None, "paths": ["/x"], "status": "failed"}}
    )
    counter.reset()
    sync_directory(storage, root)
    assert counter.count > 0


@pytest.mark.evennia  # runs Evennia's launcher
def test_a_noop_reload_never_imports_boto3(s3_server, bucket, tmp_path):
    """Under Evennia's launcher, a collectstatic with nothing to do loads no boto3."""
    from .test_collectstatic import _run, run_under_launcher

    env = {
        "SYNC_TEST_BUCKET": bucket,
        "SYNC_TEST_ENDPOINT": s3_server.endpoint_url,
        "SYNC_TEST_QUICK": "1",
        "SYNC_TEST_STATICFILES_DIR": write_tree(tmp_path / "assets", small_tree(6)),
    }
    assert _run(["-m", "django", "collectstatic", "--noinput"], env).returncode == 0
    launcher = run_under_launcher(
        env, then="print('boto3' in sys.modules, 'botocore.session' in sys.modules)"
    )
    assert launcher.returncode == 0 and launcher.stderr == "", launcher.stderr
    assert launcher.stdout.split() == ["False", "False"]
    # and a change still goes up (the full sync, boto3 and all)
    write_tree(tmp_path / "assets", {"css/style0.css": "changed"})
    changed = _run(["-m", "django", "collectstatic", "--noinput", "-v", "1"], env)
    assert changed.returncode == 0 and "1 static file copied" in changed.stdout
