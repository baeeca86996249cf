"""The boto3 client behind a storage, and the bucket handle the original contrib had.

One client per storage, created on first use and shared by every thread
(boto3 clients are thread-safe; sessions are not), with a connection pool
sized for parallel uploads. Credentials come from the options, a named
profile or boto3's own chain (``credentials.session_for``); the client signs
with the session's own credentials object, so boto3 renews an assumed role,
SSO or web identity while the game runs. What is shown of them is masked.
"""

from __future__ import annotations

import threading

from botocore.exceptions import BotoCoreError, ProfileNotFound

from . import conf as s3conf
from .credentials import remember, session_for
from .errors import S3BucketNotFound, S3ConfigurationError, S3WrongRegion

#: Tries per request, the first included, in botocore's "standard" retry mode
#: (exponential backoff with jitter, throttling and 5xx and connection errors).
#: The only retries there are: no code of ours repeats a request. Five keeps a
#: sync converging through 10 % of requests failing (a failure rate of 1e-5 per
#: request) without hiding a dead endpoint for long.
RETRY_MAX_ATTEMPTS = 5

__all__ = [
    "RETRY_MAX_ATTEMPTS",
    "BucketAccess",
    "S3Bucket",
    "check_bucket",
    "client_config",
    "create_bucket_if_missing",
    "create_client",
    "require_bucket_name",
]


def client_config(storage):
    """The botocore Config built from the options (user ``config`` merged over it)."""
    from botocore.config import Config

    kwargs = dict(
        signature_version=storage.signature_version or "s3v4",
        max_pool_connections=storage.max_pool_connections,
        retries={"mode": "standard", "total_max_attempts": RETRY_MAX_ATTEMPTS},
    )
    if storage.addressing_style:
        kwargs["s3"] = {"addressing_style": storage.addressing_style}
    if storage.proxies:
        kwargs["proxies"] = storage.proxies
    if storage.request_checksum_calculation:
        kwargs["request_checksum_calculation"] = storage.request_checksum_calculation
    if storage.response_checksum_validation:
        kwargs["response_checksum_validation"] = storage.response_checksum_validation
    config = Config(**kwargs)
    if storage.config is not None:
        config = config.merge(storage.config)
    return config


def create_client(storage):
    """A new S3 client for ``storage``'s options; clear errors, never a secret.

    botocore's session (``credentials.session_for``) and its S3 model load
    with the first client; botocore's exceptions and Config, which every S3
    path uses, come with the storage module. The sync and the storage send
    all their requests on this one client.
    """
    if storage.access_key and not storage.secret_key and not storage.session_profile:
        raise S3ConfigurationError(
            f"An access key is set ({storage.credential_source()}) but no secret key.",
            code="PartialCredentials",
            fix="set AWS_SECRET_ACCESS_KEY (or OPTIONS secret_key) next to it.",
            bucket=storage.bucket_name or "",
        )
    if storage.region_name and not s3conf.REGION_NAME_RE.match(storage.region_name):
        raise S3ConfigurationError(
            f"AWS_S3_REGION_NAME (OPTIONS region_name) = {storage.region_name!r} is not a region "
            "name (one host label: letters, digits and '-').",
            code="InvalidRegion",
            bucket=storage.bucket_name or "",
            fix="set AWS_S3_REGION_NAME to the bucket's region, e.g. 'eu-west-1'.",
        )
    try:
        session = session_for(storage)
        client = session.create_client(
            "s3",
            region_name=storage.region_name,
            use_ssl=storage.use_ssl,
            endpoint_url=storage.endpoint_url,
            config=storage.client_config(),
            verify=storage.verify,
        )
        remember(client, session)  # for the diagnostics: source and expiry
        return client
    except ProfileNotFound:
        raise S3ConfigurationError(
            f"The AWS profile {storage.session_profile!r} (AWS_S3_SESSION_PROFILE / OPTIONS "
            "session_profile) is not in the AWS config or credentials files.",
            code="ProfileNotFound",
            bucket=storage.bucket_name or "",
            fix=f"create it (aws configure --profile {storage.session_profile}) or correct "
            "AWS_S3_SESSION_PROFILE.",
        ) from None
    except (BotoCoreError, ValueError) as exc:
        # botocore's messages here name the profile/region/endpoint, never a secret;
        # "from None": the user gets our one-line fix, not botocore's traceback.
        raise S3ConfigurationError(
            f"Could not create the S3 client: {type(exc).__name__}: {exc}",
            code=type(exc).__name__,
            bucket=storage.bucket_name or "",
            fix="check AWS_S3_REGION_NAME, AWS_S3_ENDPOINT_URL and AWS_S3_SESSION_PROFILE "
            "(the profile must exist in the AWS config/credentials files).",
        ) from None


