"""CloudFront for a storage: its client, its errors, and signed URLs.

A distribution in front of the bucket is named by ``cloudfront_distribution_id``
(``AWS_CLOUDFRONT_DISTRIBUTION_ID``); ``cloudfront_endpoint_url``
(``AWS_CLOUDFRONT_ENDPOINT_URL``) points the client at a CloudFront-compatible
service (moto in the tests). The client signs with the storage's own
credentials. Signed URLs for private media use botocore's
``CloudFrontSigner`` with an RSA key of a CloudFront key group
(``cloudfront_key_id`` + ``cloudfront_key``, PEM text or a path to it), signed
with the ``cryptography`` package (the ``cloudfront`` extra). The key is never
put into a message, a log line or a repr.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "CloudFrontError",
    "cloudfront_client",
    "distribution_id",
    "signed_url",
    "load_private_key",
    "translate_cloudfront_error",
    "normalise_status",
]

PEM_MARKER = "-----BEGIN"
# CloudFront is a global service; its API lives in us-east-1.
CLOUDFRONT_REGION = "us-east-1"


class CloudFrontError(Exception):
    """A CloudFront call failed: ``str()`` is one line ending in its fix."""

    def __init__(self, message: str, *, code: str = "", fix: str = ""):
        self.code, self.fix = code, fix
        super().__init__(f"{message} Fix: {fix}" if fix else message)


def distribution_id(storage) -> str | None:
    return getattr(storage, "cloudfront_distribution_id", None) or None


def _setting_name(storage, attr: str, default: str) -> str:
    """The setting/option a value came from, for error messages."""
    source = (getattr(storage, "_sources", None) or {}).get(attr, "")
    if source.startswith("setting ") or source.startswith("environment variable "):
        return source.split(" ")[-1]
    if source.startswith("STORAGES OPTIONS"):
        return f"STORAGES OPTIONS {attr!r}"
    return default


# -- the client -------------------------------------------------------------
def cloudfront_client(
    storage, *, connect_timeout: float = 5, read_timeout: float = 20, attempts: int = 3
):
    """A CloudFront client with the storage's credentials (short timeouts:
    an unreachable CloudFront must not hold up a deploy or a reload)."""
    from botocore.config import Config

    from .credentials import session_for

    session = session_for(storage)
    kwargs = dict(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": attempts},
    )
    if storage.proxies:
        kwargs["proxies"] = storage.proxies
    return session.create_client(
        "cloudfront",
        region_name=CLOUDFRONT_REGION,
        endpoint_url=getattr(storage, "cloudfront_endpoint_url", None) or None,
        verify=storage.verify,
        config=Config(**kwargs),
    )


def normalise_status(status) -> str:
    """CloudFront says ``InProgress``/``Completed``; some compatible services
    (moto) say ``COMPLETED``. One spelling for our summaries."""
    text = str(status or "")
    return {"completed": "Completed", "inprogress": "InProgress"}.get(
        text.replace("_", "").lower(), text
    )


def translate_cloudfront_error(exc, operation: str, dist_id: str) -> CloudFrontError:
    """One line with its fix for a botocore error from CloudFront."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    from .errors import scrub

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = scrub(str(error.get("Message", "")))
        if code == "NoSuchDistribution":
            return CloudFrontError(
                f"CloudFront {operation}: there is no distribution {dist_id!r}.",
                code=code,
                fix="set AWS_CLOUDFRONT_DISTRIBUTION_ID to the ID the "
                "CloudFront console shows for the distribution in front of the bucket.",
            )
        if code in (
            "AccessDenied",
            "AccessDeniedException",
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
        ):
            return CloudFrontError(
                f"CloudFront {operation} on distribution {dist_id!r} was refused ({code}).",
                code=code,
                fix=f"allow cloudfront:{operation} (and cloudfront:GetInvalidation, "
                "cloudfront:GetDistribution) on this distribution for the storage's credentials.",
            )
        if code == "TooManyInvalidationsInProgress":
            return CloudFrontError(
                f"CloudFront {operation}: distribution {dist_id!r} already has the most invalidations "
                "in progress it allows (3,000 paths or 15 wildcard paths).",
                code=code,
                fix="wait until they complete; the next sync sends these paths again.",
            )
        return CloudFrontError(
            f"CloudFront {operation} on distribution {dist_id!r} failed: {code}: {message}".rstrip(
                ": "
            ),
            code=code,
            fix="see the CloudFront error above; the next sync sends these paths again.",
        )
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        return CloudFrontError(
            f"CloudFront {operation}: cannot reach CloudFront ({type(exc).__name__}).",
            code=type(exc).__name__,
            fix="check the network and AWS_CLOUDFRONT_ENDPOINT_URL (unset for AWS); "
            "the next sync sends these paths again.",
        )
    if isinstance(exc, NoCredentialsError):
        return CloudFrontError(
            f"CloudFront {operation}: no AWS credentials.",
            code="NoCredentials",
            fix="give the storage credentials (AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY or a profile).",
        )
    return CloudFrontError(
        f"CloudFront {operation} failed: {type(exc).__name__}: {scrub(str(exc))}",
        code=type(exc).__name__,
    )


