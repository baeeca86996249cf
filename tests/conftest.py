"""The real-S3 test harness.

One moto S3 wire server per test session on 127.0.0.1 and a free port;
every test that asks for ``bucket`` gets a fresh, empty bucket on it. Tests
talk HTTP to it through boto3; nothing patches boto3 internals.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import threading

import pytest

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage
from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS, DEFAULT_REGION, EmbeddedS3

# Never let a test reach real AWS with a developer's real credentials.
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(DEFAULT_CREDENTIALS)
os.environ["AWS_DEFAULT_REGION"] = DEFAULT_REGION
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

_bucket_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def s3_server():
    """The embedded S3 server (session-wide)."""
    server = EmbeddedS3("127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.fixture
def s3_client(s3_server):
    """A plain boto3 client on the embedded server, for setting up and checking."""
    return s3_server.client()


@pytest.fixture
def bucket(s3_server, request):
    """A fresh, empty bucket for this test; its name is returned."""
    name = f"test-bucket-{os.getpid()}-{next(_bucket_numbers)}"
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def s3_settings(settings, s3_server, bucket):
    """Django settings pointing our storage at the embedded server's bucket."""
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = s3_server.endpoint_url
    settings.AWS_S3_REGION_NAME = DEFAULT_REGION
    settings.AWS_S3_ADDRESSING_STYLE = "path"
    settings.AWS_ACCESS_KEY_ID = DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    settings.AWS_SECRET_ACCESS_KEY = DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    return settings


class RequestCounter:
    """Counts HTTP requests a boto3 client sends (botocore ``before-send``)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests = []  # (method, url)

    def __call__(self, request, **kwargs):
        with self._lock:
            self.requests.append((request.method, request.url))

    def attach(self, client):
        client.meta.events.register("before-send.s3", self)
        return client

    @property
    def count(self) -> int:
        return len(self.requests)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()


@pytest.fixture
def request_counter():
    return RequestCounter()


INGAME_SETTINGS = "tests.ingame.settings"

# Evennia is an extra: tests marked ``evennia`` are left out, with this
# reason, on a stack without it (and always run where it is installed).
EVENNIA_INSTALLED = importlib.util.find_spec("evennia") is not None
NEEDS_EVENNIA = "needs Evennia: pip install contrib-awsstorage[evennia]"


def pytest_collection_modifyitems(config, items):
    if EVENNIA_INSTALLED:
        return
    for item in items:
        if item.get_closest_marker("evennia"):
            item.add_marker(pytest.mark.skip(reason=NEEDS_EVENNIA))


def pytest_ignore_collect(collection_path, config):
    """``tests/ingame`` needs Evennia's settings and database, so it runs in
    its own pass (``pytest --ds=tests.ingame.settings tests/ingame``), never
    in the plain-Django pass."""
    if (
        "ingame" in collection_path.parts
        and os.environ.get("DJANGO_SETTINGS_MODULE") != INGAME_SETTINGS
    ):
        return True
    return None


# -- storages bound to the embedded S3 server (tests/sync overrides the first two) --


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
