"""Fixtures for the diagnostics tests: our storages on the embedded S3
server, a port with nothing listening, and a way to run ``s3_check``."""

from __future__ import annotations

import io
import json
import socket
import threading

import pytest
from django.core.management import CommandError, call_command

from contrib_awsstorage import diagnostics

STATIC = "contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage"
MEDIA = "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage"
# Known secrets: the tests assert they never appear in any output.
SECRET_KEY = "KnownSecretKey/DoNotPrint+0123456789abcdefXYZ"
SESSION_TOKEN = "KnownSessionToken+DoNotPrint/0123456789abcdefghijklmnopqrstuvwxyz"
ACCESS_KEY = "AKIAKNOWNACCESSKEY42"


@pytest.fixture(autouse=True)
def _fresh_snapshot_cache():
    diagnostics.clear_cache()
    yield
    diagnostics.clear_cache()


@pytest.fixture
def storages(s3_settings, s3_server, bucket):
    """Static files on the test bucket (manifest storage, prefix 'static'),
    STATIC_URL consistent with the storage; uploads stay local (half the
    requests per check run: most tests are about one storage)."""
    s3_settings.STORAGES = {
        "staticfiles": {"BACKEND": STATIC, "OPTIONS": {"location": "static"}},
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    s3_settings.STATIC_URL = f"{s3_server.endpoint_url}/{bucket}/static/"
    return s3_settings


@pytest.fixture
def both_storages(storages):
    """``storages`` plus uploads on the same bucket (prefix 'media', signed URLs)."""
    storages.STORAGES = {
        **storages.STORAGES,
        "default": {"BACKEND": MEDIA, "OPTIONS": {"location": "media"}},
    }
    return storages


@pytest.fixture
def public_bucket(storages, s3_server, bucket):
    """The test bucket with a public-read bucket policy, as a CDN origin has."""
    s3_server.create_bucket(bucket, public_read=True)
    return bucket


@pytest.fixture
def public_bucket_both(both_storages, s3_server, bucket):
    """The test bucket with a public-read bucket policy, as a CDN origin has."""
    s3_server.create_bucket(bucket, public_read=True)
    return bucket


@pytest.fixture
def dead_endpoint():
    """An http URL on a loopback port where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


class CheckRun:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def text(self):
        return self.out + self.err

    def lines(self, check, target="staticfiles"):
        """The result lines of ``check`` (text mode), with their fix lines."""
        found, lines = [], self.out.splitlines()
        where = f" [{target}]" if target else ""
        for i, line in enumerate(lines):
            if line[6:].startswith(f"{check}{where}:"):
                fix = (
                    lines[i + 1].strip()
                    if i + 1 < len(lines) and lines[i + 1].startswith("      fix:")
                    else ""
                )
                found.append((line[:4].strip(), line, fix))
        return found

    def status(self, check, target="staticfiles"):
        (entry,) = self.lines(check, target) or [(None, "", "")]
        return entry[0]

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def run_check():
    """Run ``s3_check`` in-process; returns a ``CheckRun`` (exit code, output)."""

    def run(*args):
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command("s3_check", *args, stdout=out, stderr=err, no_color=True)
            code = 0
        except CommandError as exc:
            err.write(str(exc))
            code = exc.returncode
        return CheckRun(code, out.getvalue(), err.getvalue())

    return run


# Long enough for the slowest shared machine, far shorter than "never": a
# bound that is not honoured fails the test by name instead of hanging it.
GENEROUS_DEADLINE = 120.0
# A stall that outlives any deadline here (it ends when the proxy stops).
NEVER_ANSWERS = 3600.0


def finishes(func, *args, deadline: float = GENEROUS_DEADLINE, **kwargs):
    """``func(*args, **kwargs)``'s result, awaited in a thread up to a generous
    deadline. Tests assert the bounded call's own timeout result, not its time."""
    box = {}

    def target():
        try:
            box["value"] = func(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(deadline)
    if thread.is_alive():
        pytest.fail(f"{func.__name__} still runs after {deadline:.0f} s: its time bound is broken")
    if "error" in box:
        raise box["error"]
    return box["value"]


def result(results, check, target="staticfiles"):
    """The one result of ``check`` for ``target``."""
    (found,) = [r for r in results if r.check == check and r.target == target]
    return found
