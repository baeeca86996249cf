"""What to install when the Evennia glue is imported without Evennia.

Evennia is an extra (``contrib-awsstorage[evennia]``): the storages, the
sync, the management commands and the web layer work in any Django site.
Only ``services`` and ``awsstatus`` need Evennia; they call
``require_evennia`` first, so a missing Evennia says what to do instead of
a bare ``No module named 'evennia'``.
"""

from __future__ import annotations

import importlib

INSTALL_HINT = "pip install contrib-awsstorage[evennia]"


def require_evennia(module: str) -> None:
    """Raise ImportError naming the extra when Evennia cannot be imported."""
    try:
        importlib.import_module("evennia")
    except ImportError as exc:
        raise ImportError(
            f"{module} is contrib_awsstorage's Evennia glue and needs Evennia, which is not installed "
            f"({exc}). Install it with: {INSTALL_HINT}  (the storages, the sync, the management "
            f"commands and the web layer work without it)",
            name="evennia",
        ) from exc
