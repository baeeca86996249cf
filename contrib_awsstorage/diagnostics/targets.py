"""Which configured storages are ours, read fresh from settings.

Diagnostics must reflect the settings *now*, so nothing here is cached:
Django's ``storages`` handler keeps instances for the process lifetime,
which would hide a fix made since. Instances built here are throwaway.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string

STORAGE_MODULE = "contrib_awsstorage.aws_s3_cdn"
# The aliases Django itself uses, checked first and always listed.
MAIN_ALIASES = ("staticfiles", "default")
DJANGO_DEFAULTS = {
    "default": "django.core.files.storage.FileSystemStorage",
    "staticfiles": "django.contrib.staticfiles.storage.StaticFilesStorage",
}
SUGGESTED = {
    "staticfiles": f"{STORAGE_MODULE}.S3ManifestStaticStorage",
    "default": f"{STORAGE_MODULE}.S3Boto3Storage",
}


@dataclass
class Target:
    """One ``STORAGES`` alias: its backend class and raw ``OPTIONS``."""

    alias: str
    backend: str
    options: dict = field(default_factory=dict)
    cls: type | None = None
    import_error: str = ""

    @property
    def ours(self) -> bool:
        """True if the backend is (a subclass of) one of our storage classes."""
        return self.cls is not None and any(
            k.__module__ == STORAGE_MODULE for k in self.cls.__mro__
        )

    @property
    def is_static(self) -> bool:
        return self.alias == "staticfiles"


def load_targets() -> list[Target]:
    """Every ``STORAGES`` alias, Django's two first, classes imported."""
    configured = dict(getattr(settings, "STORAGES", None) or {})
    for alias, backend in DJANGO_DEFAULTS.items():
        configured.setdefault(alias, {"BACKEND": backend})
    aliases = [a for a in MAIN_ALIASES] + sorted(a for a in configured if a not in MAIN_ALIASES)
    targets = []
    for alias in aliases:
        spec = configured[alias] or {}
        target = Target(alias, str(spec.get("BACKEND", "")), dict(spec.get("OPTIONS") or {}))
        try:
            target.cls = import_string(target.backend)
        except Exception as exc:  # ImportError, ValueError for a non-dotted path...
            target.import_error = f"{type(exc).__name__}: {exc}"
        targets.append(target)
    return targets


def our_targets(targets=None) -> list[Target]:
    return [t for t in (load_targets() if targets is None else targets) if t.ours]
