"""
Django storage classes that keep an Evennia game's (or any Django site's)
static files and uploads in an S3 bucket (Amazon S3 or an S3-compatible store).

The names here are the ones settings, migrations and the original Evennia
contrib name (``contrib_awsstorage.aws_s3_cdn.S3Boto3Storage``...); the
classes are facades over the parts in ``s3/``:

- ``conf``: every option, its default and where its value comes from;
- ``client``: the shared boto3 client (credentials, retries) and the bucket checks;
- ``names``: storage names to S3 keys, kept inside ``location``;
- ``uploads``: what an upload sends (headers, content type, gzip, source MD5);
- ``transfer``: uploads through s3transfer (one PutObject or a multipart upload);
- ``index``: the listing behind ``preload_metadata``;
- ``urls`` / ``cloudfront``: unsigned, presigned and CloudFront-signed URLs;
- ``file``: the file object ``open()`` returns; ``errors``: botocore errors explained.

None of it imports Evennia or Twisted.
"""

from __future__ import annotations

import os
import threading

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import SuspiciousOperation
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible
from django.utils.timezone import is_naive, make_naive

from .media_types import FALLBACK_TYPE
from .s3 import conf as s3conf
from .s3 import uploads
from .s3.client import (
    BucketAccess,
    S3Bucket,
    check_bucket,
    client_config,
    create_client,
    require_bucket_name,
)
from .s3.credentials import credential_source
from .s3.errors import S3ObjectNotFound, mask_access_key
from .s3.errors import translate_client_error as _translate_error
from .s3.file import S3Boto3StorageFile
from .s3.index import (
    ListingIndex,
    as_utc,
    entries_of_pages,
    entry_of_written,
    list_pages,
    listdir_of_pages,
)
from .s3.names import (
    check_location,
    clean_name,
    get_available_overwrite_name,
    lookup_env,
    safe_join,
    setting,
)
from .s3.names import key_for as _key_for
from .s3.names import name_for as _name_for
from .s3.objects import SOURCE_MD5_METADATA_KEY, gzip_bytes
from .s3.urls import (
    URL_ATTRS,
    custom_domain_url,
    object_url,
    presigned_url,
    storage_url,
    strip_signing_parameters,
    unsigned_bucket_url,
    url_prefix,
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
    "custom_domain_url",
    "object_url",
    "presigned_url",
    "strip_signing_parameters",
    "unsigned_bucket_url",
]

_UNSET = object()
# Made per process, never pickled: a clone makes its own on first use.
_RUNTIME_ATTRS = ("_client", "_client_lock", "_index", "_bucket_access", "_url_prefix")


def _rewind(content):
    """Back to the start of ``content`` if it can seek (Django may have read it)."""
    try:
        content.seek(0, os.SEEK_SET)
    except (AttributeError, OSError, ValueError):
        pass


