"""How an S3 or CloudFront answer reads to ``s3_setup``: absent, missing API, refused.

S3-compatible stores (MinIO, R2, B2, Spaces, s3rver) lack some bucket
configuration APIs: they answer ``NotImplemented``/``MethodNotAllowed``, or
ignore the sub-resource and answer something else. Such a step becomes one
``skip`` line with the reason. A refusal names the IAM permission to grant.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from .config import ProvisionError

__all__ = ["Absent", "ApiMissing", "Refused", "call", "permission_for"]

# "there is none yet": the document/resource does not exist.
ABSENT_CODES = {
    "404",
    "NoSuchBucket",
    "NoSuchBucketPolicy",
    "NoSuchCORSConfiguration",
    "NoSuchLifecycleConfiguration",
    "NoSuchPublicAccessBlockConfiguration",
    "OwnershipControlsNotFoundError",
    "NoSuchDistribution",
}
MISSING_API_CODES = {"NotImplemented", "XNotImplemented", "MethodNotAllowed", "501", "405"}
# A store that ignores a configuration sub-resource takes a PUT of it for CreateBucket.
MISTAKEN_FOR_CREATE = {"BucketAlreadyExists", "BucketAlreadyOwnedByYou"}
# The credentials themselves were rejected: no permission would help.
REJECTED_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "ExpiredToken",
    "InvalidToken",
}
REFUSED_CODES = {"AccessDenied", "AccessDeniedException", "403", "AllAccessDisabled"}

# IAM action names that differ from the API operation's name.
PERMISSIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "ListDistributions": "cloudfront:ListDistributions",
    "GetDistribution": "cloudfront:GetDistribution",
    "CreateDistribution": "cloudfront:CreateDistribution",
    "ListOriginAccessControls": "cloudfront:ListOriginAccessControls",
    "CreateOriginAccessControl": "cloudfront:CreateOriginAccessControl",
}


def permission_for(operation: str) -> str:
    return PERMISSIONS.get(operation, f"s3:{operation}")


class Absent(Exception):
    """The thing read does not exist (yet)."""


class ApiMissing(Exception):
    """This store does not implement the operation."""

    def __init__(self, operation: str, detail: str):
        self.operation = operation
        super().__init__(f"this store does not implement {operation} ({detail})")


class Refused(Exception):
    """The credentials may not do the operation."""

    def __init__(self, operation: str, code: str):
        self.operation, self.permission = operation, permission_for(operation)
        super().__init__(
            f"{operation} was refused ({code}): the credentials lack {self.permission}; "
            f"grant it, or run with --profile NAME (admin credentials)"
        )


def call(client, operation: str, expect: str | None = None, **params):
    """``client.<operation>(**params)``; raise ``Absent``/``ApiMissing``/``Refused``,
    or ``ProvisionError`` for a network or credentials problem. ``expect`` is a
    key the answer must carry: a store that ignores the sub-resource lacks the API."""
    method = getattr(client, _snake(operation))
    try:
        answer = method(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code in ABSENT_CODES:
            raise Absent(code) from None
        if code in REJECTED_CODES:
            raise ProvisionError(
                f"{operation}: the credentials were rejected ({code}).",
                fix="check the access key and secret (AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY), or run with --profile NAME (admin credentials).",
            ) from None
        mistaken = code in MISTAKEN_FOR_CREATE and operation != "CreateBucket"
        if mistaken or code in MISSING_API_CODES or status in ("501", "405"):
            raise ApiMissing(operation, code or status) from None
        if code in REFUSED_CODES or status == "403":
            raise Refused(operation, code or status) from None
        raise ProvisionError(
            f"{operation} failed: {code}: {error.get('Message', '')}".rstrip(": "),
            fix="see the error above; nothing after this step was changed.",
        ) from None
    except NoCredentialsError:
        raise ProvisionError(
            f"{operation}: no AWS credentials.",
            fix="run with --profile NAME (an admin profile from ~/.aws/config) or set "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.",
        ) from None
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise ProvisionError(
            f"{operation}: cannot reach the service ({type(exc).__name__}).",
            fix="check the network, AWS_S3_ENDPOINT_URL and AWS_CLOUDFRONT_ENDPOINT_URL.",
        ) from None
    except BotoCoreError as exc:
        raise ProvisionError(
            f"{operation} failed: {type(exc).__name__}.",
            fix="check AWS_S3_REGION_NAME, AWS_S3_ENDPOINT_URL and the credentials.",
        ) from None
    if expect and not _has(answer, expect):
        raise ApiMissing(operation, f"it answered without {expect}")
    return answer


def _has(answer: dict, path: str) -> bool:
    """``answer`` carries the dotted ``path`` (a store that ignored the
    sub-resource and listed the bucket instead parses as empty)."""
    value = answer
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return False
        value = value[key]
    return True


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
