"""credentials.expiry_of: the expiry of botocore credentials, read through
botocore's public ``refresh_needed`` (no private attribute)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.credentials import Credentials, RefreshableCredentials

from contrib_awsstorage.s3.credentials import expiry_of


def refreshable(expires_at):
    def refresh():  # what a provider returns; never called by expiry_of
        raise AssertionError("expiry_of must not refresh the credentials")

    return RefreshableCredentials(
        "ASIAEXAMPLEKEY000000", "secret", "token", expires_at, refresh, "assume-role"
    )


def test_expiry_is_found_to_the_second():
    now = datetime.now(UTC).replace(microsecond=0)
    for left in (timedelta(minutes=14, seconds=5), timedelta(hours=11), timedelta(days=400)):
        found = expiry_of(refreshable(now + left), now=now)
        assert abs(found - (now + left)) <= timedelta(seconds=2), left


def test_expired_credentials_show_when_they_expired():
    now = datetime.now(UTC).replace(microsecond=0)
    found = expiry_of(refreshable(now - timedelta(minutes=3)), now=now)
    assert abs(found - (now - timedelta(minutes=3))) <= timedelta(seconds=2)


def test_fixed_keys_have_no_expiry():
    assert expiry_of(Credentials("AKIAEXAMPLEKEY000000", "secret")) is None
    assert expiry_of(refreshable(None)) is None
