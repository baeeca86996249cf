"""One location-to-prefix rule for the storage, the sync and the diagnostics."""

import pytest

from contrib_awsstorage.s3.keys import STATE_DIR, location_prefix, prefix_of


@pytest.mark.parametrize(
    "location,prefix",
    [
        ("", ""),
        (None, ""),
        ("/", ""),
        ("static", "static/"),
        ("static/", "static/"),
        ("/static/", "static/"),
        ("a/b", "a/b/"),
    ],
)
def test_location_prefix(location, prefix):
    assert location_prefix(location) == prefix


@pytest.mark.parametrize("location", ["", "static", "game/media"])
def test_storage_keys_sync_state_and_probes_share_the_prefix(make_storage, location):
    from contrib_awsstorage.diagnostics.probes import TargetProbe
    from contrib_awsstorage.sync.destination import Destination
    from contrib_awsstorage.sync.record import state_key

    storage = make_storage(location=location)
    prefix = prefix_of(storage)
    assert storage.key_for("x.css") == prefix + "x.css"
    assert Destination.of(storage).prefix == prefix
    assert state_key(storage, STATE_DIR + "sync-manifest.json").startswith(prefix + STATE_DIR)
    assert TargetProbe("default", storage).prefix == prefix
