"""Every storage option in one table, and how a value is chosen for it.

The table (``OPTIONS``) is the single source of truth: the storage reads
it when it is created (never at import), the README settings table and the
diagnostics are generated from it. Precedence for each option:

1. ``STORAGES[...]["OPTIONS"][attr]`` (or keyword arguments),
2. a class attribute a *subclass* overrides (``S3StaticStorage`` fixes
   ``querystring_auth = False``; ``OPTIONS`` can still change it),
3. the first ``AWS_*`` Django setting that is defined,
4. the first environment variable that is set (strings are converted),
5. the table's default (``None`` for credentials: boto3's own chain then).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .transfer import MIN_PART_SIZE

__all__ = [
    "Option",
    "OPTIONS",
    "OPTION_NAMES",
    "resolve_options",
    "resolve_with_sources",
    "with_option_defaults",
    "validate_bucket_name",
    "settings_table_markdown",
    "CANNED_ACLS",
]

CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)


@dataclass(frozen=True)
class Option:
    """One storage option: ``attr`` on the storage, where it may come from."""

    attr: str
    settings: tuple[str, ...]
    env: tuple[str, ...]
    types: tuple[type, ...]
    default: Any
    doc: str
    secret: bool = False
    choices: tuple | None = None
    nullable: bool = True
    minimum: int | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def type_name(self) -> str:
        names = [t.__name__ for t in self.types]
        return " or ".join(names) + (" or None" if self.nullable else "")


def _opt(attr, settings, env, types, default, doc, **kw) -> Option:
    if isinstance(settings, str):
        settings = (settings,)
    if isinstance(env, str):
        env = (env,)
    if not isinstance(types, tuple):
        types = (types,)
    return Option(attr, tuple(settings), tuple(env), types, default, doc, **kw)


_CONTENT_TYPES = (
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "image/svg+xml",
)

#: The original contrib's class attribute where it differs from the resolved
#: default (the storage's class keeps it; instances always resolve their own).
_ORIGINAL_EMPTY = {"class_default": ""}

_TABLE = [
    # -- where and who ---------------------------------------------------
    _opt(
        "bucket_name",
        "AWS_STORAGE_BUCKET_NAME",
        "AWS_STORAGE_BUCKET_NAME",
        str,
        None,
        "Name of the bucket holding the files.",
    ),
    _opt(
        "location",
        "AWS_LOCATION",
        (),
        str,
        "",
        "Key prefix inside the bucket (no leading slash), e.g. 'static'.",
        nullable=False,
    ),
    _opt(
        "region_name",
        "AWS_S3_REGION_NAME",
        ("AWS_S3_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"),
        str,
        None,
        "Region of the bucket, e.g. 'eu-west-1' (None: the profile's region).",
    ),
    _opt(
        "endpoint_url",
        "AWS_S3_ENDPOINT_URL",
        ("AWS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"),
        str,
        None,
        "Endpoint of an S3-compatible store (MinIO, R2, Spaces...); None for AWS.",
    ),
    _opt(
        "access_key",
        ("AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        ("AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        str,
        None,
        "Access key id (None: boto3's chain: profile, instance role).",
        extra=_ORIGINAL_EMPTY,
    ),
    _opt(
        "secret_key",
        ("AWS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        ("AWS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        str,
        None,
        "Secret access key; keep it in secret_settings.py or the environment.",
        secret=True,
        extra=_ORIGINAL_EMPTY,
    ),
    _opt(
        "security_token",
        ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"),
        ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"),
        str,
        None,
        "Session token for temporary credentials.",
        secret=True,
    ),
    _opt(
        "session_profile",
        "AWS_S3_SESSION_PROFILE",
        "AWS_S3_SESSION_PROFILE",
        str,
        None,
        "Named profile of the shared credentials file to use instead of keys.",
    ),
    _opt(
        "auto_create_bucket",
        "AWS_AUTO_CREATE_BUCKET",
        (),
        bool,
        False,
        "Create the bucket (in region_name, no ACL unless bucket_acl) if it is missing.",
        nullable=False,
    ),
    _opt(
        "bucket_acl",
        "AWS_BUCKET_ACL",
        (),
        str,
        None,
        "Canned ACL for an auto-created bucket (None: no ACL).",
        choices=CANNED_ACLS,
    ),
    # -- objects ---------------------------------------------------------
    _opt(
        "default_acl",
        "AWS_DEFAULT_ACL",
        (),
        str,
        None,
        "Canned ACL sent with each upload; None (new buckets have ACLs disabled).",
        choices=CANNED_ACLS,
    ),
    _opt(
        "object_parameters",
        "AWS_S3_OBJECT_PARAMETERS",
        (),
        dict,
        {},
        "Extra PutObject arguments for every upload, e.g. {'CacheControl': 'max-age=86400'}.",
        nullable=False,
    ),
    _opt(
        "file_overwrite",
        "AWS_S3_FILE_OVERWRITE",
        (),
        bool,
        True,
        "Overwrite a file with the same name instead of renaming the new one.",
        nullable=False,
    ),
    _opt(
        "gzip",
        "AWS_IS_GZIPPED",
        (),
        bool,
        False,
        "Store gzip_content_types gzipped (Content-Encoding: gzip).",
        nullable=False,
    ),
    _opt(
        "gzip_content_types",
        "GZIP_CONTENT_TYPES",
        (),
        (tuple, list, set, frozenset),
        _CONTENT_TYPES,
        "Content types that are gzipped when gzip is on.",
        nullable=False,
    ),
    _opt(
        "encryption",
        "AWS_S3_ENCRYPTION",
        (),
        bool,
        False,
        "Ask for server-side encryption (AES256).",
        nullable=False,
    ),
    _opt(
        "reduced_redundancy",
        "AWS_REDUCED_REDUNDANCY",
        (),
        bool,
        False,
        "Store objects with the REDUCED_REDUNDANCY storage class.",
        nullable=False,
    ),
    _opt(
        "file_name_charset",
        "AWS_S3_FILE_NAME_CHARSET",
        (),
        str,
        "utf-8",
        "Charset of file names.",
        nullable=False,
    ),
    _opt(
        "preload_metadata",
        "AWS_PRELOAD_METADATA",
        (),
        bool,
        False,
        "List the location once and answer exists/size/modified time from it.",
        nullable=False,
    ),
    _opt(
        "max_memory_size",
        "AWS_S3_MAX_MEMORY_SIZE",
        (),
        int,
        0,
        "Bytes a file keeps in memory before spilling to disk (0: never spill).",
        nullable=False,
        minimum=0,
    ),
    _opt(
        "file_buffer_size",
        "AWS_S3_FILE_BUFFER_SIZE",
        (),
        int,
        MIN_PART_SIZE,
        "Part size of multipart uploads (>= 5 MiB, S3's minimum).",
        nullable=False,
        minimum=MIN_PART_SIZE,
    ),
    # -- URLs ------------------------------------------------------------
    _opt(
        "custom_domain",
        "AWS_S3_CUSTOM_DOMAIN",
        (),
        str,
        None,
        "CDN/custom host for URLs, e.g. 'cdn.example.com' (URLs unsigned, or CloudFront-signed "
        "with cloudfront_key_id).",
    ),
    _opt(
        "querystring_auth",
        "AWS_QUERYSTRING_AUTH",
        (),
        bool,
        True,
        "Sign URLs (presigned, expiring); False gives plain public URLs.",
        nullable=False,
    ),
    _opt(
        "querystring_expire",
        "AWS_QUERYSTRING_EXPIRE",
        (),
        int,
        3600,
        "Seconds a presigned URL stays valid.",
        nullable=False,
        minimum=1,
    ),
    _opt(
        "secure_urls",
        "AWS_S3_SECURE_URLS",
        (),
        bool,
        True,
        "Use https for custom-domain URLs.",
        nullable=False,
    ),
    _opt(
        "url_protocol",
        "AWS_S3_URL_PROTOCOL",
        (),
        str,
        None,
        "Protocol of custom-domain URLs, 'https:' or 'http:' (None: from secure_urls).",
        choices=("http:", "https:"),
        extra={"class_default": "http:"},
    ),
    # -- CDN (CloudFront) ---------------------------------------------------
    _opt(
        "cloudfront_distribution_id",
        "AWS_CLOUDFRONT_DISTRIBUTION_ID",
        "AWS_CLOUDFRONT_DISTRIBUTION_ID",
        str,
        None,
        "CloudFront distribution in front of the bucket: syncs invalidate the changed "
        "plain-named files there (None: no invalidation).",
    ),
    _opt(
        "cloudfront_endpoint_url",
        "AWS_CLOUDFRONT_ENDPOINT_URL",
        ("AWS_CLOUDFRONT_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDFRONT"),
        str,
        None,
        "Endpoint of a CloudFront-compatible API (tests, moto); None for AWS.",
    ),
    _opt(
        "cloudfront_key_id",
        "AWS_CLOUDFRONT_KEY_ID",
        "AWS_CLOUDFRONT_KEY_ID",
        str,
        None,
        "ID of the CloudFront public key: with cloudfront_key, url() of a private storage "
        "(querystring_auth) behind custom_domain is a CloudFront signed URL.",
    ),
    _opt(
        "cloudfront_key",
        "AWS_CLOUDFRONT_KEY",
        "AWS_CLOUDFRONT_KEY",
        (str, bytes),
        None,
        "Private RSA key of that public key: PEM text or the path of a .pem file "
        "(needs the cloudfront extra).",
        secret=True,
    ),
    # -- client ----------------------------------------------------------
    _opt(
        "addressing_style",
        "AWS_S3_ADDRESSING_STYLE",
        (),
        str,
        None,
        "'path' or 'virtual' bucket addressing (None: botocore's auto).",
        choices=("auto", "path", "virtual"),
    ),
    _opt(
        "signature_version",
        "AWS_S3_SIGNATURE_VERSION",
        (),
        str,
        None,
        "Request signature version (None: 's3v4').",
    ),
    _opt(
        "request_checksum_calculation",
        "AWS_S3_REQUEST_CHECKSUM_CALCULATION",
        (),
        str,
        None,
        "botocore checksum mode; 'when_required' for stores that reject CRC checksums.",
        choices=("when_supported", "when_required"),
    ),
    _opt(
        "response_checksum_validation",
        "AWS_S3_RESPONSE_CHECKSUM_VALIDATION",
        (),
        str,
        None,
        "botocore response checksum validation ('when_supported' / 'when_required').",
        choices=("when_supported", "when_required"),
    ),
    _opt(
        "max_pool_connections",
        "AWS_S3_MAX_POOL_CONNECTIONS",
        (),
        int,
        32,
        "HTTP connections the shared client keeps (parallel uploads).",
        nullable=False,
        minimum=1,
    ),
    _opt(
        "proxies",
        "AWS_S3_PROXIES",
        (),
        dict,
        None,
        "Proxies for botocore, e.g. {'https': 'http://proxy:3128'}.",
    ),
    _opt("use_ssl", "AWS_S3_USE_SSL", (), bool, True, "Use https to talk to S3.", nullable=False),
    _opt(
        "verify",
        "AWS_S3_VERIFY",
        (),
        (bool, str),
        None,
        "TLS verification: False, or a CA bundle path (None: verify).",
    ),
    _opt(
        "config",
        "AWS_S3_CLIENT_CONFIG",
        (),
        (object,),
        None,
        "A botocore.config.Config merged over the one built from these options.",
    ),
]

OPTIONS: dict[str, Option] = {o.attr: o for o in _TABLE}
OPTION_NAMES = tuple(OPTIONS)
_SETTING_TO_ATTR = {s: o.attr for o in _TABLE for s in o.settings}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _from_env(opt: Option, raw: str, name: str):
    """Convert an environment string to the option's type."""
    if str in opt.types:
        return raw
    if bool in opt.types:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    if int in opt.types:
        try:
            return int(raw)
        except ValueError:
            pass
    raise ImproperlyConfigured(
        f"environment variable {name}={raw!r} is not a valid {opt.type_name} for '{opt.attr}'. "
        f"Fix: set it to a {opt.type_name}."
    )


