"""Fixtures for the reliability suite: a fault proxy between us and S3.

``fault_proxy`` sits in front of the session's embedded S3 server; tests
turn faults on with ``fault_proxy.set_faults(...)``. ``proxied_client`` is a
plain boto3 client through it, with retries off and short timeouts, so a
test sees each injected fault itself; ``proxied_settings`` points the
storage settings at the proxy.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS, DEFAULT_REGION
from tools.faultproxy import FaultProxy


def make_client(endpoint_url: str, attempts: int = 1, read_timeout: float = 2.0, **config):
    """A boto3 S3 client on ``endpoint_url`` with explicit retry/timeouts."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=DEFAULT_REGION,
        aws_access_key_id=DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": attempts, "mode": "standard"},
            connect_timeout=2,
            read_timeout=read_timeout,
            **config,
        ),
    )


@pytest.fixture
def fault_proxy(s3_server):
    """A fresh fault proxy (no delay, no faults) in front of the S3 server."""
    with FaultProxy(s3_server.endpoint_url) as proxy:
        yield proxy


@pytest.fixture
def proxied_client(fault_proxy):
    return make_client(fault_proxy.endpoint_url)


@pytest.fixture
def proxied_settings(s3_settings, fault_proxy):
    """Storage settings pointing at the bucket through the fault proxy."""
    s3_settings.AWS_S3_ENDPOINT_URL = fault_proxy.endpoint_url
    return s3_settings


# -- the soak split ------------------------------------------------------------
# Long runs carry @pytest.mark.soak. They are left out of a plain run (the
# fast `make test` part) and selected with `-m soak` (what `make soak` runs).


def pytest_configure(config):
    config.addinivalue_line("markers", "soak: long reliability runs (make soak: pytest -m soak)")


def pytest_collection_modifyitems(config, items):
    if "soak" in (config.getoption("-m") or ""):
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("soak") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