class S3Bucket:
    """What ``storage.bucket`` returns: a lightweight handle, not a boto3 resource.

    ``name`` is the bucket name (``str(bucket)`` too), ``client`` the
    storage's shared boto3 client. It exists so code written for the original contrib's
    ``storage.bucket.name`` keeps working.
    """

    __slots__ = ("name", "_storage")

    def __init__(self, name, storage):
        self.name = name
        self._storage = storage

    @property
    def client(self):
        return self._storage.connection

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"<S3Bucket {self.name!r}>"

    def __eq__(self, other):
        if isinstance(other, S3Bucket):
            return self.name == other.name
        return self.name == other

    def __hash__(self):
        return hash(self.name)


def require_bucket_name(storage) -> None:
    """Raise a clear error, with its fix, when ``storage`` has no bucket name."""
    if not storage.bucket_name:
        raise S3ConfigurationError(
            f"{type(storage).__name__} has no bucket name.",
            code="NoBucketName",
            fix="set AWS_STORAGE_BUCKET_NAME = 'your-bucket' in your settings "
            "(or 'bucket_name' in STORAGES OPTIONS).",
        )


def check_bucket(storage) -> str:
    """HeadBucket: raise a clear error if the bucket is missing, in another
    region or not accessible; return its region."""
    response = storage._call("HeadBucket")
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    real = headers.get("x-amz-bucket-region") or response.get("BucketRegion")
    configured = storage.region_name or storage.connection.meta.region_name
    if real and configured and real != configured:
        raise S3WrongRegion(
            f"S3 HeadBucket on bucket '{storage.bucket_name}' failed: the bucket is in region "
            f"'{real}', not the configured '{configured}'.",
            real_region=real,
            code="WrongRegion",
            operation="HeadBucket",
            bucket=storage.bucket_name,
            fix=f"set AWS_S3_REGION_NAME = '{real}'.",
        )
    return real or configured


def create_bucket_if_missing(storage) -> None:
    """For ``auto_create_bucket``: create the bucket (with ``bucket_acl``, in
    the configured region) unless HeadBucket finds it."""
    try:
        check_bucket(storage)
    except S3BucketNotFound:
        params = {}
        if storage.bucket_acl:
            params["ACL"] = storage.bucket_acl
        region = storage.region_name or storage.connection.meta.region_name
        if region and region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        storage._call("CreateBucket", **params)


class BucketAccess:
    """What ``storage.bucket`` returns, made once per storage; with
    ``auto_create_bucket``, the bucket is created (if missing) once, by
    whichever thread gets there first."""

    def __init__(self):
        self._lock = threading.Lock()
        self._checked = False
        self._handle = None

    def handle(self, storage) -> S3Bucket:
        require_bucket_name(storage)
        if self._handle is None or self._handle.name != storage.bucket_name:
            self._handle = S3Bucket(storage.bucket_name, storage)
        self.ensure(storage)
        return self._handle

    def ensure(self, storage) -> None:
        if storage.auto_create_bucket and not self._checked:
            with self._lock:
                if not self._checked:
                    create_bucket_if_missing(storage)
                    self._checked = True
