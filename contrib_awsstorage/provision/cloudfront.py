"""The CloudFront distribution ``s3_setup --cloudfront`` puts in front of the bucket.

The bucket is the origin, read through an origin access control (OAC,
SigV4-signed by CloudFront; the bucket policy then lets this distribution,
and only it, read). Compression is on; the managed ``CachingOptimized``
cache policy makes the edge keep each object as its own ``Cache-Control``
says (within 1 s .. 1 year, 1 day when it says nothing); the managed
``CORS-S3Origin`` request policy passes the browser's ``Origin`` on, so the
bucket's CORS rule answers through the CDN too.
"""

from __future__ import annotations

__all__ = [
    "CACHING_OPTIMIZED",
    "CORS_S3_ORIGIN",
    "distribution_config",
    "origin_access_control_config",
    "origin_domain",
    "serves_bucket",
]

# AWS managed policies (the same IDs in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CORS_S3_ORIGIN = "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"
PENDING_OAC = "<the id CreateOriginAccessControl returns>"


def origin_domain(config) -> str:
    """The bucket's regional S3 endpoint, as CloudFront names an S3 origin."""
    return f"{config.bucket}.s3.{config.region}.amazonaws.com"


def origin_access_control_name(config) -> str:
    return f"{config.bucket}"[:64]


def origin_access_control_config(config) -> dict:
    return {
        "Name": origin_access_control_name(config),
        "Description": f"contrib_awsstorage: CloudFront reads s3://{config.bucket}"[:256],
        "SigningProtocol": "sigv4",
        "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3",
    }


def distribution_config(config, oac_id: str | None) -> dict:
    origin_id = f"s3-{config.bucket}"
    return {
        # The same reference for the same bucket: a retried create cannot make a second one.
        "CallerReference": f"contrib-awsstorage-{config.bucket}",
        "Comment": f"contrib_awsstorage: s3://{config.bucket}"[:128],
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": origin_id,
                    "DomainName": origin_domain(config),
                    "OriginPath": "",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac_id or PENDING_OAC,
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": origin_id,
            "ViewerProtocolPolicy": "redirect-to-https",
            "AllowedMethods": {
                "Quantity": 3,
                "Items": ["GET", "HEAD", "OPTIONS"],
                "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
            },
            "Compress": True,
            "CachePolicyId": CACHING_OPTIMIZED,
            "OriginRequestPolicyId": CORS_S3_ORIGIN,
        },
        "PriceClass": "PriceClass_100",
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
    }


def serves_bucket(distribution: dict, config) -> bool:
    """True if one of the distribution's origins is this bucket."""
    dist_config = distribution.get("DistributionConfig", distribution)
    items = (dist_config.get("Origins") or {}).get("Items") or []
    domains = {str(item.get("DomainName", "")) for item in items}
    return any(d.startswith(f"{config.bucket}.s3.") for d in domains) or (
        f"{config.bucket}.s3.amazonaws.com" in domains
    )
