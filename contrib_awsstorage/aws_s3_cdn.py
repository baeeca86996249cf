"""
AWS Storage System
The Right Honourable Reverend (trhr) 2020, modernised.

Django storage classes that keep an Evennia game's (or any Django site's)
static files and uploads on Amazon S3 or an S3-compatible store.

Compared with Evennia's original contrib this module

- reads its settings when a storage is *created*, never at import
  (``STORAGES`` OPTIONS > ``AWS_*`` settings > environment > boto3's chain,
  see ``s3/conf.py``), and rejects unknown or mistyped options by name;
- is built on one thread-safe boto3 *client* (the resource API is frozen
  upstream) with a connection pool sized for parallel uploads;
- builds unsigned URLs (custom domain, or ``querystring_auth`` off) with
  plain string work: no client, no request, no signing;
- answers ``exists``/``size``/``get_modified_time`` from one paginated
  listing when ``preload_metadata`` is on;
- writes objects deterministically (same bytes, same headers every run) and
  records the source MD5 in their metadata, so a later sync can compare
  even gzipped or multipart objects;
- turns botocore errors into Django exceptions with a one-line fix
  (``s3/errors.py``), and never shows a secret (not even in ``repr``).

This module keeps the storage classes; their parts live in ``s3/`` (the
file object ``open()`` returns, the client, names, URLs, uploads) and the
historic helper names are re-exported here. None of it imports Evennia or
Twisted.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible
from django.utils.encoding import force_bytes, force_str, smart_str
from django.utils.timezone import is_naive, make_naive

from .media_types import FALLBACK_TYPE, guess_content_type
from .s3 import conf as s3conf
from .s3.errors import (
    S3ConfigurationError,
    S3ObjectNotFound,
    S3StorageError,
    mask_access_key,
    translate_client_error,
)
from .s3.keys import location_prefix
from .s3.multipart import DEFAULT_PART_WORKERS, upload_in_parts
from .s3.objects import SOURCE_MD5_METADATA_KEY, gzip_bytes
from .stock_collectstatic import session_for

try:
    # boto3 itself (and botocore's Config) load with the first client: a process
    # that only builds URLs, or whose sync has nothing to do, never pays for them.
    from botocore import xform_name
    from botocore.exceptions import BotoCoreError, ClientError

    from .s3.client import S3Bucket, client_config, create_client
except ImportError as e:  # pragma: no cover - depends on install
    raise ImproperlyConfigured(f"Couldn't load S3 bindings. {e} Fix: pip install boto3") from e

# The parts live in s3/; re-exported so every historic import path
# (settings, migrations, the original contrib's documentation) keeps working.
from .s3.file import S3Boto3StorageFile  # noqa: E402
from .s3.names import (  # noqa: E402
    check_location,
    clean_name,
    get_available_overwrite_name,
    lookup_env,
    safe_join,
    setting,
)
from .s3.urls import (  # noqa: E402
    custom_domain_url,
    object_url,
    presigned_url,
    strip_signing_parameters,
    unsigned_bucket_url,
)

__all__ = [
    "SOURCE_MD5_METADATA_KEY",
    "setting",
    "safe_join",
    "check_location",
    "lookup_env",
    "get_available_overwrite_name",
    "clean_name",
    "gzip_bytes",
    "S3Bucket",
    "S3Boto3StorageFile",
    "S3Boto3Storage",
    "S3StaticStorage",
    "S3ManifestStaticStorage",
]


def _as_utc(value):
    """botocore's datetimes carry tzlocal/tzutc; normalise to datetime.timezone.utc."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _utc_now():
    return datetime.now(UTC).replace(microsecond=0)


# -- the storage -----------------------------------------------------------------
# What the cached unsigned URL prefix is built from: setting one drops the cache.
_URL_ATTRS = frozenset(
    {
        "custom_domain",
        "querystring_auth",
        "url_protocol",
        "secure_urls",
        "bucket_name",
        "endpoint_url",
        "region_name",
        "addressing_style",
        "use_ssl",
        "location",
    }
)
_UNSET = object()


