"""The engine behind ``s3_setup``: from the storage settings to a bucket (and CDN) that works.

Plan, then apply, like Terraform: every step reads what is there, says what
it would send (``create`` / ``change`` / ``ok`` / ``skip``) and, when asked,
sends it. ``config`` reads the settings, ``documents`` builds the JSON (pure
functions, merged with what the bucket already has), ``cloudfront`` the
distribution, ``iam`` the runtime policy, ``apis`` turns refusals and
missing APIs into one clear line, ``engine`` runs the steps. Like the rest of
the storage layer, nothing here imports Evennia or Twisted.
"""

from __future__ import annotations

from .config import ProvisionError, SetupConfig, StorageLocation, read_config
from .engine import Change, Provisioner, SetupReport
from .iam import runtime_policy

__all__ = [
    "Change",
    "ProvisionError",
    "Provisioner",
    "SetupConfig",
    "SetupReport",
    "StorageLocation",
    "read_config",
    "runtime_policy",
]