@deconstructible
@s3conf.with_option_defaults
class S3Boto3Storage(Storage):
    """
    A Django storage whose files are objects in one S3 bucket, under
    ``location``. Every option of the table in ``s3/conf.py`` is a class
    attribute holding its default; a subclass may override one, which beats
    settings but not ``OPTIONS``. With ``preload_metadata`` on, ``exists``,
    ``size``, ``get_modified_time`` and ``listdir`` are answered from one
    listing of the location (``s3/index.py``), kept right after our own writes.
    """

    default_content_type = FALLBACK_TYPE
    #: The environment variables the access key, secret key and session token
    #: are read from, in order (after OPTIONS and settings). Informative: the
    #: options table (``s3/conf.py``) reads them; changing these changes nothing.
    access_key_names = list(s3conf.OPTIONS["access_key"].env)
    secret_key_names = list(s3conf.OPTIONS["secret_key"].env)
    security_token_names = list(s3conf.OPTIONS["security_token"].env)

    def __init__(self, acl=None, bucket=None, **settings):
        """Resolve and check every option (``s3/conf.py``); send nothing. ``acl``
        and ``bucket``: the original's names of ``default_acl``, ``bucket_name``."""
        if acl is not None:
            settings.setdefault("default_acl", acl)
        if bucket is not None:
            settings.setdefault("bucket_name", bucket)
        values, self._sources = s3conf.resolve_with_sources(type(self), settings)
        for name, value in values.items():
            setattr(self, name, value)
        if self._sources["url_protocol"] == "default":
            self.url_protocol = "https:" if self.secure_urls else "http:"
        self.access_key = self.access_key or ""
        self.secret_key = self.secret_key or ""
        check_location(self)
        self._setup_runtime()

    def _setup_runtime(self):
        self._client = None
        self._client_lock = threading.Lock()
        self._index = ListingIndex(self._list_entries)
        self._bucket_access = BucketAccess()
        self.__dict__["_url_prefix"] = _UNSET

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name in URL_ATTRS:
            self.__dict__["_url_prefix"] = _UNSET

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in _RUNTIME_ATTRS}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._setup_runtime()

    def __repr__(self):
        return (
            f"<{type(self).__name__} bucket={self.bucket_name!r} location={self.location!r} "
            f"region={self.region_name!r} endpoint={self.endpoint_url!r} "
            f"credentials={self.credential_source()!r}>"
        )

    def credential_source(self) -> str:
        """Where the credentials come from, in words (never the secret)."""
        return credential_source(self)

    def masked_access_key(self):
        """The access key id as ``AKIA…WXYZ`` (None if boto3's chain finds it)."""
        key = None if self.session_profile else self.access_key
        return mask_access_key(key) if key else None

    # -- the client and the bucket (s3/client.py) ------------------------------------
    def client_config(self):
        """The botocore Config built from the options (user ``config`` merged over it)."""
        return client_config(self)

    @property
    def connection(self):
        """The boto3 S3 client: made on first use, then shared by every thread."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = create_client(self)
        return self._client

    def _call(self, operation, key=None, **kwargs):
        """Run one S3 API call; botocore errors become ``s3/errors.py`` exceptions."""
        require_bucket_name(self)
        method = getattr(self.connection, xform_name(operation))  # PutObject -> put_object
        try:
            return method(Bucket=self.bucket_name, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, operation, key) from None

    def _translate(self, exc, operation, key=None):
        """The ``s3/errors.py`` exception (with its fix) for botocore error ``exc``."""
        return _translate_error(exc, operation, self.bucket_name, key, region=self.region_name)

    @property
    def bucket(self):
        """An ``S3Bucket`` handle (``.name``, ``.client``); sends no request,
        except that ``auto_create_bucket`` creates a missing bucket on first use."""
        return self._bucket_access.handle(self)

    def check_bucket(self) -> str:
        """HeadBucket: the bucket's region, or a clear error (missing, elsewhere, denied)."""
        return check_bucket(self)

    def _ensure_bucket(self):
        self._bucket_access.ensure(self)

    # -- names (s3/names.py) ------------------------------------------------------------
    def key_for(self, name) -> str:
        """The S3 key of storage name ``name``; ``SuspiciousOperation`` if it
        would leave the location."""
        try:
            return _key_for(self.location, name)
        except ValueError:
            raise SuspiciousOperation("Attempted access to '%s' denied." % name) from None

    def name_for(self, key) -> str:
        """The storage name of S3 key ``key`` (inverse of ``key_for``)."""
        return _name_for(self.location, key)

    # -- uploads (s3/uploads.py, s3/transfer.py) ---------------------------------------------
    def get_object_parameters(self, name):
        """Extra upload arguments for storage name ``name``: a copy of
        ``AWS_S3_OBJECT_PARAMETERS``. Override to decide per file (e.g. a
        ContentDisposition); a ContentEncoding here means "never gzip it"."""
        return uploads.copy_object_parameters(self.object_parameters)

    def upload_params(self, name, content_type=None) -> dict:
        """PutObject / CreateMultipartUpload arguments for ``name`` (no body, no MD5)."""
        return uploads.upload_params(self, name, content_type)

    def prepare_upload(self, name, data, content_type=None, *, hashed=False):
        """``(body, params)``: exactly what ``save()`` (and the sync) send for ``name``."""
        return uploads.prepare_upload(self, name, data, content_type, hashed=hashed)

    def _upload(self, name, key, data, content_type=None):
        """Send ``data`` as ``key`` (``uploads.send``: s3transfer), then note it in the index."""
        self._remember(key, *uploads.send(self, name, key, data, content_type))

    def _remember(self, key, size, etag, response=None):
        """Note our own write in the listing index (if one is loaded)."""
        self._index.remember(key, entry_of_written(size, etag, response))

    def _open(self, name, mode="rb"):
        key = self.key_for(name)
        try:
            return S3Boto3StorageFile(key, mode, self)
        except S3ObjectNotFound as err:
            raise self._not_found(name, key) from err

    def _save(self, name, content):
        """Upload ``content`` as ``prepare_upload`` shapes it; returns the cleaned name."""
        cleaned = clean_name(name)
        _rewind(content)
        content_type = getattr(content, "content_type", None)
        self._upload(cleaned, self.key_for(cleaned), content.read(), content_type)
        return cleaned

    def delete(self, name):
        """Delete the object (no error if it is not there)."""
        key = self.key_for(name)
        try:
            self._call("DeleteObject", key=key, Key=key)
        except S3ObjectNotFound:
            pass
        self._index.forget(key)

    # -- metadata: one HEAD each, or the listing index (s3/index.py) -------------------------
    def _list_entries(self):
        return entries_of_pages(list_pages(self, self.key_for("")))

    @property
    def entries(self):
        """S3 key -> ``{"size", "last_modified", "etag"}`` of every object under
        the location (a copy): the index with ``preload_metadata``, else listed afresh."""
        return self._index.snapshot() if self.preload_metadata else self._list_entries()

    def refresh_entries(self):
        """List the location again (the index too, with ``preload_metadata``); a copy."""
        return self._index.refresh() if self.preload_metadata else self._list_entries()

    def _not_found(self, name, key):
        return FileNotFoundError(f"File does not exist: {name} (s3://{self.bucket_name}/{key})")

    def _stat(self, name):
        """``(size, last_modified UTC)`` of ``name``; FileNotFoundError if missing."""
        key = self.key_for(name)
        if self.preload_metadata:
            entry = self._index.get(key)
            if entry is None:
                raise self._not_found(name, key)
            return entry["size"], entry["last_modified"]
        try:
            head = self._call("HeadObject", key=key, Key=key)
        except S3ObjectNotFound as err:
            raise self._not_found(name, key) from err
        return head["ContentLength"], as_utc(head["LastModified"])

    def exists(self, name):
        try:
            self._stat(name)
            return True
        except FileNotFoundError:
            return False

    def listdir(self, name):
        """``(directories, files)`` directly under ``name``; "directories" are
        common key prefixes (S3 has no folders)."""
        path = self.key_for(name)
        if path and not path.endswith("/"):
            path += "/"
        if self.preload_metadata:
            return self._index.listdir(path)
        return listdir_of_pages(list_pages(self, path, path or None, Delimiter="/"), path)

    def size(self, name):
        """Bytes the object holds in S3 (its gzipped size when stored gzipped)."""
        return self._stat(name)[0]

    def get_modified_time(self, name):
        """When the object was last written: aware (UTC) with ``USE_TZ``, naive
        local time without, as Django's own storages answer."""
        modified = self._stat(name)[1]
        return modified if setting("USE_TZ") else make_naive(modified)

    def modified_time(self, name):
        """``get_modified_time`` as a naive local datetime, whatever ``USE_TZ`` says."""
        mtime = self.get_modified_time(name)
        return mtime if is_naive(mtime) else make_naive(mtime)

    # -- URLs (s3/urls.py, s3/cloudfront.py) -----------------------------------------------
    def url(self, name, parameters=None, expire=None, http_method=None):
        """The URL of ``name``. Unsigned (custom domain, or ``querystring_auth``
        off): string work only, no client, no request. Otherwise presigned for
        ``expire`` seconds (default ``querystring_expire``), or signed for
        CloudFront when a CloudFront key is set."""
        prefix = self.__dict__["_url_prefix"]
        if prefix is _UNSET:
            prefix = self.__dict__["_url_prefix"] = url_prefix(self)
        key = self.key_for(name.lstrip("/") if isinstance(name, str) else name)
        return storage_url(self, prefix, key, parameters, expire, http_method)

    def get_available_name(self, name, max_length=None):
        """``name`` itself (overwriting) with ``file_overwrite``, else Django's unique name."""
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
