"""The Evennia entry points that game settings name still import from there."""

import importlib

import pytest

NAMES = {
    "contrib_awsstorage.services": ["AWSStorageServerService", "AWSStoragePortalService"],
    "contrib_awsstorage.awsstatus": ["CmdAwsStatus"],
}


@pytest.mark.parametrize("module,name", [(m, n) for m, names in NAMES.items() for n in names])
def test_evennia_entry_point_imports_from_its_old_path(module, name):
    assert isinstance(getattr(importlib.import_module(module), name), type)
