"""Fixtures for the sync tests: our storages on the per-test bucket."""

from __future__ import annotations

import pytest

from contrib_awsstorage.aws_s3_cdn import S3StaticStorage


@pytest.fixture
def make_storage(s3_settings):
    """``make_storage(cls=S3StaticStorage, **options)`` on the test bucket."""

    def make(cls=S3StaticStorage, **options):
        return cls(**options)

    return make


@pytest.fixture
def storage(make_storage):
    """A static storage with the prefix 'static'."""
    return make_storage(location="static")
