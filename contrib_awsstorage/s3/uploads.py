"""What an upload sends besides the bytes: headers, content type, gzip, the source checksum.

The storage's ``save()``, the file object's ``close()`` and the sync all ask
here, so one file becomes the same object (same body, same headers) whoever
writes it, and a later run can tell by comparing that nothing changed.
"""

from __future__ import annotations

import hashlib
import io
import json

from botocore.exceptions import BotoCoreError, ClientError
from django.utils.encoding import force_bytes

from ..media_types import guess_content_type, static_cache_control
from .client import require_bucket_name
from .errors import S3ConfigurationError
from .objects import SOURCE_MD5_METADATA_KEY, gzip_bytes
from .transfer import DEFAULT_PART_WORKERS, expected_etag, upload

__all__ = [
    "copy_object_parameters",
    "gzips_body",
    "is_static_storage",
    "metadata_fingerprint",
    "metadata_params",
    "prepare_upload",
    "send",
    "upload_params",
]


def copy_object_parameters(parameters) -> dict:
    """A copy of ``AWS_S3_OBJECT_PARAMETERS`` deep enough to modify (its Metadata too)."""
    params = dict(parameters)
    if "Metadata" in params:
        params["Metadata"] = dict(params["Metadata"])
    return params


def _content_type_header(name, content_type, default_type) -> str:
    """The Content-Type header: the caller's (text types get ``charset=utf-8``
    unless they name one), else guessed from the name."""
    if not content_type:
        return guess_content_type(name, default_type)[1]
    bare = content_type.split(";")[0].strip()
    if "charset" in content_type or not bare.startswith("text/"):
        return content_type
    return f"{bare}; charset=utf-8"


def is_static_storage(storage) -> bool:
    """True when ``storage`` holds static files, which carry their caching: its
    URLs are unsigned (``querystring_auth`` False, as S3StaticStorage and
    S3ManifestStaticStorage set), so anyone, a CDN too, may cache what it
    serves. A storage with signed URLs (media, private files) gets no
    Cache-Control: a shared cache must not keep a private file."""
    return not getattr(storage, "querystring_auth", True)


def upload_params(storage, name, content_type=None, *, hashed=False) -> dict:
    """PutObject / CreateMultipartUpload arguments for storage name ``name``
    (no body, no checksum): the storage's per-file parameters
    (``get_object_parameters``), then Cache-Control (static storages:
    ``media_types.static_cache_control``; ``hashed``: a static manifest lists
    the name), Content-Type, ACL, encryption and storage class from the
    options, where the parameters do not set them."""
    params = storage.get_object_parameters(name)
    if "CacheControl" not in params and is_static_storage(storage):
        params["CacheControl"] = static_cache_control(name, hashed)
    if "ContentType" not in params:
        params["ContentType"] = _content_type_header(
            name, content_type, storage.default_content_type
        )
    if storage.default_acl and "ACL" not in params:
        params["ACL"] = storage.default_acl
    if storage.encryption and "ServerSideEncryption" not in params:
        params["ServerSideEncryption"] = "AES256"
    if storage.reduced_redundancy and "StorageClass" not in params:
        params["StorageClass"] = "REDUCED_REDUNDANCY"
    return params


def metadata_params(storage, name, content_type=None, *, hashed=False) -> dict:
    """``upload_params`` plus ``ContentEncoding: gzip`` when the body will be
    gzipped (``gzip`` on, the type in ``gzip_content_types``, no
    ContentEncoding of the parameters' own): every header the settings give
    ``name``, known without reading its bytes."""
    params = upload_params(storage, name, content_type, hashed=hashed)
    if gzips_body(storage, params):
        params["ContentEncoding"] = "gzip"
    return params


def gzips_body(storage, params) -> bool:
    """True when the body of an upload with ``params`` (``upload_params``) is gzipped."""
    bare = params["ContentType"].split(";")[0].strip()
    return storage.gzip and bare in storage.gzip_content_types and "ContentEncoding" not in params


def metadata_fingerprint(params: dict) -> str:
    """A short digest of ``metadata_params``: the sync records it per object
    and sets the headers in place (CopyObject) when it changes."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:16]


def prepare_upload(storage, name, data, content_type=None, *, hashed=False) -> tuple[bytes, dict]:
    """``(body, params)``: exactly what to send for ``name``.

    The body is ``data`` gzipped (deterministically) when ``metadata_params``
    says ContentEncoding gzip. ``params`` carry
    ``Metadata[SOURCE_MD5_METADATA_KEY]``, the MD5 of the original bytes:
    an ETag cannot say whether a gzipped or multipart object holds a file.
    """
    data = force_bytes(data)
    params = upload_params(storage, name, content_type, hashed=hashed)
    body = data
    if gzips_body(storage, params):
        body, params["ContentEncoding"] = gzip_bytes(data), "gzip"
    metadata = dict(params.get("Metadata") or {})
    metadata[SOURCE_MD5_METADATA_KEY] = hashlib.md5(data).hexdigest()
    params["Metadata"] = metadata
    return body, params


def send(storage, name, key, data, content_type=None) -> tuple[int, str]:
    """Upload ``data`` for storage name ``name`` as ``key``, shaped by
    ``prepare_upload``, through s3transfer (one PutObject, or a multipart upload
    in parts of ``file_buffer_size``). Returns ``(stored size, expected ETag)``;
    errors are ``s3/errors.py`` exceptions naming the operation that failed."""
    require_bucket_name(storage)
    storage._ensure_bucket()
    body, params = storage.prepare_upload(name, data, content_type)
    part = storage.file_buffer_size
    client = storage.connection
    try:
        upload(client, storage.bucket_name, key, io.BytesIO(body), params,
               threshold=part, chunksize=part,
               workers=min(DEFAULT_PART_WORKERS, storage.max_pool_connections))  # fmt: skip
    except (ClientError, BotoCoreError) as exc:
        operation = getattr(exc, "operation_name", None) or "PutObject"
        raise storage._translate(exc, operation, key) from None
    except ValueError as exc:  # s3transfer refuses an argument it does not know
        raise S3ConfigurationError(
            f"Uploading s3://{storage.bucket_name}/{key} failed: {exc}",
            code="InvalidUploadArgument",
            operation="PutObject",
            bucket=storage.bucket_name,
            key=key,
            fix="remove that argument from AWS_S3_OBJECT_PARAMETERS (or get_object_parameters()).",
        ) from None
    return len(body), expected_etag(body, part, part)
