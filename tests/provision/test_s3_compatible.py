"""``s3_setup`` on s3rver, a second S3 implementation that lacks object
ownership, Block Public Access, bucket policies and lifecycle: each such step
is one ``skip`` line with the reason, never a traceback; what it has (the
bucket, CORS) is set up, and a second apply has nothing to change."""

from __future__ import annotations

import boto3
from botocore.config import Config

from .conftest import GAME_ORIGIN, S3RVER_KEYS


def _client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3RVER_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3RVER_KEYS["AWS_SECRET_ACCESS_KEY"],
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def test_missing_apis_are_one_skip_line_each(s3rver_settings, run_setup, s3rver):
    bucket = s3rver_settings.AWS_STORAGE_BUCKET_NAME
    plan = run_setup()
    assert plan.code == 0, plan.text
    assert plan.line("bucket") == "create"

    run = run_setup("--apply")
    assert run.code == 0, run.text
    assert "Traceback" not in run.text
    for resource in ("object ownership", "public access block", "bucket policy", "lifecycle"):
        assert run.line(resource) == "skip", (resource, run.out)
    lines = {line[7:27].strip(): line for line in run.out.splitlines() if line[:6].strip()}
    assert (
        "does not implement GetPublicAccessBlock (NotImplemented)" in lines["public access block"]
    )
    assert "does not implement GetBucketPolicy (MethodNotAllowed)" in lines["bucket policy"]
    # s3rver ignores ?ownershipControls and lists the bucket instead: that is a missing API too.
    assert "does not implement GetBucketOwnershipControls" in lines["object ownership"]
    assert run.line("bucket") == run.line("cors") == "create"

    client = _client(s3rver)
    assert bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}
    (rule,) = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert GAME_ORIGIN in rule["AllowedOrigins"]

    again = run_setup("--apply")
    assert again.code == 0 and "nothing to change" in again.out, again.out


def test_rejected_credentials_are_one_clear_error(s3rver_settings, run_setup):
    s3rver_settings.AWS_ACCESS_KEY_ID = "AKIANOTKNOWNTOS3RVER"
    s3rver_settings.AWS_SECRET_ACCESS_KEY = "not-the-secret-s3rver-expects"
    run = run_setup()
    assert run.code == 2, run.text
    assert "credentials were rejected (InvalidAccessKeyId)" in run.err
    assert "Fix:" in run.err and "not-the-secret" not in run.text
