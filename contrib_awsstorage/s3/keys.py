"""How storage names become S3 keys, and the keys this contrib keeps for itself.

A storage owns the keys under its ``location``: ``static`` owns
``static/...``, an empty location the whole bucket. Every layer (the
storage, the sync, the diagnostics) asks this module for that prefix, so
they always agree on what is the storage's and what is not.
"""

from __future__ import annotations

__all__ = ["STATE_DIR", "location_prefix", "prefix_of"]

#: The folder, under a storage's prefix, where the sync keeps its state and
#: the diagnostics their probe objects; syncs and ``--delete`` never touch it.
STATE_DIR = ".contrib_awsstorage/"


def location_prefix(location) -> str:
    """``'static/'`` for location ``'static'`` (or ``'/static/'``), ``''`` for none."""
    location = (location or "").strip("/")
    return f"{location}/" if location else ""


def prefix_of(storage) -> str:
    """The key prefix a storage owns (see ``location_prefix``)."""
    return location_prefix(getattr(storage, "location", ""))
