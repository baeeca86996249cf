"""Turn botocore errors into Django exceptions a game admin can act on.

A bare ``botocore.exceptions.ClientError`` says "An error occurred (403)";
the admin needs to know *which* operation on *which* bucket failed and what
to change. Every exception here names the operation and the bucket and ends
with a one-line fix. Server messages are never copied verbatim into ours
unless scrubbed, so signatures, tokens and keys cannot leak.

Errors are recognised by botocore's exception classes and, for answers from
S3, by the error code in ``ClientError.response["Error"]["Code"]``. The
class table is built once, with the first error to translate.
"""

from __future__ import annotations

import re
from functools import cache

from django.core.exceptions import ImproperlyConfigured, PermissionDenied

__all__ = [
    "S3StorageError",
    "S3ConfigurationError",
    "S3BucketNotFound",
    "S3WrongRegion",
    "S3NoCredentials",
    "S3InvalidCredentials",
    "S3AccessDenied",
    "S3AclNotSupported",
    "S3ObjectNotFound",
    "S3EndpointError",
    "translate_client_error",
    "error_code",
    "scrub",
    "mask_access_key",
]


class S3StorageError(Exception):
    """Base for every error this contrib raises about S3.

    ``code`` is the S3/botocore error code (e.g. ``"AccessDenied"``) and
    ``fix`` the one-line remedy, so commands like ``s3_check`` can show them
    separately.
    """

    default_code = "S3Error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fix: str = "",
        operation: str = "",
        bucket: str = "",
        key: str | None = None,
    ):
        self.code = code or self.default_code
        self.fix = fix
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.summary = message
        full = f"{message} Fix: {fix}" if fix else message
        super().__init__(full)


class S3ConfigurationError(S3StorageError, ImproperlyConfigured):
    """The configuration (bucket, region, credentials, endpoint) is wrong."""


class S3BucketNotFound(S3ConfigurationError):
    default_code = "NoSuchBucket"


class S3WrongRegion(S3ConfigurationError):
    default_code = "PermanentRedirect"

    def __init__(self, message: str, *, real_region: str | None = None, **kw):
        self.real_region = real_region
        super().__init__(message, **kw)


class S3NoCredentials(S3ConfigurationError):
    default_code = "NoCredentials"


class S3InvalidCredentials(S3ConfigurationError):
    default_code = "InvalidAccessKeyId"


class S3AclNotSupported(S3ConfigurationError):
    default_code = "AccessControlListNotSupported"


class S3EndpointError(S3ConfigurationError):
    default_code = "EndpointConnectionError"


class S3AccessDenied(S3StorageError, PermissionDenied):
    default_code = "AccessDenied"


class S3ObjectNotFound(S3StorageError, FileNotFoundError):
    default_code = "NoSuchKey"


# Where boto3 looks for credentials, in its order; shown when none are found.
CREDENTIAL_PLACES = (
    "STORAGES OPTIONS access_key/secret_key",
    "settings AWS_S3_ACCESS_KEY_ID/AWS_ACCESS_KEY_ID + AWS_S3_SECRET_ACCESS_KEY/AWS_SECRET_ACCESS_KEY",
    "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    "shared credentials file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials) and AWS_PROFILE",
    "AWS config file (AWS_CONFIG_FILE, ~/.aws/config)",
    "container / EC2 instance role",
)

_SECRETISH = [
    # query-string signatures and credentials of presigned URLs
    re.compile(
        r"(?i)(x-amz-signature|signature|x-amz-security-token|x-amz-credential|awsaccesskeyid)=[^&\s]+"
    ),
    # AWS access key ids
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{12,}\b"),
    # long base64-ish blobs (secret keys, session tokens, string-to-sign dumps)
    re.compile(r"[A-Za-z0-9/+=]{32,}"),
]


def scrub(text: str) -> str:
    """Remove anything that looks like a key, token or signature."""
    text = str(text)
    text = _SECRETISH[0].sub(lambda m: m.group(1) + "=<redacted>", text)
    text = _SECRETISH[1].sub("<access-key>", text)
    text = _SECRETISH[2].sub("<redacted>", text)
    return text


def mask_access_key(key: str) -> str:
    """``AKIA…WXYZ``: enough to tell keys apart, not enough to use one."""
    return f"{key[:4]}…{key[-4:]}" if len(key) >= 12 else "…" + key[-2:]


def error_code(exc) -> str:
    """The S3 error code of a botocore ``ClientError`` (``"NoSuchKey"``, ``"403"``...),
    ``""`` for any other exception."""
    if not isinstance(exc, _kinds()["client_error"]):
        return ""
    return str((exc.response.get("Error") or {}).get("Code") or "")