# -- signed URLs ---------------------------------------------------------------
def load_private_key(value, setting: str = "AWS_CLOUDFRONT_KEY"):
    """The RSA private key in ``value`` (PEM text/bytes, or the path of a PEM file).

    ``ImproperlyConfigured`` names ``setting`` and says how to fix it, and
    never contains the key (nor what was given instead of one).
    """
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:  # pragma: no cover - depends on install
        raise ImproperlyConfigured(
            f"{setting} is set, but signing CloudFront URLs needs the 'cryptography' package. "
            "Fix: pip install 'contrib-awsstorage[cloudfront]'."
        ) from None
    data = value.encode() if isinstance(value, str) else bytes(value or b"")
    where = "the value"
    if PEM_MARKER.encode() not in data:
        path = os.path.expanduser(data.decode(errors="replace").strip()) if data else ""
        if not path or len(path) > 4096 or not os.path.isfile(path):
            raise ImproperlyConfigured(
                f"{setting} is neither a PEM private key nor the path of a readable file. Fix: set "
                f"{setting} to the PEM text of the CloudFront key group's private key (it starts with "
                f"'{PEM_MARKER} PRIVATE KEY-----') or to the path of that .pem file."
            )
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{setting}: the key file {path!r} cannot be read ({exc.strerror}). Fix: make it "
                "readable by the user that runs the game."
            ) from None
        where = f"the file {path!r}"
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            f"{setting}: {where} is not an unencrypted PEM private key. Fix: use the private key "
            "of the CloudFront public key (openssl genrsa -out private_key.pem 2048), without a "
            "passphrase."
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ImproperlyConfigured(
            f"{setting}: {where} holds a {type(key).__name__.lstrip('_')}, not an RSA key. Fix: "
            "CloudFront signed URLs need an RSA key (openssl genrsa -out private_key.pem 2048)."
        )
    return key


@functools.lru_cache(maxsize=8)
def _signer(key_id: str, key_value, setting: str):
    from botocore.signers import CloudFrontSigner
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = load_private_key(key_value, setting)
    # CloudFront verifies RSA-SHA1 PKCS#1 v1.5 signatures (its documented scheme).
    return CloudFrontSigner(
        key_id, lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1())
    )


def signer_for(storage):
    """The storage's CloudFrontSigner (cached), or ``ImproperlyConfigured`` naming the setting."""
    key_id, key = storage.cloudfront_key_id, storage.cloudfront_key
    key_setting = _setting_name(storage, "cloudfront_key", "AWS_CLOUDFRONT_KEY")
    if not key:
        raise ImproperlyConfigured(
            f"{_setting_name(storage, 'cloudfront_key_id', 'AWS_CLOUDFRONT_KEY_ID')} is set but "
            "AWS_CLOUDFRONT_KEY is not, so CloudFront URLs cannot be signed. Fix: set "
            "AWS_CLOUDFRONT_KEY (or OPTIONS 'cloudfront_key') to the key group's private key (PEM or a path)."
        )
    if not key_id:
        raise ImproperlyConfigured(
            f"{key_setting} is set but AWS_CLOUDFRONT_KEY_ID is not. Fix: set AWS_CLOUDFRONT_KEY_ID "
            "(or OPTIONS 'cloudfront_key_id') to the ID of the CloudFront public key (e.g. K2JCJMDEHXQW5F)."
        )
    return _signer(key_id, key, key_setting)


def signed_url(storage, url: str, expire: int | None = None) -> str:
    """``url`` signed for CloudFront with a canned policy, valid ``expire``
    (default ``querystring_expire``) seconds from now."""
    seconds = storage.querystring_expire if expire is None else expire
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    return signer_for(storage).generate_presigned_url(url, date_less_than=until)
