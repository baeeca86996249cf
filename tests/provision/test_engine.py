"""The engine's own rules: merging documents, reading several storages, a
distribution that is not the bucket's, and a bucket in another region."""

from __future__ import annotations

import pytest

from contrib_awsstorage import provision
from contrib_awsstorage.provision import documents

from .conftest import MEDIA, STATIC


def test_policy_merge_replaces_only_our_statements():
    theirs = {"Sid": "Theirs", "Effect": "Deny", "Principal": "*", "Action": "s3:*"}
    stale = {"Sid": "ContribAwsstoragePublicRead", "Effect": "Allow", "Resource": "old"}
    ours = [{"Sid": "ContribAwsstorageCloudFrontRead", "Effect": "Allow"}]
    current = {"Version": "2012-10-17", "Id": "kept", "Statement": [theirs, stale]}
    merged = documents.policy_document(current, ours)
    assert merged == {"Version": "2012-10-17", "Id": "kept", "Statement": [theirs, *ours]}
    assert current["Statement"] == [theirs, stale]  # the input is not changed
    assert documents.policy_document({"Statement": [stale]}, []) is None


def test_policies_compare_as_aws_returns_them():
    sent = {"Statement": [{"Action": "s3:GetObject", "Resource": ["arn:a", "arn:b"]}]}
    returned = {"Statement": [{"Resource": ["arn:b", "arn:a"], "Action": ["s3:GetObject"]}]}
    assert documents.same_policy(sent, returned)
    assert not documents.same_policy(sent, {"Statement": [{"Action": "s3:GetObject"}]})


def test_rules_compare_as_sets_and_ours_are_replaced():
    theirs = {"ID": "theirs", "AllowedMethods": ["PUT"], "AllowedOrigins": ["https://x"]}
    first = documents.cors_rules([theirs], ["https://a"])
    second = documents.cors_rules(list(reversed(first)), ["https://b"])
    assert [r.get("ID") for r in second] == ["theirs", documents.CORS_RULE_ID]
    assert second[-1]["AllowedOrigins"] == ["https://b"]
    assert documents.same_rules(first, list(reversed(first)))
    assert not documents.same_rules(first, second)


def test_storages_on_two_buckets_ask_for_alias(game_settings, run_setup):
    game_settings.STORAGES = {
        "staticfiles": {"BACKEND": STATIC, "OPTIONS": {"location": "static"}},
        "default": {"BACKEND": MEDIA, "OPTIONS": {"bucket_name": "other-bucket"}},
    }
    run = run_setup()
    assert run.code == 2
    assert "one bucket at a time" in run.err and "--alias" in run.err
    only_static = run_setup("--alias", "staticfiles")
    assert only_static.code == 0, only_static.text
    assert "STORAGES['default']" not in only_static.out


def test_a_distribution_for_another_origin_is_not_changed(game_settings, run_setup, s3_server):
    import boto3

    cf = boto3.client("cloudfront", endpoint_url=s3_server.endpoint_url, region_name="us-east-1")
    origin = {"Id": "o", "DomainName": "elsewhere.s3.us-east-1.amazonaws.com"}
    origin["S3OriginConfig"] = {"OriginAccessIdentity": ""}
    created = cf.create_distribution(
        DistributionConfig={
            "CallerReference": f"other-{game_settings.AWS_STORAGE_BUCKET_NAME}",
            "Comment": "",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [origin]},
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all"},
        }
    )["Distribution"]
    game_settings.AWS_CLOUDFRONT_DISTRIBUTION_ID = created["Id"]
    run = run_setup("--apply")
    assert run.code == 0, run.text
    assert run.line("cloudfront") == "skip"
    assert "does not change an existing distribution" in run.out


def test_a_bucket_in_another_region_is_named(game_settings, s3_server, new_bucket_name):
    """On AWS (no endpoint URL) an existing bucket's region must match the setting."""
    s3_server.create_bucket(new_bucket_name, region="eu-west-1")
    game_settings.AWS_S3_ENDPOINT_URL = None
    config = provision.read_config()
    assert config.endpoint_url is None
    with pytest.raises(provision.ProvisionError) as caught:
        # The same engine, its clients pointed at the loopback server.
        provision.Provisioner(config, s3=s3_server.client(), cloudfront=object()).run()
    assert "is in eu-west-1, but AWS_S3_REGION_NAME is 'us-east-1'" in str(caught.value)
    assert "Fix: set AWS_S3_REGION_NAME = 'eu-west-1'" in str(caught.value)