def _where(operation: str, bucket: str, key: str | None) -> str:
    target = f"s3://{bucket}/{key}" if key else f"bucket '{bucket}'"
    return f"S3 {operation} on {target}"


def _response_parts(exc):
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    headers = meta.get("HTTPHeaders") or {}
    code = str(error.get("Code") or "")
    status = meta.get("HTTPStatusCode")
    return error, headers, code, status


def real_region_of(exc) -> str | None:
    """The bucket's actual region, when the error response tells it."""
    error, headers, _, _ = _response_parts(exc)
    region = headers.get("x-amz-bucket-region") or error.get("Region")
    if region:
        return region
    # AuthorizationHeaderMalformed: "... the region 'us-east-1' is wrong; expecting 'eu-west-1'"
    match = re.search(r"expecting '([a-z0-9-]+)'", str(error.get("Message", "")))
    return match.group(1) if match else None


@cache
def _kinds():
    """botocore's exception classes, sorted by what they mean to the admin."""
    from botocore import exceptions as bx
    from urllib3.exceptions import ProtocolError

    return {
        "no_credentials": (
            bx.NoCredentialsError,
            bx.PartialCredentialsError,
            bx.CredentialRetrievalError,
        ),
        # EndpointConnectionError covers proxy, connect-timeout and SSL errors too
        "unreachable": (
            bx.EndpointConnectionError,
            bx.ConnectTimeoutError,
            bx.ProxyConnectionError,
            bx.SSLError,
            bx.ConnectionClosedError,
            bx.ReadTimeoutError,
        ),
        # a transfer that started and broke off (checked after "unreachable")
        "cut_off": (
            bx.IncompleteReadError,
            bx.ResponseStreamingError,
            bx.HTTPClientError,
            ProtocolError,
            ConnectionError,  # the builtin: ConnectionResetError, BrokenPipeError...
        ),
        "bad_parameter": (bx.ParamValidationError,),
        "client_error": (bx.ClientError,),
    }


_REGION_CODES = {
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
    "301",
}
_DENIED_CODES = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "AccountProblem"}
_BAD_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
}
# A 404 to these cannot mean "no such object" (they create one): the bucket is missing.
_CREATING_OPERATIONS = {"PutObject", "CreateMultipartUpload", "CopyObject"}
_CHECKSUM_CODES = {
    "XAmzContentSHA256Mismatch",
    "InvalidDigest",
    "BadDigest",
    "NotImplemented",
    "InvalidArgument",
}


def translate_client_error(
    exc: BaseException,
    operation: str,
    bucket: str,
    key: str | None = None,
    region: str | None = None,
) -> Exception:
    """Return the Django-flavoured exception for a botocore error.

    ``operation`` is the S3 API name (``PutObject``...), ``bucket`` the
    bucket and ``key`` the object key if any; ``region`` the region the
    storage is configured for (used in wrong-region messages). Callers
    raise the result ``from None``: a user sees one line with its fix, not
    botocore's traceback; the original stays on ``.botocore_error`` for
    debugging. Unknown errors become a plain ``S3StorageError`` with the
    (scrubbed) server message.
    """
    if isinstance(exc, S3StorageError):
        return exc
    translated = _translate(exc, operation, bucket, key, region)
    translated.botocore_error = exc
    return translated