def _check_value(opt: Option, value, source: str):
    if value is None:
        if opt.nullable:
            return value
        raise ImproperlyConfigured(
            f"{source} must not be None ({opt.doc}). Fix: give a {opt.type_name}."
        )
    if opt.attr == "config":
        from botocore.config import Config

        if not isinstance(value, Config):
            raise ImproperlyConfigured(
                f"{source} must be a botocore.config.Config, not {type(value).__name__}. "
                "Fix: pass botocore.config.Config(...)."
            )
        return value
    ok = isinstance(value, opt.types) and not (
        bool not in opt.types and isinstance(value, bool) and int in opt.types
    )
    if not ok:
        raise ImproperlyConfigured(
            f"{source} must be a {opt.type_name}, not {type(value).__name__} ({value!r})."
            f" Fix: {opt.doc}"
            if not opt.secret
            else f"{source} must be a {opt.type_name}, not {type(value).__name__}."
        )
    if opt.choices and value not in opt.choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in opt.choices], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ImproperlyConfigured(
            f"{source} is {value!r}; valid values: {', '.join(map(repr, opt.choices))}.{hint}"
        )
    if opt.minimum is not None and value < opt.minimum:
        raise ImproperlyConfigured(
            f"{source} is {value}; it must be at least {opt.minimum}. Fix: {opt.doc}"
        )
    if opt.attr == "location" and value.startswith("/"):
        raise ImproperlyConfigured(
            f"{source} cannot begin with a leading slash. Found {value!r}. Use {value.lstrip('/')!r} instead."
        )
    if opt.attr in ("endpoint_url", "cloudfront_endpoint_url") and not re.match(
        r"^https?://[^/\s]+", value
    ):
        raise ImproperlyConfigured(
            f"{source} is {value!r}, not an http(s) URL. Fix: give the store's base URL, "
            "e.g. 'https://s3.example.com' or 'http://127.0.0.1:9000'."
        )
    if opt.attr == "custom_domain" and ("://" in value or value.startswith("/")):
        raise ImproperlyConfigured(
            f"{source} is {value!r}; give only the host (and optional path), e.g. 'cdn.example.com'."
        )
    if opt.attr == "object_parameters":
        return dict(value)
    if opt.attr == "gzip_content_types":
        return tuple(value)
    return value