@deconstructible
@s3conf.with_option_defaults
class S3Boto3Storage(Storage):
    """
    A Django storage whose files are objects in one S3 bucket, under
    ``location``. Files open for reading or writing; writes are buffered and
    go up in one request, or in parts when they are big.

    Every option of the options table (``s3/conf.py``) is a class attribute
    holding its default, set from the table itself; a subclass may override
    one, which beats settings but not ``OPTIONS``.
    """

    default_content_type = FALLBACK_TYPE
    # used for looking up the access and secret key from env vars
    access_key_names = ["AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"]
    secret_key_names = ["AWS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"]
    security_token_names = ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"]

    def __init__(self, acl=None, bucket=None, **settings):
        """
        Resolve every option (OPTIONS/keyword arguments > subclass attribute
        > ``AWS_*`` settings > environment > default) and validate it.
        ``acl`` and ``bucket`` are the original contrib's aliases of ``default_acl`` and
        ``bucket_name``. Nothing is sent to S3 here.
        """
        if acl is not None:
            settings.setdefault("default_acl", acl)
        if bucket is not None:
            settings.setdefault("bucket_name", bucket)
        values, sources = s3conf.resolve_with_sources(type(self), settings)
        self._sources = sources
        self._explicit_url_protocol = sources["url_protocol"] != "default"
        for name, value in values.items():
            setattr(self, name, value)
        if not self._explicit_url_protocol:
            self.url_protocol = "https:" if self.secure_urls else "http:"
        self.access_key = self.access_key or ""
        self.secret_key = self.secret_key or ""
        check_location(self)
        self._setup_runtime()

    def _setup_runtime(self):
        self._client = None
        self._client_lock = threading.Lock()
        self._entries = None
        self._entries_lock = threading.RLock()
        self._bucket = None
        self._bucket_checked = False
        self._bucket_lock = threading.Lock()
        self.__dict__["_url_prefix"] = _UNSET

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name in _URL_ATTRS:
            self.__dict__["_url_prefix"] = _UNSET

    # -- pickling / display ---------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        for name in (
            "_client",
            "_client_lock",
            "_entries",
            "_entries_lock",
            "_bucket",
            "_bucket_checked",
            "_bucket_lock",
            "_url_prefix",
            "_stock_collect_session",
        ):
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._setup_runtime()

    def __repr__(self):
        return (
            f"<{type(self).__name__} bucket={self.bucket_name!r} location={self.location!r} "
            f"region={self.region_name!r} endpoint={self.endpoint_url!r} "
            f"credentials={self.credential_source()!r}>"
        )

    # -- credentials ---------------------------------------------------------------
    def credential_source(self) -> str:
        """Where the credentials come from, in words (never the secret)."""
        if self.session_profile:
            return f"profile {self.session_profile!r} ({self._sources.get('session_profile')})"
        if self.access_key:
            return self._sources.get("access_key", "storage attribute access_key")
        return "boto3 default chain (shared credentials file / instance role)"

    def masked_access_key(self):
        """The access key id with its middle hidden, e.g. ``AKIA…WXYZ`` (None if from boto3's chain)."""
        key = None if self.session_profile else self.access_key
        return mask_access_key(key) if key else None

    # -- client ----------------------------------------------------------------------
    def client_config(self):
        """The botocore Config built from the options (user ``config`` merged over it)."""
        return client_config(self)

    def _create_client(self):
        return create_client(self)

    @property
    def connection(self):
        """
        The boto3 S3 *client*: created on first use, then shared by all threads
        (boto3 clients are thread-safe; sessions are not).
        """
        client = self._client
        if client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._create_client()
                client = self._client
        return client

    def _require_bucket_name(self):
        if not self.bucket_name:
            raise S3ConfigurationError(
                f"{type(self).__name__} has no bucket name.",
                code="NoBucketName",
                fix="set AWS_STORAGE_BUCKET_NAME = 'your-bucket' in your settings "
                "(or 'bucket_name' in STORAGES OPTIONS).",
            )

    def _call(self, operation, key=None, **kwargs):
        """Run one S3 API call; botocore errors become ``s3/errors.py`` exceptions."""
        self._require_bucket_name()
        method = getattr(self.connection, xform_name(operation))  # PutObject -> put_object
        try:
            return method(Bucket=self.bucket_name, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, operation, key) from None

    def _translate(self, exc, operation, key=None):
        """The ``s3/errors.py`` exception (with its fix) for botocore error ``exc``."""
        return translate_client_error(
            exc, operation, self.bucket_name, key, region=self.region_name
        )

    def _not_found(self, name, key):
        return FileNotFoundError(f"File does not exist: {name} (s3://{self.bucket_name}/{key})")

    # -- bucket -------------------------------------------------------------------------
    @property
    def bucket(self):
        """
        An ``S3Bucket`` handle (``.name``, ``.client``). No request is sent,
        except with ``auto_create_bucket``, where the first access creates
        the bucket if it is missing.
        """
        self._require_bucket_name()
        if self._bucket is None or self._bucket.name != self.bucket_name:
            self._bucket = S3Bucket(self.bucket_name, self)
        self._ensure_bucket()
        return self._bucket

    def check_bucket(self) -> str:
        """HeadBucket: raise a clear error if the bucket is missing, in another
        region or not accessible; return its region."""
        response = self._call("HeadBucket")
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        real = headers.get("x-amz-bucket-region") or response.get("BucketRegion")
        configured = self.region_name or self.connection.meta.region_name
        if real and configured and real != configured:
            from .s3.errors import S3WrongRegion

            raise S3WrongRegion(
                f"S3 HeadBucket on bucket '{self.bucket_name}' failed: the bucket is in region "
                f"'{real}', not the configured '{configured}'.",
                real_region=real,
                code="WrongRegion",
                operation="HeadBucket",
                bucket=self.bucket_name,
                fix=f"set AWS_S3_REGION_NAME = '{real}'.",
            )
        return real or configured

    def _ensure_bucket(self):
        """With ``auto_create_bucket``, create the bucket once if it is missing."""
        if not self.auto_create_bucket or self._bucket_checked:
            return
        with self._bucket_lock:
            if self._bucket_checked:
                return
            from .s3.errors import S3BucketNotFound

            try:
                self.check_bucket()
            except S3BucketNotFound:
                params = {}
                if self.bucket_acl:
                    params["ACL"] = self.bucket_acl
                region = self.region_name or self.connection.meta.region_name
                if region and region != "us-east-1":
                    params["CreateBucketConfiguration"] = {"LocationConstraint": region}
                self._call("CreateBucket", **params)
            self._bucket_checked = True

    # -- names ------------------------------------------------------------------------------
    def _clean_name(self, name):
        """``name`` with ``\\`` as ``/`` and ``a/../b`` folded (see ``clean_name``)."""
        return clean_name(name)

    def _normalize_name(self, name):
        """The key of ``name`` under ``location``; ``SuspiciousOperation`` if it
        would land outside it (``safe_join`` decides)."""
        try:
            return safe_join(self.location, name)
        except ValueError:
            raise SuspiciousOperation("Attempted access to '%s' denied." % name) from None

    def _encode_name(self, name):
        return smart_str(name, encoding=self.file_name_charset)

    def _decode_name(self, name):
        return force_str(name, encoding=self.file_name_charset)

    def key_for(self, name) -> str:
        """The S3 key of storage name ``name`` (location prefix applied);
        ``SuspiciousOperation`` if it would leave the location."""
        if (
            type(name) is str
            and name
            and name[0] != "/"
            and "/." not in "/" + name
            and "\\" not in name
            and "//" not in name
            and "\x00" not in name
        ):
            # Already normal (the common case, e.g. every {% static %}): nothing to clean.
            return self._key_prefix + name
        return self._normalize_name(clean_name(name))

    @property
    def _key_prefix(self):
        return location_prefix(self.location)

    def name_for(self, key) -> str:
        """The storage name of S3 key ``key`` (inverse of ``key_for``)."""
        key = force_str(key)
        location = self.location.strip("/")
        if not location:
            return key
        prefix = location + "/"
        if key.startswith(prefix):
            return key[len(prefix) :]
        if key == location:
            return ""
        raise ValueError(f"key {key!r} is outside this storage's location {location!r}")

    # -- uploads -------------------------------------------------------------------------
    def get_object_parameters(self, name):
        """
        Extra upload arguments for ``name`` (the storage name, without the
        location prefix): ``AWS_S3_OBJECT_PARAMETERS`` unless a subclass
        decides per file, e.g. a ContentDisposition for downloads. A
        ContentEncoding given here means the file is stored as it is, never
        gzipped again. The result is a fresh copy, safe to modify.
        """
        params = dict(self.object_parameters)
        if "Metadata" in params:
            params["Metadata"] = dict(params["Metadata"])
        return params

    def upload_params(self, name, content_type=None) -> dict:
        """PutObject/CreateMultipartUpload arguments for ``name`` (no body, no MD5)."""
        params = self.get_object_parameters(name)
        if "ContentType" not in params:
            if content_type:
                bare = content_type.split(";")[0].strip()
                header = (
                    content_type
                    if "charset" in content_type or not bare.startswith("text/")
                    else f"{bare}; charset=utf-8"
                )
            else:
                bare, header = guess_content_type(name, self.default_content_type)
            params["ContentType"] = header
        if self.default_acl and "ACL" not in params:
            params["ACL"] = self.default_acl
        if self.encryption and "ServerSideEncryption" not in params:
            params["ServerSideEncryption"] = "AES256"
        if self.reduced_redundancy and "StorageClass" not in params:
            params["StorageClass"] = "REDUCED_REDUNDANCY"
        return params

    def _get_write_parameters(self, name, content=None):
        """The original contrib's name for ``upload_params``."""
        return self.upload_params(name, getattr(content, "content_type", None))

    def prepare_upload(self, name, data, content_type=None):
        """Return ``(body, params)``: exactly what to send for ``name``.

        The body is ``data`` gzipped deterministically when ``gzip`` is on
        and the type is in ``gzip_content_types`` (and ``object_parameters``
        sets no ContentEncoding); ``params`` are the ``put_object`` /
        ``create_multipart_upload`` arguments, including
        ``Metadata[SOURCE_MD5_METADATA_KEY]`` = MD5 of the original bytes.
        ``_save`` and the sync engine both use it, so they write identical objects.
        """
        data = force_bytes(data)
        params = self.upload_params(name, content_type)
        bare = params["ContentType"].split(";")[0].strip()
        if self.gzip and bare in self.gzip_content_types and "ContentEncoding" not in params:
            body = gzip_bytes(data)
            params["ContentEncoding"] = "gzip"
        else:
            body = data
        metadata = dict(params.get("Metadata") or {})
        metadata[SOURCE_MD5_METADATA_KEY] = hashlib.md5(data).hexdigest()
        params["Metadata"] = metadata
        return body, params

    def _compress_content(self, content):
        """Gzip a given string content (deterministic; kept from the original contrib)."""
        content.seek(0)
        return io.BytesIO(gzip_bytes(content.read()))

    def _upload(self, name, key, data, content_type=None):
        """Upload ``data`` as ``key``: one PutObject, or multipart above the part size."""
        self._ensure_bucket()
        body, params = self.prepare_upload(name, data, content_type)
        part = self.file_buffer_size
        if len(body) <= part:
            response = self._call("PutObject", key=key, Key=key, Body=body, **params)
        else:
            response = upload_in_parts(
                lambda operation, **kw: self._call(operation, key=key, **kw),
                key,
                body,
                params,
                part,
                workers=min(DEFAULT_PART_WORKERS, self.max_pool_connections or 1),
            )
        self._remember(key, len(body), response.get("ETag"), response)
        return response

    def _upload_part(self, key, upload_id, number, body):
        """Send part ``number``; returns its entry for CompleteMultipartUpload."""
        response = self._call(
            "UploadPart", key=key, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"ETag": response["ETag"], "PartNumber": number}

    def _abort_multipart(self, key, upload_id):
        """Best effort: the error that made us abort matters more than a failed abort."""
        try:
            self._call("AbortMultipartUpload", key=key, Key=key, UploadId=upload_id)
        except S3StorageError:
            pass

    def _remember(self, key, size, etag, response=None):
        """Keep preloaded entries (and a running Django collectstatic's listing) correct after a write."""
        session = self.__dict__.get("_stock_collect_session")
        if session is not None and session.command() is None:  # that command is over
            self.__dict__.pop("_stock_collect_session", None)
            session = None
        with self._entries_lock:
            if self._entries is None and session is None:
                return
            modified = None
            date = (response or {}).get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
            if date:
                try:
                    modified = parsedate_to_datetime(date).astimezone(UTC)
                except (TypeError, ValueError):
                    modified = None
            entry = {
                "size": size,
                "last_modified": modified or _utc_now(),
                "etag": (etag or "").strip('"'),
            }
            if self._entries is not None:
                self._entries[key] = entry
        if session is not None:
            session.remember(key, dict(entry))

    def _open(self, name, mode="rb"):
        """
        Opens the file, if it exists (``FileNotFoundError`` otherwise).
        """
        key = self.key_for(name)
        session, _ = self._stock_session()
        local = session.open_source(key, mode) if session is not None else None
        if local is not None:
            return local  # Django's collectstatic hashing a file it has just compared or copied
        try:
            return S3Boto3StorageFile(key, mode, self)
        except S3ObjectNotFound as err:
            raise self._not_found(name, key) from err

    def _save(self, name, content):
        """
        Upload ``content`` through ``prepare_upload`` (so the object is
        byte-identical to what a sync would write); returns the cleaned name.
        """
        cleaned_name = clean_name(name)
        key = self.key_for(cleaned_name)
        if hasattr(content, "seekable") and content.seekable():
            content.seek(0, os.SEEK_SET)
        elif hasattr(content, "seek"):
            try:
                content.seek(0, os.SEEK_SET)
            except (AttributeError, OSError, ValueError):
                pass
        data = content.read()
        content_type = getattr(content, "content_type", None)
        session, caller = self._stock_session()
        if session is not None:
            data = force_bytes(data)
            if session.unchanged(cleaned_name, key, data, content_type):
                return cleaned_name  # Django's collectstatic re-saving identical bytes: nothing to send
            if session.hold(cleaned_name, key, data, content_type, content, caller):
                return cleaned_name  # a new post-processed file: sent before the manifest
            if caller is not None and caller.f_code is session.callers.save_manifest:
                session.send_held()
        self._upload(cleaned_name, key, data, content_type)
        return cleaned_name

    def _stock_session(self):
        """``(session, caller)`` while Django's own collectstatic runs this
        call (see ``stock_collectstatic``), else ``(None, None)``."""
        return session_for(self, depth=3)

    # -- metadata ---------------------------------------------------------------------
    def _list_pages(self, prefix, error_key=None, **kwargs):
        """ListObjectsV2 pages under ``prefix``, however many; errors become ``s3/errors.py`` ones."""
        self._require_bucket_name()
        paginator = self.connection.get_paginator("list_objects_v2")
        try:
            yield from paginator.paginate(Bucket=self.bucket_name, Prefix=prefix, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, "ListObjectsV2", error_key) from None

    def _list_entries(self):
        entries = {}
        for page in self._list_pages(self.key_for("")):
            for obj in page.get("Contents", ()):
                entries[obj["Key"]] = {
                    "size": obj["Size"],
                    "last_modified": _as_utc(obj["LastModified"]),
                    "etag": obj.get("ETag", "").strip('"'),
                }
        return entries

    def _preloaded(self):
        with self._entries_lock:
            if self._entries is None:
                self._entries = self._list_entries()
            return self._entries

    @property
    def entries(self):
        """
        S3 key → ``{"size", "last_modified", "etag"}`` for every object under
        the location, from one paginated ListObjectsV2 (a copy: safe to
        iterate while other threads write). Cached when ``preload_metadata``
        is on (``refresh_entries()`` reloads it), listed afresh otherwise.
        """
        if self.preload_metadata:
            with self._entries_lock:
                return dict(self._preloaded())
        return self._list_entries()

    def refresh_entries(self):
        """Reload the cached listing; returns a copy like ``entries``."""
        fresh = self._list_entries()
        with self._entries_lock:
            if self.preload_metadata:
                self._entries = fresh
        return dict(fresh)

    def _head(self, name):
        key = self.key_for(name)
        try:
            return self._call("HeadObject", key=key, Key=key)
        except S3ObjectNotFound as err:
            raise self._not_found(name, key) from err

    def _entry(self, name):
        """Preloaded entry of ``name`` or FileNotFoundError."""
        key = self.key_for(name)
        entry = self._preloaded().get(key)
        if entry is None:
            raise self._not_found(name, key)
        return entry

    def delete(self, name):
        """
        Deletes a file from S3 (no error if it does not exist).
        """
        key = self.key_for(name)
        session, caller = self._stock_session()
        if session is not None and session.delete(key, caller):
            return  # held back: Django writes this name again right away
        try:
            self._call("DeleteObject", key=key, Key=key)
        except S3ObjectNotFound:
            pass
        if session is not None:
            session.forget(key)
        with self._entries_lock:
            if self._entries is not None:
                self._entries.pop(key, None)

    def exists(self, name):
        """True if the object is there (from the preloaded listing when on)."""
        session, caller = self._stock_session()
        if session is not None:
            return session.exists(self.key_for(name), caller)
        if self.preload_metadata:
            return self.key_for(name) in self._preloaded()
        try:
            self._head(name)
            return True
        except FileNotFoundError:
            return False

    def listdir(self, name):
        """``(directories, files)`` directly under ``name``, as Django's storages
        answer it; S3 has no folders, so "directories" are common key prefixes.
        Every page of the listing is read, however many keys there are."""
        path = self.key_for(name)
        session, _ = self._stock_session()
        if session is not None:
            return session.listdir(path)
        # The path needs to end with a slash, but if the root is empty, leave it.
        if path and not path.endswith("/"):
            path += "/"
        directories, files = [], []
        for page in self._list_pages(path, path or None, Delimiter="/"):
            for entry in page.get("CommonPrefixes", ()):
                directories.append(entry["Prefix"][len(path) :].rstrip("/"))
            for entry in page.get("Contents", ()):
                if entry["Key"] != path:
                    files.append(entry["Key"][len(path) :])
        return directories, files

    def size(self, name):
        """Bytes the object holds in S3 (its gzipped size when stored gzipped)."""
        session, _ = self._stock_session()
        if session is not None and session.entry(self.key_for(name)) is not None:
            return session.entry(self.key_for(name))["size"]
        if self.preload_metadata:
            return self._entry(name)["size"]
        return self._head(name)["ContentLength"]

    def get_modified_time(self, name):
        """When the object was last written: aware (UTC) with ``USE_TZ``, naive
        local time without, as Django's own storages answer.

        Asked by Django's own collectstatic, the answer compares content,
        not times (see ``stock_collectstatic``)."""
        session, caller = self._stock_session()
        if session is not None:
            key = self.key_for(name)
            answer = session.modified_time(key, name, caller, self._as_setting_time)
            if answer is None:
                raise self._not_found(name, key)
            return answer
        if self.preload_metadata:
            modified = self._entry(name)["last_modified"]
        else:
            modified = _as_utc(self._head(name)["LastModified"])
        if setting("USE_TZ"):
            return modified
        return make_naive(modified)

    @staticmethod
    def _as_setting_time(modified):
        """An aware UTC datetime as ``get_modified_time`` answers it (``USE_TZ``)."""
        return modified if setting("USE_TZ") else make_naive(modified)

    def modified_time(self, name):
        """``get_modified_time`` as a naive local datetime, whatever ``USE_TZ``
        says (the older storage API some code still calls)."""
        mtime = self.get_modified_time(name)
        return mtime if is_naive(mtime) else make_naive(mtime)

    # -- URLs (built in s3/urls.py) ------------------------------------------------------
    def _strip_signing_parameters(self, url):
        """``url`` without its signature and expiry query parameters (SigV2 and SigV4)."""
        return strip_signing_parameters(url)

    def _compute_url_prefix(self):
        """The unsigned URL prefix (ending in '/'), or None when URLs are signed."""
        if self.custom_domain:
            return custom_domain_url(self.url_protocol, self.custom_domain)
        if self.querystring_auth:
            return None
        self._require_bucket_name()
        return unsigned_bucket_url(
            self.bucket_name,
            self.endpoint_url,
            self.region_name,
            self.addressing_style,
            self.use_ssl,
        )

    def url(self, name, parameters=None, expire=None, http_method=None):
        """
        Returns the URL of a remotely-hosted file.

        Unsigned (custom domain, or querystring_auth off): string work only,
        no client, no request, no signing. Otherwise a presigned URL valid for
        ``expire`` (default ``querystring_expire``) seconds.
        """
        prefix = self.__dict__["_url_prefix"]
        if prefix is _UNSET:
            prefix = self._compute_url_prefix()
            self.__dict__["_url_prefix"] = prefix
        key = self.key_for(name.lstrip("/") if isinstance(name, str) else name)
        if prefix is not None:
            if (
                self.querystring_auth
                and self.custom_domain
                and (self.cloudfront_key_id or self.cloudfront_key)
            ):
                # Private media behind CloudFront: a CloudFront signed URL (s3/cloudfront.py).
                from .s3.cloudfront import signed_url

                return signed_url(self, object_url(prefix, key, parameters), expire)
            return object_url(prefix, key, parameters)
        try:
            return presigned_url(
                self.connection,
                self.bucket_name,
                self._encode_name(key),
                self.querystring_expire if expire is None else expire,
                parameters,
                http_method,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, "GetObject (presign)", key) from None

    def get_available_name(self, name, max_length=None):
        """Overwrite existing file with the same name."""
        name = clean_name(name)
        if self.file_overwrite:
            return get_available_overwrite_name(name, max_length)
        return super().get_available_name(name, max_length)


