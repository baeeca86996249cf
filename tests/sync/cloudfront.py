"""CloudFront on the test S3 server: moto's server speaks CloudFront too, so a
distribution in front of the test bucket is one call away."""

from __future__ import annotations

import itertools
import os

import boto3

from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS

_refs = itertools.count(1)


def cloudfront(endpoint_url: str):
    return boto3.client(
        "cloudfront",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def create_distribution(
    client, bucket: str, *, origin_path: str = "", aliases=(), enabled=True
) -> dict:
    """A distribution whose one origin is ``bucket`` (S3 origin); returns it."""
    config = {
        "CallerReference": f"tests-{os.getpid()}-{next(_refs)}",
        "Comment": "tests",
        "Enabled": enabled,
        "Aliases": {"Quantity": len(aliases), "Items": list(aliases)},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "bucket",
                    "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
                    "OriginPath": origin_path,
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "bucket",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
    }
    return client.create_distribution(DistributionConfig=config)["Distribution"]


def invalidations(client, dist_id: str) -> list[list[str]]:
    """The path lists of every invalidation the distribution received, oldest first."""
    listing = client.list_invalidations(DistributionId=dist_id)["InvalidationList"]
    found = []
    for item in listing.get("Items") or ():
        batch = client.get_invalidation(DistributionId=dist_id, Id=item["Id"])["Invalidation"]
        found.append(sorted(batch["InvalidationBatch"]["Paths"].get("Items") or []))
    return found
