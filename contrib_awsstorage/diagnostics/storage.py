"""Throwaway storage instances for probing, with short client timeouts.

The probe storage is the configured class (so credential sources, class
overrides and key layout are the real ones) with two differences: the
botocore client gives up after seconds, and a manifest storage does not
fetch its manifest from S3 on creation (Django's ``ManifestFilesMixin``
does that in ``__init__``; a dead endpoint would stall us there).
"""

from __future__ import annotations

from .targets import Target

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 4.0


def short_config(user_config=None):
    """botocore Config with diagnostic timeouts, over the user's own."""
    from botocore.config import Config

    quick = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"total_max_attempts": 2, "mode": "standard"},
    )
    return user_config.merge(quick) if user_config is not None else quick


def _without_manifest_fetch(cls):
    from django.contrib.staticfiles.storage import ManifestFilesMixin

    if not issubclass(cls, ManifestFilesMixin):
        return cls
    return type(
        f"Probe{cls.__name__}",
        (cls,),
        {
            "__module__": cls.__module__,
            "load_manifest": lambda self: ({}, ""),
            "manifest_strict": False,
        },
    )


def probe_storage(target: Target, values: dict):
    """A fresh instance of ``target``'s class for probes (``values``: its
    resolved options, from ``settings_checks.resolve``)."""
    cls = _without_manifest_fetch(target.cls)
    return cls(**{**target.options, "config": short_config(values.get("config"))})


def url_base(storage) -> str | None:
    """Where unsigned URLs start (ends in '/'); None for signed URLs."""
    if storage.querystring_auth and not storage.custom_domain:
        return None
    url = public_url(storage, "x")
    return url[:-1] if url.endswith("/x") else None


def public_url(storage, name: str) -> str:
    """The plain (not hashed) URL of ``name``; never a manifest lookup."""
    from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage

    return S3Boto3Storage.url(storage, name)
