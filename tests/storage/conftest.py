"""Fixtures for the storage tests: storages bound to the embedded S3 server."""

from __future__ import annotations

import pytest

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage


@pytest.fixture
def make_storage(s3_settings):
    """Build a storage class with OPTIONS, on the test bucket (settings already point there)."""

    def make(cls=S3Boto3Storage, **options):
        return cls(**options)

    return make


@pytest.fixture
def storage(make_storage):
    return make_storage()


@pytest.fixture
def counted(request_counter):
    """Attach the request counter to a storage's client; returns the counter."""

    def attach(storage):
        request_counter.attach(storage.connection)
        request_counter.reset()
        return request_counter

    return attach
