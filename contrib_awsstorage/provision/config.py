"""What ``s3_setup`` sets up, read from the configured storages and settings.

Storages are built fresh from the ``STORAGES`` setting (Django's public
``storages.create_storage``) and read through their public attributes
(``bucket_name``, ``location``, ``querystring_auth``, ...), so the setup
follows the same resolved options the game uses. Secrets are kept out of
``repr`` and never put into a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import storages

__all__ = ["ProvisionError", "SetupConfig", "StorageLocation", "read_config", "web_origins"]

ORIGIN_RE = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$")


class ProvisionError(Exception):
    """Setup cannot go on: ``str()`` is one line that names the setting and ends in its fix."""

    def __init__(self, message: str, *, fix: str = ""):
        self.fix = fix
        super().__init__(f"{message} Fix: {fix}" if fix else message)


@dataclass(frozen=True)
class StorageLocation:
    """One ``STORAGES`` alias of ours: where its objects live and who may read them."""

    alias: str
    location: str  # "" is the bucket root, else "static" (no slashes at the ends)
    public: bool  # querystring_auth False: anyone may GET its objects
    cloudfront_signed: bool = False  # private, served by CloudFront signed URLs

    @property
    def prefix(self) -> str:
        return f"{self.location}/" if self.location else ""

    @property
    def where(self) -> str:
        return f"'{self.prefix}'" if self.location else "the bucket root"


@dataclass
class SetupConfig:
    """Everything the setup steps need; built by ``read_config``."""

    bucket: str
    region: str
    locations: list[StorageLocation]
    origins: list[str] = field(default_factory=list)
    endpoint_url: str | None = None
    addressing_style: str | None = None
    verify: object = None
    custom_domain: str | None = None
    distribution_id: str | None = None
    cloudfront_endpoint_url: str | None = None
    cloudfront: bool = False  # --cloudfront: make the distribution if there is none
    profile: str | None = None  # --profile: separate admin credentials
    storage_profile: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)

    @property
    def public_locations(self) -> list[StorageLocation]:
        return [loc for loc in self.locations if loc.public]

    @property
    def private_locations(self) -> list[StorageLocation]:
        return [loc for loc in self.locations if not loc.public]

    @property
    def behind_cloudfront(self) -> bool:
        return bool(self.cloudfront or self.distribution_id)

    @property
    def public_policy_allowed(self) -> bool:
        """Block Public Access lets a public policy in only for a public storage read directly."""
        return bool(self.public_locations) and not self.behind_cloudfront

    @property
    def cloudfront_read_locations(self) -> list[StorageLocation]:
        return [loc for loc in self.locations if loc.public or loc.cloudfront_signed]


def _our_storage_class():
    from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage

    return S3Boto3Storage


def _our_storages(aliases) -> list[tuple[str, object]]:
    # Read fresh (not storages.backends, which is cached for the process lifetime).
    configured = dict(getattr(settings, "STORAGES", None) or {})
    if aliases:
        unknown = [a for a in aliases if a not in configured]
        if unknown:
            raise ProvisionError(
                f"--alias {unknown[0]!r} is not in STORAGES (it has {', '.join(sorted(configured))}).",
                fix="pass the name of a STORAGES entry that uses contrib_awsstorage.",
            )
    ours = []
    for alias in aliases or list(configured):
        try:
            storage = storages.create_storage(configured[alias])
        except Exception as exc:
            if aliases:
                raise ProvisionError(
                    f"STORAGES[{alias!r}] cannot be built: {type(exc).__name__}: {exc}",
                    fix=f"correct STORAGES[{alias!r}] (see 'manage.py s3_check').",
                ) from None
            continue  # not ours to set up; s3_check reports it
        if isinstance(storage, _our_storage_class()):
            ours.append((alias, storage))
    if not ours:
        raise ProvisionError(
            "No STORAGES entry uses contrib_awsstorage's storage classes, so there is no bucket "
            "to set up.",
            fix="set STORAGES['staticfiles']['BACKEND'] = "
            "'contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage' (and 'default' to "
            "'contrib_awsstorage.aws_s3_cdn.S3Boto3Storage' for uploads).",
        )
    return ours


def _one(ours, attr: str, setting: str):
    """The value every storage agrees on, or a clear error naming the ones that differ."""
    values = {alias: getattr(storage, attr, None) or None for alias, storage in ours}
    distinct = {v for v in values.values() if v is not None}
    if len(distinct) > 1:
        listed = ", ".join(f"{a}={v!r}" for a, v in values.items())
        raise ProvisionError(
            f"s3_setup sets up one bucket at a time, but the storages differ in {setting} "
            f"({listed}).",
            fix="run it once per bucket with --alias NAME (one STORAGES entry, or the ones that "
            "share a bucket).",
        )
    return next(iter(distinct), None)


def _check_overlap(locations: list[StorageLocation]) -> None:
    for public in (loc for loc in locations if loc.public):
        for private in (loc for loc in locations if not loc.public):
            if private.prefix.startswith(public.prefix):
                raise ProvisionError(
                    f"STORAGES[{public.alias!r}] is public at {public.where}, which holds "
                    f"STORAGES[{private.alias!r}]'s private {private.where}: a public-read policy "
                    "would expose the private files.",
                    fix=f"give STORAGES[{public.alias!r}] its own location (OPTIONS 'location', "
                    "e.g. 'static') and the private one another (e.g. 'media').",
                )


def web_origins(explicit=None) -> list[str]:
    """The game's web origins: ``--origin`` if given, else CSRF_TRUSTED_ORIGINS and
    ALLOWED_HOSTS (with http/https and the public WEBSERVER_PORTS, if set)."""
    if explicit:
        for origin in explicit:
            if origin != "*" and not ORIGIN_RE.match(origin.rstrip("/")):
                raise ProvisionError(
                    f"--origin {origin!r} is not a web origin.",
                    fix="give scheme://host[:port], e.g. --origin https://mygame.example.com "
                    "(no path), or '*'.",
                )
        return _unique(o.rstrip("/") for o in explicit)
    origins = []
    for origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", None) or []:
        parts = urlsplit(str(origin))
        if parts.scheme and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    ports = [
        str(pair[0])
        for pair in getattr(settings, "WEBSERVER_PORTS", None) or []
        if isinstance(pair, (list, tuple)) and pair and pair[0] not in (80, 443)
    ]
    for host in getattr(settings, "ALLOWED_HOSTS", None) or []:
        host = str(host).strip()
        if host == "*":
            origins.append("*")
            continue
        if not host:
            continue
        host = f"*{host}" if host.startswith(".") else host
        origins += [f"https://{host}", f"http://{host}"]
        origins += [f"http://{host}:{port}" for port in ports]
    return _unique(origins)


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))


def read_config(
    *, aliases=None, origins=None, cloudfront: bool = False, profile: str | None = None
) -> SetupConfig:
    """The setup to do, from STORAGES/AWS_* and the command's arguments."""
    ours = _our_storages(aliases)
    bucket = _one(ours, "bucket_name", "bucket (AWS_STORAGE_BUCKET_NAME)")
    if not bucket:
        raise ProvisionError(
            "No bucket is named: AWS_STORAGE_BUCKET_NAME (or STORAGES OPTIONS 'bucket_name') is "
            "not set.",
            fix="set AWS_STORAGE_BUCKET_NAME to the bucket to create or set up.",
        )
    region = _one(ours, "region_name", "region (AWS_S3_REGION_NAME)")
    if not region:
        raise ProvisionError(
            "No region is set: s3_setup needs to know where the bucket lives.",
            fix="set AWS_S3_REGION_NAME (e.g. 'eu-west-1').",
        )
    locations = [
        StorageLocation(
            alias=alias,
            location=str(storage.location or "").strip("/"),
            public=not storage.querystring_auth,
            cloudfront_signed=bool(getattr(storage, "cloudfront_key_id", None)),
        )
        for alias, storage in ours
    ]
    _check_overlap(locations)
    first = ours[0][1]
    return SetupConfig(
        bucket=bucket,
        region=region,
        locations=locations,
        origins=web_origins(origins),
        endpoint_url=_one(ours, "endpoint_url", "endpoint (AWS_S3_ENDPOINT_URL)"),
        addressing_style=getattr(first, "addressing_style", None),
        verify=getattr(first, "verify", None),
        custom_domain=_one(ours, "custom_domain", "AWS_S3_CUSTOM_DOMAIN"),
        distribution_id=_one(ours, "cloudfront_distribution_id", "AWS_CLOUDFRONT_DISTRIBUTION_ID"),
        cloudfront_endpoint_url=_one(
            ours, "cloudfront_endpoint_url", "AWS_CLOUDFRONT_ENDPOINT_URL"
        ),
        cloudfront=cloudfront,
        profile=profile,
        storage_profile=getattr(first, "session_profile", None) or None,
        access_key=getattr(first, "access_key", None) or None,
        secret_key=getattr(first, "secret_key", None) or None,
        security_token=getattr(first, "security_token", None) or None,
    )