def _translate(
    exc: BaseException, operation: str, bucket: str, key: str | None, region: str | None
) -> Exception:
    where = _where(operation, bucket, key)
    kind = type(exc).__name__
    kw = dict(operation=operation, bucket=bucket, key=key)

    kinds = _kinds()
    if isinstance(exc, kinds["no_credentials"]):
        places = "; ".join(CREDENTIAL_PLACES)
        return S3NoCredentials(
            f"{where} failed: no AWS credentials were found (looked in: {places}).",
            code="NoCredentials",
            **kw,
            fix="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in your secret settings "
            "(or the environment), or configure an AWS profile / instance role.",
        )
    if isinstance(exc, kinds["unreachable"]):
        return S3EndpointError(
            f"{where} failed: could not reach the S3 endpoint ({kind}).",
            code=kind,
            **kw,
            fix="check AWS_S3_ENDPOINT_URL / AWS_S3_REGION_NAME, AWS_S3_PROXIES and your network.",
        )
    if isinstance(exc, kinds["cut_off"]):
        return S3StorageError(
            f"{where} failed: the transfer was cut off ({kind}).",
            code=kind,
            **kw,
            fix="retry; if it keeps happening check the network, proxy or AWS_S3_ENDPOINT_URL.",
        )
    if isinstance(exc, kinds["bad_parameter"]):
        return S3StorageError(
            f"{where} failed: {scrub(exc)}",
            code=kind,
            **kw,
            fix="check the bucket name and key for invalid characters.",
        )

    if not isinstance(exc, kinds["client_error"]):
        return S3StorageError(
            f"{where} failed: {kind}: {scrub(exc)}",
            code=kind,
            **kw,
            fix="see the S3 error code documentation; run 'evennia s3_check' for a full diagnosis.",
        )
    error, headers, code, status = _response_parts(exc)
    if not code and status:
        code = str(status)

    if code == "NoSuchUpload":
        return S3StorageError(
            f"{where} failed: the multipart upload is gone (aborted or completed by someone else).",
            code=code,
            **kw,
            fix="run the upload again; if it keeps happening, check for a lifecycle rule or another "
            "process aborting incomplete multipart uploads on this bucket.",
        )
    if code in ("NoSuchBucket",) or (
        code in ("404", "NotFound") and (not key or operation in _CREATING_OPERATIONS)
    ):
        return S3BucketNotFound(
            f"{where} failed: the bucket '{bucket}' does not exist.",
            code="NoSuchBucket",
            **kw,
            fix="create it (or set AWS_AUTO_CREATE_BUCKET = True), or correct AWS_STORAGE_BUCKET_NAME.",
        )
    if code in ("NoSuchKey", "404", "NotFound"):
        return S3ObjectNotFound(
            f"{where} failed: the object does not exist.",
            code="NoSuchKey",
            **kw,
            fix="check the file name (and AWS_LOCATION prefix).",
        )
    if code in _REGION_CODES or status == 301:
        real = real_region_of(exc)
        said = f" (configured: {region})" if region else ""
        if real:
            msg = f"{where} failed: the bucket is in region '{real}', not the configured one{said}."
            fix = f"set AWS_S3_REGION_NAME = '{real}'."
        else:
            msg = f"{where} failed: the bucket is in a different region than the configured one{said}."
            fix = "set AWS_S3_REGION_NAME to the bucket's region (see the S3 console)."
        return S3WrongRegion(msg, real_region=real, code=code or "PermanentRedirect", fix=fix, **kw)
    if code == "AccessControlListNotSupported":
        return S3AclNotSupported(
            f"{where} failed: the bucket has ACLs disabled (Object Ownership 'bucket owner enforced'),"
            " so objects cannot be uploaded with an ACL.",
            code=code,
            **kw,
            fix="remove AWS_DEFAULT_ACL (leave it None) and grant public read with a bucket policy.",
        )
    if code in _BAD_CREDENTIAL_CODES:
        return S3InvalidCredentials(
            f"{where} failed: the credentials were rejected ({code}).",
            code=code,
            **kw,
            fix="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) are current "
            "and belong together.",
        )
    if code in _DENIED_CODES or status == 403:
        return S3AccessDenied(
            f"{where} was denied (AccessDenied).",
            code="AccessDenied",
            **kw,
            fix=f"allow s3:{_permission_for(operation)} on arn:aws:s3:::{bucket}"
            f"{'/*' if key or operation in _OBJECT_OPS else ''} in the IAM policy of these "
            "credentials and in the bucket policy.",
        )
    if code in _CHECKSUM_CODES and "checksum" in str(error.get("Message", "")).lower():
        return S3StorageError(
            f"{where} failed: the store rejected the request checksum ({code}).",
            code=code,
            **kw,
            fix="set AWS_S3_REQUEST_CHECKSUM_CALCULATION = 'when_required' (S3-compatible stores).",
        )
    if code == "400" and operation.startswith("Head"):
        # A HEAD answer has no body, so no error code: S3 sends a bare 400 for
        # an expired or malformed session token (ExpiredToken, InvalidToken).
        return S3StorageError(
            f"{where} failed: 400 Bad Request, without an error code (an answer to HEAD has "
            "none); with temporary credentials this usually means they expired (ExpiredToken).",
            code=code,
            **kw,
            fix="run 'evennia s3_check': it shows where the credentials come from and when they "
            "expire; a fixed AWS_SESSION_TOKEN cannot be renewed while the game runs.",
        )
    message = scrub(error.get("Message") or exc)
    return S3StorageError(
        f"{where} failed: {code or kind}: {message}",
        code=code or kind,
        **kw,
        fix="see the S3 error code documentation; run 'evennia s3_check' for a full diagnosis.",
    )


_OBJECT_OPS = {
    "PutObject",
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "CopyObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
}


def _permission_for(operation: str) -> str:
    """The IAM action name an API operation needs."""
    return {
        "HeadObject": "GetObject",
        "ListObjectsV2": "ListBucket",
        "ListObjects": "ListBucket",
        "HeadBucket": "ListBucket",
        "CreateMultipartUpload": "PutObject",
        "UploadPart": "PutObject",
        "CompleteMultipartUpload": "PutObject",
        "AbortMultipartUpload": "AbortMultipartUpload",
        "CopyObject": "PutObject",
    }.get(operation, operation)