def _unknown_key_error(key: str, where: str) -> ImproperlyConfigured:
    if key in _SETTING_TO_ATTR:
        return ImproperlyConfigured(
            f"Unknown {where} key {key!r}: that is a Django setting name. "
            f"Fix: use {_SETTING_TO_ATTR[key]!r} in OPTIONS (or set {key} in settings)."
        )
    close = difflib.get_close_matches(key, OPTION_NAMES, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ImproperlyConfigured(
        f"Unknown {where} key {key!r}.{hint} Valid keys: {', '.join(OPTION_NAMES)}."
    )


def with_option_defaults(storage_cls):
    """Class decorator: every option becomes a class attribute holding its
    default, and ``storage_cls`` the base whose own attributes are defaults,
    not overrides (a subclass's are)."""
    for opt in _TABLE:
        default = opt.extra.get("class_default", opt.default)
        setattr(storage_cls, opt.attr, dict(default) if isinstance(default, dict) else default)
    storage_cls._s3conf_base = storage_cls
    return storage_cls


def _subclass_override(storage_cls, attr: str):
    """A class attribute set by a subclass of the base storage, if any."""
    if storage_cls is None:
        return _MISSING
    base = getattr(storage_cls, "_s3conf_base", None)
    for klass in storage_cls.__mro__:
        if klass is base or klass is object:
            break
        if (
            attr in vars(klass)
            and not callable(vars(klass)[attr])
            and not isinstance(vars(klass)[attr], property)
        ):
            return vars(klass)[attr]
    return _MISSING


_MISSING = object()


def resolve_with_sources(
    storage_cls, options: dict | None, settings_obj=None, environ=None
) -> tuple[dict, dict]:
    """Resolve every option; return ``(values, sources)``.

    ``sources[attr]`` says where the value came from, in words:
    ``"STORAGES OPTIONS access_key"``, ``"setting AWS_ACCESS_KEY_ID"``,
    ``"environment variable AWS_ACCESS_KEY_ID"``, ``"class S3StaticStorage"``
    or ``"default"``.
    """
    if settings_obj is None:
        from django.conf import settings as settings_obj
    environ = os.environ if environ is None else environ
    options = dict(options or {})
    where = "STORAGES OPTIONS"
    for key in options:
        if key not in OPTIONS:
            raise _unknown_key_error(key, where)
    values, sources = {}, {}
    cls_name = getattr(storage_cls, "__name__", "storage")
    for opt in _TABLE:
        if opt.attr in options:
            source = f"{where} {opt.attr}"
            value = options[opt.attr]
        else:
            value = _subclass_override(storage_cls, opt.attr)
            source = f"class {cls_name}"
            if value is _MISSING:
                for name in opt.settings:
                    candidate = getattr(settings_obj, name, None)
                    # None (and "" for nullable options) means "not set here": look further.
                    if candidate is None or (candidate == "" and opt.nullable):
                        continue
                    value, source = candidate, f"setting {name}"
                    break
            if value is _MISSING:
                for name in opt.env:
                    raw = environ.get(name)
                    if raw:
                        value, source = _from_env(opt, raw, name), f"environment variable {name}"
                        break
            if value is _MISSING:
                value, source = opt.default, "default"
                if isinstance(value, dict):
                    value = dict(value)
        values[opt.attr] = _check_value(opt, value, _describe(source, opt))
        sources[opt.attr] = source
    return values, sources


def _describe(source: str, opt: Option) -> str:
    if source.startswith("STORAGES OPTIONS"):
        return f"STORAGES OPTIONS {opt.attr!r}"
    if source.startswith("class "):
        return f"{source}.{opt.attr}"
    if source == "default":
        return f"default of {opt.attr!r}"
    return source


def resolve_options(storage_cls, options: dict | None) -> dict:
    """Resolved values (attr → value) for ``storage_cls`` with ``options``."""
    return resolve_with_sources(storage_cls, options)[0]


#: botocore's own rule for any region name (one valid host label); AWS's
#: regions are stricter, S3-compatible stores name theirs freely ('auto').
REGION_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def validate_bucket_name(name) -> list[str]:
    """Problems with ``name`` as an S3 bucket name (empty list if fine).

    Follows AWS's general-purpose bucket naming rules, so a typo is caught
    before any request is sent.
    """
    if not name:
        return ["AWS_STORAGE_BUCKET_NAME is not set: name the bucket that holds the files."]
    if not isinstance(name, str):
        return [f"the bucket name must be a string, not {type(name).__name__}."]
    problems = []
    if not 3 <= len(name) <= 63:
        problems.append(f"bucket name {name!r} must be 3-63 characters long (it has {len(name)}).")
    if name != name.lower():
        problems.append(f"bucket name {name!r} must be lowercase: use {name.lower()!r}.")
    if re.search(r"[^A-Za-z0-9.-]", name):
        bad = "".join(sorted(set(re.findall(r"[^A-Za-z0-9.-]", name))))
        problems.append(
            f"bucket name {name!r} has characters S3 does not allow ({bad!r}); "
            "use only a-z, 0-9, '.' and '-'."
        )
    if (
        len(name) >= 1
        and not _BUCKET_RE.match(name.lower())
        and not re.search(r"[^A-Za-z0-9.-]", name)
    ):
        problems.append(f"bucket name {name!r} must start and end with a letter or digit.")
    if ".." in name or ".-" in name or "-." in name:
        problems.append(f"bucket name {name!r} must not contain '..', '.-' or '-.'.")
    if _IP_RE.match(name):
        problems.append(f"bucket name {name!r} must not look like an IP address.")
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            problems.append(f"bucket name {name!r} must not start with {prefix!r}.")
    for suffix in ("-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap"):
        if name.endswith(suffix):
            problems.append(f"bucket name {name!r} must not end with {suffix!r}.")
    if name == "mygame-evennia":
        problems.append(
            "bucket name 'mygame-evennia' is the example from the docs; "
            "choose your own, globally unique name."
        )
    return problems


def settings_table_markdown() -> str:
    """The README settings table, generated from ``OPTIONS``."""
    rows = [
        "| OPTIONS key | Django setting(s) | environment | type | default | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for opt in _TABLE:
        default = "(secret)" if opt.secret and opt.default else repr(opt.default)
        rows.append(
            "| `{}` | {} | {} | {} | `{}` | {} |".format(
                opt.attr,
                ", ".join(f"`{s}`" for s in opt.settings) or "-",
                ", ".join(f"`{e}`" for e in opt.env) or "-",
                opt.type_name if opt.attr != "config" else "botocore Config or None",
                default,
                opt.doc.replace("|", "\\|"),
            )
        )
    return "\n".join(rows)
