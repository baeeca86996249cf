"""The bucket configuration documents ``s3_setup`` wants, merged with what is there.

Pure functions, no network: each takes the current document (``None`` when
there is none) and returns the one to send. What the contrib adds carries
its own ``Sid`` / ``ID`` (``OUR_MARK``), so a merge replaces only our own
statements and rules and never drops anyone else's.
"""

from __future__ import annotations

import copy

__all__ = [
    "OUR_MARK",
    "OWNERSHIP",
    "cors_rules",
    "lifecycle_rules",
    "object_arn",
    "policy_document",
    "public_access_block",
    "same_policy",
]

# Sids are letters and digits only; rule IDs allow more.
OUR_MARK = "ContribAwsstorage"
PUBLIC_READ_SID = f"{OUR_MARK}PublicRead"
CLOUDFRONT_READ_SID = f"{OUR_MARK}CloudFrontRead"
CORS_RULE_ID = f"{OUR_MARK}-game-origins"
LIFECYCLE_RULE_ID = f"{OUR_MARK}-abort-incomplete-multipart-uploads"
ABORT_MULTIPART_DAYS = 7
POLICY_VERSION = "2012-10-17"

# Object ownership "bucket owner enforced": ACLs off (the default since April 2023).
OWNERSHIP = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def object_arn(bucket: str, location) -> str:
    return f"arn:aws:s3:::{bucket}/{location.prefix}*"


def public_access_block(config) -> dict:
    """ACLs always blocked; policies allowed only for a public storage read directly (no CDN)."""
    block_policies = not config.public_policy_allowed
    return {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": block_policies,
        "RestrictPublicBuckets": block_policies,
    }


def our_statements(config, distribution_arn: str | None) -> list[dict]:
    """Public GetObject on the public locations, or, behind CloudFront, the
    distribution's (and only its) read through origin access control."""
    if config.behind_cloudfront:
        locations = config.cloudfront_read_locations
        if not locations:
            return []
        return [
            {
                "Sid": CLOUDFRONT_READ_SID,
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": [object_arn(config.bucket, loc) for loc in locations],
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            }
        ]
    if not config.public_locations:
        return []
    return [
        {
            "Sid": PUBLIC_READ_SID,
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": [object_arn(config.bucket, loc) for loc in config.public_locations],
        }
    ]


def policy_document(current: dict | None, ours: list[dict]) -> dict | None:
    """``current`` with our statements replaced by ``ours``; ``None`` if nothing is left."""
    current = copy.deepcopy(current) if current else {}
    statements = current.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    others = [s for s in statements if not str(s.get("Sid", "")).startswith(OUR_MARK)]
    merged = others + ours
    if not merged:
        return None
    document = {k: v for k, v in current.items() if k != "Statement"}
    document.setdefault("Version", POLICY_VERSION)
    document["Statement"] = merged
    return document


def _canonical(value):
    """A form in which two equal policies compare equal (one-item lists, order)."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=repr)
    return value


def same_policy(a: dict | None, b: dict | None) -> bool:
    return _canonical(a or {}) == _canonical(b or {})


def cors_rules(current: list[dict] | None, origins: list[str]) -> list[dict]:
    """Existing CORS rules, ours (GET/HEAD from the game's origins) replaced or added."""
    others = [r for r in current or [] if r.get("ID") != CORS_RULE_ID]
    if not origins:
        return others
    ours = {
        "ID": CORS_RULE_ID,
        "AllowedHeaders": ["*"],
        "AllowedMethods": ["GET", "HEAD"],
        "AllowedOrigins": list(origins),
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3600,
    }
    return others + [ours]


def lifecycle_rules(current: list[dict] | None) -> list[dict]:
    """Existing lifecycle rules, ours (abort incomplete multipart uploads) replaced or added."""
    others = [r for r in current or [] if r.get("ID") != LIFECYCLE_RULE_ID]
    ours = {
        "ID": LIFECYCLE_RULE_ID,
        "Filter": {"Prefix": ""},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
    }
    return others + [ours]


def same_rules(a: list[dict] | None, b: list[dict] | None) -> bool:
    """Rule lists equal as sets of rules (stores may reorder, or add empty fields)."""

    def clean(rule):
        return _canonical({k: v for k, v in rule.items() if v not in (None, [], {}, "")})

    return sorted(map(repr, map(clean, a or []))) == sorted(map(repr, map(clean, b or [])))
