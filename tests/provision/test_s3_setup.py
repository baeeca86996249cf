"""``s3_setup`` on moto's server over HTTP: plan changes nothing, apply makes
a bucket that works (anonymous static 200, media 403, CORS, lifecycle), a
second apply has nothing to change, and existing configuration is kept."""

from __future__ import annotations

import json

import pytest

from .conftest import GAME_ORIGIN, anonymous_get


def _exists(s3_client, bucket) -> bool:
    return bucket in {b["Name"] for b in s3_client.list_buckets()["Buckets"]}


def test_plan_from_an_empty_account_changes_nothing(game_settings, run_setup, s3_client):
    bucket = game_settings.AWS_STORAGE_BUCKET_NAME
    run = run_setup()
    assert run.code == 0, run.text
    for resource in ("bucket", "object ownership", "public access block", "bucket policy"):
        assert run.line(resource) == "create", (resource, run.out)
    assert run.line("cors") == run.line("lifecycle") == "create"
    assert "CreateBucket {" in run.out and "PutBucketPolicy {" in run.out
    assert "run again with --apply" in run.out
    assert not _exists(s3_client, bucket)


def test_apply_makes_a_bucket_that_works(game_settings, run_setup, s3_client, s3_server):
    bucket = game_settings.AWS_STORAGE_BUCKET_NAME
    run = run_setup("--apply")
    assert run.code == 0, run.text
    assert "changes made" in run.out
    s3_client.put_object(Bucket=bucket, Key="static/x.css", Body=b"body{}", ContentType="text/css")
    s3_client.put_object(Bucket=bucket, Key="media/x.png", Body=b"\x89PNG", ContentType="image/png")
    base = f"{s3_server.endpoint_url}/{bucket}"
    assert anonymous_get(f"{base}/static/x.css")[0] == 200
    assert anonymous_get(f"{base}/media/x.png")[0] == 403
    # CORS answers the game's origin, and only it (moto refuses an anonymous
    # preflight OPTIONS, which real S3 answers; the CORS GET is what fonts and
    # module scripts send).
    status, headers = anonymous_get(f"{base}/static/x.css", {"Origin": GAME_ORIGIN})
    assert status == 200 and headers.get("Access-Control-Allow-Origin") == GAME_ORIGIN
    status, headers = anonymous_get(f"{base}/static/x.css", {"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in headers
    rules = s3_client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in rules] == [7]
    ownership = s3_client.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert ownership["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    block = s3_client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block["BlockPublicAcls"] and block["IgnorePublicAcls"]
    assert not block["BlockPublicPolicy"]


def test_a_second_apply_has_nothing_to_change(game_settings, run_setup):
    assert run_setup("--apply").code == 0
    again = run_setup("--apply")
    assert again.code == 0, again.text
    assert "nothing to change" in again.out
    assert "create " not in again.out and "change " not in again.out
    plan = run_setup("--json")
    assert plan.json()["counts"]["create"] == plan.json()["counts"]["change"] == 0


def test_json_plan_gives_the_exact_requests(game_settings, run_setup, s3_client):
    bucket = game_settings.AWS_STORAGE_BUCKET_NAME
    data = run_setup("--json").json()
    assert data["applied"] is False and data["bucket"] == bucket
    by_resource = {r["resource"]: r for r in data["resources"]}
    assert by_resource["bucket"]["requests"] == [
        {"operation": "CreateBucket", "params": {"Bucket": bucket}}
    ]
    (policy_request,) = by_resource["bucket policy"]["requests"]
    planned_policy = policy_request["params"]["Policy"]
    assert not _exists(s3_client, bucket)
    # What apply sends is what the plan showed.
    assert run_setup("--apply", "--json").json()["applied"] is True
    assert json.loads(s3_client.get_bucket_policy(Bucket=bucket)["Policy"]) == planned_policy
    assert data["iam_policy"]["Statement"]


def test_someone_elses_policy_cors_and_lifecycle_are_kept(
    game_settings, run_setup, s3_client, s3_server
):
    bucket = game_settings.AWS_STORAGE_BUCKET_NAME
    s3_server.create_bucket(bucket)
    theirs = {
        "Sid": "TheirLogsWriter",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/logs/*",
    }
    s3_client.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [theirs]})
    )
    their_cors = {
        "ID": "their-uploader",
        "AllowedMethods": ["PUT"],
        "AllowedOrigins": ["https://uploads.example.org"],
        "AllowedHeaders": ["*"],
    }
    s3_client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [their_cors]})
    their_rule = {
        "ID": "their-log-expiry",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Expiration": {"Days": 30},
    }
    s3_client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [their_rule]}
    )

    run = run_setup("--apply")
    assert run.code == 0, run.text
    assert run.line("bucket policy") == run.line("cors") == run.line("lifecycle") == "change"

    statements = json.loads(s3_client.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert theirs in statements
    assert {s.get("Sid") for s in statements} == {"TheirLogsWriter", "ContribAwsstoragePublicRead"}
    cors = s3_client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert {r.get("ID") for r in cors} == {"their-uploader", "ContribAwsstorage-game-origins"}
    assert any(r.get("AllowedOrigins") == ["https://uploads.example.org"] for r in cors)
    rules = s3_client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert {r["ID"] for r in rules} == {
        "their-log-expiry",
        "ContribAwsstorage-abort-incomplete-multipart-uploads",
    }
    assert "nothing to change" in run_setup("--apply").out


def test_origins_from_csrf_trusted_origins_and_the_origin_argument(game_settings, run_setup):
    game_settings.ALLOWED_HOSTS = []
    game_settings.CSRF_TRUSTED_ORIGINS = ["https://play.example.net"]
    assert "GET/HEAD from https://play.example.net" in run_setup().out
    run = run_setup("--origin", "http://127.0.0.1:4101", "--origin", "https://a.example")
    assert "GET/HEAD from http://127.0.0.1:4101, https://a.example" in run.out


def test_no_origins_is_one_skip_line_with_the_fix(game_settings, run_setup):
    game_settings.ALLOWED_HOSTS = []
    run = run_setup()
    assert run.code == 0
    assert run.line("cors") == "skip"
    assert "--origin" in run.out


def test_every_storage_private_blocks_all_public_access(game_settings, run_setup, s3_client):
    game_settings.STORAGES = {
        "default": {
            "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage",
            "OPTIONS": {"location": "media"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    bucket = game_settings.AWS_STORAGE_BUCKET_NAME
    run = run_setup("--apply")
    assert run.code == 0, run.text
    assert run.line("bucket policy") == "ok"
    block = s3_client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda s: setattr(s, "STORAGES", {"default": {"BACKEND": "x.Y"}}),
            "No STORAGES entry uses contrib_awsstorage",
        ),
        (lambda s: setattr(s, "AWS_STORAGE_BUCKET_NAME", ""), "AWS_STORAGE_BUCKET_NAME"),
        (
            lambda s: s.STORAGES["staticfiles"].update(OPTIONS={"location": ""}),
            "would expose the private files",
        ),
    ],
)
def test_bad_settings_give_one_clear_error(game_settings, run_setup, change, expected):
    change(game_settings)
    run = run_setup()
    assert run.code == 2
    assert expected in run.err and "Fix:" in run.err
    assert "Traceback" not in run.text


def test_bad_origin_argument_is_named(game_settings, run_setup):
    run = run_setup("--origin", "mygame.example.com/path")
    assert run.code == 2
    assert "--origin 'mygame.example.com/path'" in run.err and "Fix:" in run.err


def test_unknown_alias_is_named(game_settings, run_setup):
    run = run_setup("--alias", "nope")
    assert run.code == 2 and "--alias 'nope'" in run.err


def test_the_secret_is_never_printed(game_settings, run_setup):
    secret = game_settings.AWS_SECRET_ACCESS_KEY
    for args in ((), ("--apply",), ("--json",), ("--cloudfront",)):
        run = run_setup(*args)
        assert secret not in run.text


def test_s3_check_passes_after_apply(game_settings, run_setup, s3_server):
    """After ``s3_setup --apply`` ``s3_check`` passes with no warning (before the
    first sync, "no sync recorded yet" is a note on an OK line)."""
    import io

    from django.core.management import call_command

    bucket = game_settings.AWS_STORAGE_BUCKET_NAME
    game_settings.STATIC_URL = f"{s3_server.endpoint_url}/{bucket}/static/"
    assert run_setup("--apply").code == 0
    out = io.StringIO()
    call_command("s3_check", stdout=out, stderr=io.StringIO(), no_color=True)
    assert "FAIL" not in out.getvalue() and "WARN" not in out.getvalue(), out.getvalue()
    assert "no sync recorded yet" in out.getvalue()
