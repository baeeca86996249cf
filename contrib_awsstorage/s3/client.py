"""The boto3 client behind a storage, and the bucket handle the original contrib had.

One client per storage, created on first use and shared by every thread
(boto3 clients are thread-safe; sessions are not), with a connection pool
sized for parallel uploads. Credentials come from the options, a named
profile or boto3's own chain (``credentials.session_for``); the client signs
with the session's own credentials object, so boto3 renews an assumed role,
SSO or web identity while the game runs. What is shown of them is masked.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ProfileNotFound

from . import conf as s3conf
from .credentials import remember, session_for
from .errors import S3ConfigurationError

__all__ = ["S3Bucket", "client_config", "create_client"]


def client_config(storage):
    """The botocore Config built from the options (user ``config`` merged over it)."""
    from botocore.config import Config

    kwargs = dict(
        signature_version=storage.signature_version or "s3v4",
        max_pool_connections=storage.max_pool_connections,
        retries={"mode": "standard", "max_attempts": 3},
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
    """A new boto3 S3 client for ``storage``'s options; clear errors, never a secret.

    boto3 is imported with the first client (``credentials.session_for``): a
    process that only builds URLs, or whose sync has nothing to do, never loads it.
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
        client = session.client(
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
