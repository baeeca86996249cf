"""``s3_check`` for the CloudFront distribution in front of a storage.

Four lines, in order, for a storage with ``cloudfront_distribution_id``:

- ``cdn``: the distribution exists and is enabled;
- ``cdn-origin``: one of its origins is the bucket (and its origin path
  stays inside the storage's location);
- ``cdn-invalidate``: the credentials may call ``CreateInvalidation``. The
  probe sends an *empty* batch: CloudFront checks the permission first and
  then refuses (or accepts) a batch without paths, so no path is billed;
- ``cdn-url``: ``url()`` through ``custom_domain`` reaches that
  distribution (its domain or an alias) and, through the cache behaviour
  that path falls under, the bucket key the storage wrote.

Plus ``cdn-signing`` when a signing key is configured (loaded, never shown).
"""

from __future__ import annotations

import fnmatch
from urllib.parse import unquote, urlsplit

from .results import FAIL, OK, SKIP, WARN, CheckResult

__all__ = ["cloudfront_checks", "origin_is_bucket"]

_DENIED = ("AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "SignatureDoesNotMatch")


def origin_is_bucket(domain: str, bucket: str, endpoint_url: str | None) -> bool:
    """Is an origin's DomainName the S3 bucket (REST or website endpoint, or the
    storage's own S3-compatible endpoint)?"""
    domain = (domain or "").lower()
    if domain.endswith(".amazonaws.com") and domain.startswith(bucket.lower() + ".s3"):
        return True
    host = (urlsplit(endpoint_url).hostname or "").lower() if endpoint_url else ""
    return bool(host) and domain in (host, f"{bucket.lower()}.{host}")


def _behaviour_origin(config: dict, path: str) -> str:
    """The TargetOriginId serving ``path``: the first matching cache behaviour, else the default."""
    for behaviour in (config.get("CacheBehaviors") or {}).get("Items") or ():
        pattern = "/" + behaviour.get("PathPattern", "").lstrip("/")
        if fnmatch.fnmatchcase(path, pattern):
            return behaviour.get("TargetOriginId", "")
    return (config.get("DefaultCacheBehavior") or {}).get("TargetOriginId", "")


def cloudfront_checks(storage, alias: str, write: bool = True) -> list[CheckResult]:
    """The CDN lines for ``storage`` (none without a distribution id)."""
    from contrib_awsstorage.s3.cloudfront import cloudfront_client, distribution_id, signer_for
    from contrib_awsstorage.s3.errors import scrub

    results: list[CheckResult] = []

    def add(check, status, message, fix=""):
        results.append(CheckResult(check, status, scrub(message), fix, alias))

    if getattr(storage, "cloudfront_key_id", None) or getattr(storage, "cloudfront_key", None):
        from django.core.exceptions import ImproperlyConfigured

        try:
            signer_for(storage)
            add(
                "cdn-signing",
                OK,
                f"CloudFront signing key {storage.cloudfront_key_id} loaded (an RSA private key).",
            )
        except ImproperlyConfigured as exc:
            message, _, fix = str(exc).partition(" Fix: ")
            add("cdn-signing", FAIL, message, fix)
    dist_id = distribution_id(storage)
    if not dist_id:
        return results
    from botocore.exceptions import BotoCoreError, ClientError

    client = cloudfront_client(storage, connect_timeout=2, read_timeout=4, attempts=2)
    try:
        distribution = client.get_distribution(Id=dist_id)["Distribution"]
    except (ClientError, BotoCoreError) as exc:
        from contrib_awsstorage.s3.cloudfront import translate_cloudfront_error

        error = translate_cloudfront_error(exc, "GetDistribution", dist_id)
        add("cdn", FAIL, str(error).partition(" Fix: ")[0], error.fix)
        for check in ("cdn-origin", "cdn-invalidate", "cdn-url"):
            add(check, SKIP, "not checked: the distribution could not be read.")
        return results
    config = distribution.get("DistributionConfig", {})
    if config.get("Enabled"):
        add(
            "cdn",
            OK,
            f"distribution {dist_id} ({distribution.get('DomainName')}) is enabled, "
            f"status {distribution.get('Status')}.",
        )
    else:
        add(
            "cdn",
            FAIL,
            f"distribution {dist_id} is disabled: it serves nothing.",
            "enable it in the CloudFront console (Distributions > Enable).",
        )

    bucket, endpoint = storage.bucket_name, getattr(storage, "endpoint_url", None)
    origins = (config.get("Origins") or {}).get("Items") or ()
    ours = [o for o in origins if origin_is_bucket(o.get("DomainName", ""), bucket, endpoint)]
    location = "/" + (storage.location or "").strip("/")
    if not ours:
        add(
            "cdn-origin",
            FAIL,
            f"no origin of distribution {dist_id} is bucket '{bucket}' "
            f"(origins: {', '.join(o.get('DomainName', '?') for o in origins)}).",
            f"add an origin '{bucket}.s3.<region>.amazonaws.com' (with origin access control) "
            "or correct AWS_CLOUDFRONT_DISTRIBUTION_ID.",
        )
    else:
        origin_path = (ours[0].get("OriginPath") or "").rstrip("/")
        if origin_path and not (location.rstrip("/") + "/").startswith(origin_path + "/"):
            add(
                "cdn-origin",
                FAIL,
                f"origin '{ours[0]['Id']}' has origin path '{origin_path}', outside "
                f"the storage's location '{location}'.",
                "set the origin path to '' or to a prefix of AWS_LOCATION.",
            )
        else:
            add(
                "cdn-origin",
                OK,
                f"origin '{ours[0]['Id']}' is bucket '{bucket}'"
                f"{f' (origin path {origin_path})' if origin_path else ''}.",
            )

    if not write:
        add(
            "cdn-invalidate",
            SKIP,
            "not checked (--no-write): it sends an empty invalidation batch.",
        )
    else:
        try:
            client.create_invalidation(
                DistributionId=dist_id,
                InvalidationBatch={
                    "Paths": {"Quantity": 0, "Items": []},
                    "CallerReference": "contrib_awsstorage-s3_check",
                },
            )
            add(
                "cdn-invalidate",
                OK,
                "the credentials may call CreateInvalidation (empty test batch, no path billed).",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _DENIED:
                add(
                    "cdn-invalidate",
                    FAIL,
                    f"the credentials may not call CreateInvalidation ({code}): "
                    "changed files would stay stale at the edge.",
                    f"allow cloudfront:CreateInvalidation and cloudfront:GetInvalidation on "
                    f"distribution {dist_id}.",
                )
            else:  # permission passed; the empty batch itself was refused
                add(
                    "cdn-invalidate",
                    OK,
                    f"the credentials may call CreateInvalidation (the empty test "
                    f"batch was refused with {code}, as expected).",
                )
        except BotoCoreError as exc:
            add(
                "cdn-invalidate",
                FAIL,
                f"CreateInvalidation could not be sent: {type(exc).__name__}.",
                "check the network and AWS_CLOUDFRONT_ENDPOINT_URL.",
            )

    add_url_check(add, storage, distribution, ours)
    return results


def add_url_check(add, storage, distribution: dict, bucket_origins) -> None:
    from contrib_awsstorage.s3.urls import custom_domain_url, object_url

    config = distribution.get("DistributionConfig", {})
    domains = {
        distribution.get("DomainName", "").lower(),
        *(a.lower() for a in (config.get("Aliases") or {}).get("Items") or ()),
    }
    if not storage.custom_domain:
        add(
            "cdn-url",
            WARN,
            "AWS_S3_CUSTOM_DOMAIN is not set: url() points at the bucket, not at the distribution.",
            f"set AWS_S3_CUSTOM_DOMAIN = '{sorted(domains - {''})[0]}'.",
        )
        return
    key = storage.key_for("contrib-awsstorage-check.txt")
    url = object_url(custom_domain_url(storage.url_protocol, storage.custom_domain), key)
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in domains:
        add(
            "cdn-url",
            FAIL,
            f"url() goes to {parts.hostname}, which is neither the distribution's "
            f"domain nor one of its aliases ({', '.join(sorted(domains - {''}))}).",
            "set AWS_S3_CUSTOM_DOMAIN to the distribution's domain, or add it as an alternate "
            "domain name (CNAME) of the distribution.",
        )
        return
    origin_id = _behaviour_origin(config, parts.path)
    origin = next(
        (o for o in (config.get("Origins") or {}).get("Items") or () if o.get("Id") == origin_id),
        None,
    )
    if origin is None or origin not in bucket_origins:
        add(
            "cdn-url",
            FAIL,
            f"{parts.path} is served by origin '{origin_id}', which is not the bucket.",
            "point the cache behaviour for that path (or the default one) at the bucket's origin.",
        )
        return
    fetched = ((origin.get("OriginPath") or "").rstrip("/") + unquote(parts.path)).lstrip("/")
    if fetched != key:
        add(
            "cdn-url",
            FAIL,
            f"url() {parts.path} makes CloudFront fetch key '{fetched}', but the storage "
            f"wrote '{key}'.",
            "make the origin path plus the URL path equal the key: remove the origin path, or drop "
            "the location from AWS_S3_CUSTOM_DOMAIN.",
        )
        return
    add(
        "cdn-url",
        OK,
        f"url() {parts.scheme}://{parts.hostname}/... reaches the bucket key through "
        f"distribution {distribution.get('Id')}.",
    )