_SECRET_OPTIONS = frozenset(o.attr for o in s3conf.OPTIONS.values() if o.secret)
_recorded_deconstruct = S3Boto3Storage.deconstruct


def _deconstruct_without_secrets(self):
    """Like Django's, minus secret options: migration files must never hold a
    secret key (the rebuilt storage reads it from settings/env again)."""
    path, args, kwargs = _recorded_deconstruct(self)
    return path, args, {k: v for k, v in kwargs.items() if k not in _SECRET_OPTIONS}


S3Boto3Storage.deconstruct = _deconstruct_without_secrets


class S3StaticStorage(S3Boto3Storage):
    """For ``STORAGES["staticfiles"]``: plain (unsigned) URLs, so pages can be
    cached and ``url()`` costs no signing. The bucket (or CDN) must allow
    public reads, via a bucket policy."""

    querystring_auth = False


class S3ManifestStaticStorage(ManifestFilesMixin, S3StaticStorage):
    """Static storage with hashed names (``app.3f2a1b.css``) for far-future
    caching; the manifest (``staticfiles.json``) is kept in the bucket.

    Unlike Django's own manifest storage, creating it sends no request: the
    manifest is read from the bucket on first use (e.g. the first
    ``{% static %}``), so a misconfiguration surfaces as a clear error
    there, not while settings or models are being imported.
    """

    def __init__(self, *args, **kwargs):
        self.__dict__["_defer_manifest"] = True
        self.__dict__["_manifest_lock"] = threading.Lock()
        super().__init__(*args, **kwargs)

    def load_manifest(self):
        if self.__dict__.pop("_defer_manifest", False):
            return _UNSET, _UNSET
        return super().load_manifest()

    def _loaded(self, attr):
        value = self.__dict__.get(attr, _UNSET)
        if value is _UNSET:
            with self.__dict__.setdefault("_manifest_lock", threading.Lock()):
                value = self.__dict__.get(attr, _UNSET)
                if value is _UNSET:
                    files, digest = super().load_manifest()
                    self.__dict__["_hashed_files"] = files
                    self.__dict__["_manifest_hash"] = digest
                    value = self.__dict__[attr]
        return value

    @property
    def hashed_files(self):
        return self._loaded("_hashed_files")

    @hashed_files.setter
    def hashed_files(self, value):
        self.__dict__["_hashed_files"] = value

    @property
    def manifest_hash(self):
        return self._loaded("_manifest_hash")

    @manifest_hash.setter
    def manifest_hash(self, value):
        self.__dict__["_manifest_hash"] = value

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_manifest_lock", None)
        for attr in ("_hashed_files", "_manifest_hash"):
            if state.get(attr) is _UNSET:
                state.pop(attr)  # not loaded yet: the clone loads it on first use
        return state
