"""The least-privilege IAM policy for the game's own (runtime) credentials.

Generated from the settings: list, read, write and delete inside the
storages' locations only (multipart uploads included), read the bucket's
object ownership (``s3_check``), and invalidate the distribution if there is
one. No bucket configuration rights: those stay with the admin who runs
``s3_setup``.
"""

from __future__ import annotations

from .documents import POLICY_VERSION

__all__ = ["runtime_policy"]

OBJECT_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]
CLOUDFRONT_ACTIONS = [
    "cloudfront:CreateInvalidation",
    "cloudfront:GetInvalidation",
    "cloudfront:GetDistribution",
]


def runtime_policy(config, distribution_arn: str | None = None) -> dict:
    """The policy document for the runtime credentials (``distribution_arn``
    when known; else built from AWS_CLOUDFRONT_DISTRIBUTION_ID, any account)."""
    bucket_arn = f"arn:aws:s3:::{config.bucket}"
    locations = sorted({loc.location for loc in config.locations})
    listing = {
        "Sid": "ListTheStorageLocations",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": bucket_arn,
    }
    if "" not in locations:
        prefixes = [p for loc in locations for p in (f"{loc}/*", loc)]
        listing["Condition"] = {"StringLike": {"s3:prefix": prefixes}}
    statements = [
        listing,
        {
            "Sid": "ReadTheBucketSettings",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:GetBucketOwnershipControls"],
            "Resource": bucket_arn,
        },
        {
            "Sid": "ReadWriteTheStorageLocations",
            "Effect": "Allow",
            "Action": list(OBJECT_ACTIONS),
            "Resource": [
                f"{bucket_arn}/{loc}/*" if loc else f"{bucket_arn}/*" for loc in locations
            ],
        },
    ]
    arn = distribution_arn or (
        f"arn:aws:cloudfront::*:distribution/{config.distribution_id}"
        if config.distribution_id
        else None
    )
    if arn:
        statements.append(
            {
                "Sid": "InvalidateTheDistribution",
                "Effect": "Allow",
                "Action": list(CLOUDFRONT_ACTIONS),
                "Resource": arn,
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}
