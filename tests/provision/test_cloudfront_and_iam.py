"""``s3_setup --cloudfront``, the printed IAM policy and ``--profile``, on
moto's server over HTTP (S3, CloudFront and IAM)."""

from __future__ import annotations

import contextlib
import io
import json
import urllib.request

import boto3
import pytest
from django.core.management import call_command

from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS, DEFAULT_REGION


def _aws(service, s3_server):
    return boto3.client(
        service,
        endpoint_url=s3_server.endpoint_url,
        region_name=DEFAULT_REGION,
        aws_access_key_id=DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def _invalidated_paths(cf, dist_id):
    listing = cf.list_invalidations(DistributionId=dist_id)["InvalidationList"]
    paths = []
    for item in listing.get("Items") or []:
        batch = cf.get_invalidation(DistributionId=dist_id, Id=item["Id"])["Invalidation"]
        paths += batch["InvalidationBatch"]["Paths"].get("Items") or []
    return paths


def test_cloudfront_apply_puts_a_distribution_in_front(
    game_settings, run_setup, s3_client, s3_server, tmp_path
):
    bucket = game_settings.AWS_STORAGE_BUCKET_NAME
    plan = run_setup("--cloudfront")
    assert plan.code == 0 and plan.line("cloudfront") == "create"
    assert "CreateDistribution {" in plan.out and "CreateOriginAccessControl {" in plan.out

    run = run_setup("--cloudfront", "--apply")
    assert run.code == 0, run.text
    pasted = run.pasted_settings()
    dist_id = pasted["AWS_CLOUDFRONT_DISTRIBUTION_ID"]
    cf = _aws("cloudfront", s3_server)
    dist = cf.get_distribution(Id=dist_id)["Distribution"]
    assert pasted["AWS_S3_CUSTOM_DOMAIN"] == dist["DomainName"]
    config = dist["DistributionConfig"]
    (origin,) = config["Origins"]["Items"]
    assert origin["DomainName"] == f"{bucket}.s3.{DEFAULT_REGION}.amazonaws.com"
    assert config["DefaultCacheBehavior"]["Compress"] is True
    assert config["DefaultCacheBehavior"]["CachePolicyId"]  # the objects' Cache-Control rules
    assert cf.list_origin_access_controls()["OriginAccessControlList"]["Items"]

    # No public access at all: every block on, only the distribution may read.
    block = s3_client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()), block
    (statement,) = json.loads(s3_client.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["AWS:SourceArn"] == dist["ARN"]
    # (moto's anonymous-GET check ignores a statement's Principal and Condition, so
    # it would let an anonymous GET through here; real S3 does not: nothing grants "*".)
    assert statement["Principal"] != "*" and "AWS" not in statement["Principal"]

    # Running again, with or without the pasted settings: nothing to change.
    assert "nothing to change" in run_setup("--cloudfront", "--apply").out
    game_settings.AWS_S3_CUSTOM_DOMAIN = pasted["AWS_S3_CUSTOM_DOMAIN"]
    game_settings.AWS_CLOUDFRONT_DISTRIBUTION_ID = dist_id
    again = run_setup("--apply")
    assert again.code == 0 and "nothing to change" in again.out, again.out

    # The pasted settings work with s3_migrate_static's invalidation.
    static_root = tmp_path / "static_root"
    (static_root / "css").mkdir(parents=True)
    (static_root / "css" / "site.css").write_text("body{}")
    game_settings.STATIC_ROOT = str(static_root)
    game_settings.STORAGES = {
        **game_settings.STORAGES,
        "staticfiles": {
            "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
            "OPTIONS": {"location": "static"},
        },
    }
    call_command("s3_migrate_static", "--json", stdout=io.StringIO(), stderr=io.StringIO())
    (static_root / "css" / "site.css").write_text("body{color:red}")
    out = io.StringIO()
    call_command("s3_migrate_static", "--json", stdout=out, stderr=io.StringIO())
    summary = json.loads(out.getvalue())
    assert summary["invalidation"]["paths"] == ["/static/css/site.css"], summary
    assert _invalidated_paths(cf, dist_id) == ["/static/css/site.css"]


def test_a_configured_distribution_id_that_does_not_exist_is_named(game_settings, run_setup):
    game_settings.AWS_CLOUDFRONT_DISTRIBUTION_ID = "ENOSUCHDIST1"
    run = run_setup()
    assert run.code == 2
    assert "AWS_CLOUDFRONT_DISTRIBUTION_ID = 'ENOSUCHDIST1'" in run.err and "Fix:" in run.err


@pytest.mark.parametrize("cloudfront", [False, True])
def test_the_printed_iam_policy_validates_in_iam(
    game_settings, run_setup, s3_server, new_bucket_name, cloudfront
):
    args = ("--apply", "--cloudfront") if cloudfront else ()
    run = run_setup(*args)
    assert run.code == 0, run.text
    policy = run.iam_policy()
    iam = _aws("iam", s3_server)
    created = iam.create_policy(
        PolicyName=f"{new_bucket_name}-runtime", PolicyDocument=json.dumps(policy)
    )
    assert created["Policy"]["Arn"]
    actions = {a for s in policy["Statement"] for a in _as_list(s["Action"])}
    assert "s3:PutObject" in actions and "s3:PutBucketPolicy" not in actions
    assert ("cloudfront:CreateInvalidation" in actions) is cloudfront
    resources = {r for s in policy["Statement"] for r in _as_list(s["Resource"])}
    bucket = game_settings.AWS_STORAGE_BUCKET_NAME
    assert f"arn:aws:s3:::{bucket}/static/*" in resources
    assert f"arn:aws:s3:::{bucket}/*" not in resources  # only the storages' locations
    if cloudfront:
        dist_id = run.pasted_settings()["AWS_CLOUDFRONT_DISTRIBUTION_ID"]
        assert any(r.endswith(f":distribution/{dist_id}") for r in resources)


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_profile_uses_separate_admin_credentials(
    game_settings, run_setup, monkeypatch, tmp_path, s3_client
):
    """The game's keys are wrong here; --profile's admin keys do the setup,
    and neither secret is printed."""
    config_file = tmp_path / "aws_config"
    admin_secret = DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    config_file.write_text(
        "[profile setup-admin]\n"
        f"aws_access_key_id = {DEFAULT_CREDENTIALS['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {admin_secret}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    game_secret = "GameSecretThatMustNotBePrinted/0123456789"
    game_settings.AWS_ACCESS_KEY_ID = "AKIAGAMEKEYNOTADMIN0"
    game_settings.AWS_SECRET_ACCESS_KEY = game_secret
    run = run_setup("--profile", "setup-admin", "--apply")
    assert run.code == 0, run.text
    assert "profile 'setup-admin'" in run.out
    assert game_settings.AWS_STORAGE_BUCKET_NAME in {
        b["Name"] for b in s3_client.list_buckets()["Buckets"]
    }
    assert admin_secret not in run.text and game_secret not in run.text

    missing = run_setup("--profile", "no-such-profile")
    assert missing.code == 2
    assert "--profile 'no-such-profile'" in missing.err and "Fix:" in missing.err


@contextlib.contextmanager
def _enforcing(s3_server):
    """moto's IAM enforcement switched on (its own ``reset-auth`` endpoint), and
    back to what it was afterwards."""

    def reset_auth(value: str) -> str:
        request = urllib.request.Request(
            f"{s3_server.endpoint_url}/moto-api/reset-auth",
            data=value.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},  # a form type would hide the body
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]

    previous = reset_auth("0")
    try:
        yield
    finally:
        reset_auth(previous)


def test_a_refused_write_names_the_missing_permission(game_settings, run_setup, s3_server):
    """Keys that may do everything but s3:PutBucketPolicy: that line says so, the
    others are made, and the command exits 1."""
    iam = _aws("iam", s3_server)
    user = f"setup-limited-{game_settings.AWS_STORAGE_BUCKET_NAME}"
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:*", "cloudfront:*"], "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:PutBucketPolicy", "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="most", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    game_settings.AWS_ACCESS_KEY_ID = key["AccessKeyId"]
    game_settings.AWS_SECRET_ACCESS_KEY = key["SecretAccessKey"]
    with _enforcing(s3_server):
        run = run_setup("--apply")
    assert run.code == 1, run.text
    assert run.line("bucket policy") == "fail"
    assert "the credentials lack s3:PutBucketPolicy" in run.out and "--profile" in run.out
    assert run.line("bucket") == run.line("lifecycle") == "create"
    assert key["SecretAccessKey"] not in run.text
