"""Fixtures for ``s3_setup``: settings for a bucket on moto's server (S3,
CloudFront and IAM over HTTP), s3rver (a second S3 implementation that
lacks most bucket-configuration APIs), and a way to run the command."""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS, DEFAULT_REGION

STATIC = "contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage"
MEDIA = "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage"
GAME_HOST = "mygame.example.com"
GAME_ORIGIN = f"https://{GAME_HOST}"
S3RVER_DIR = Path(__file__).parent / "s3rver"
S3RVER_BIN = S3RVER_DIR / "node_modules" / ".bin" / "s3rver"
S3RVER_KEYS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}

_names = itertools.count(1)


@pytest.fixture
def new_bucket_name():
    """A bucket name that no test has created (the 'empty account')."""
    return f"setup-{os.getpid()}-{next(_names)}-{int(time.time() * 1000) % 100000}"


def _point_at(settings, endpoint, bucket, keys):
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = endpoint
    settings.AWS_S3_REGION_NAME = DEFAULT_REGION
    settings.AWS_S3_ADDRESSING_STYLE = "path"
    settings.AWS_ACCESS_KEY_ID = keys["AWS_ACCESS_KEY_ID"]
    settings.AWS_SECRET_ACCESS_KEY = keys["AWS_SECRET_ACCESS_KEY"]
    settings.STORAGES = {
        "staticfiles": {"BACKEND": STATIC, "OPTIONS": {"location": "static"}},
        "default": {"BACKEND": MEDIA, "OPTIONS": {"location": "media"}},
    }
    settings.ALLOWED_HOSTS = [GAME_HOST]
    settings.CSRF_TRUSTED_ORIGINS = []
    return settings


@pytest.fixture
def game_settings(settings, s3_server, new_bucket_name):
    """A game's settings as the README makes them: public static files under
    'static/', private uploads under 'media/', on a bucket not yet made."""
    _point_at(settings, s3_server.endpoint_url, new_bucket_name, DEFAULT_CREDENTIALS)
    settings.AWS_CLOUDFRONT_ENDPOINT_URL = s3_server.endpoint_url
    return settings


class SetupRun:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def text(self):
        return self.out + self.err

    def line(self, resource):
        """The action word of ``resource``'s line (text mode)."""
        for line in self.out.splitlines():
            if line[7:].startswith(resource + " ") or line[7:] == resource:
                return line[:6].strip()
        return None

    def json(self):
        return json.loads(self.out)

    def iam_policy(self):
        marker = "IAM policy for the game's own credentials"
        return json.loads(self.out.split(marker, 1)[1].split("\n", 1)[1])

    def pasted_settings(self):
        found = {}
        for line in self.out.splitlines():
            for name in ("AWS_S3_CUSTOM_DOMAIN", "AWS_CLOUDFRONT_DISTRIBUTION_ID"):
                if line.strip().startswith(f"{name} = "):
                    found[name] = line.split(" = ", 1)[1].strip().strip("'")
        return found


@pytest.fixture
def run_setup():
    """Run ``s3_setup`` in-process; returns a ``SetupRun`` (exit code, output)."""

    def run(*args):
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command("s3_setup", *args, stdout=out, stderr=err, no_color=True)
            code = 0
        except CommandError as exc:
            err.write(str(exc))
            code = exc.returncode
        return SetupRun(code, out.getvalue(), err.getvalue())

    return run


def anonymous_get(url, headers=None, method="GET"):
    """(status, headers) of an unsigned request, as a browser sends it."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


# -- s3rver ----------------------------------------------------------------------------
def _s3rver_installed() -> bool:
    """s3rver from npm (tests/provision/s3rver/package-lock.json), installed on first use
    the way the Makefile installs the demo's npm libraries."""
    if S3RVER_BIN.exists():
        return True
    if not shutil.which("npm"):
        return False
    subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=S3RVER_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=600,
        check=False,
    )
    return S3RVER_BIN.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3rver(tmp_path_factory):
    """s3rver on loopback; yields its endpoint URL."""
    if not _s3rver_installed():
        pytest.skip("s3rver is not installed: cd tests/provision/s3rver && npm ci")
    port = _free_port()
    process = subprocess.Popen(
        [str(S3RVER_BIN), "-d", str(tmp_path_factory.mktemp("s3rver")), "-a", "127.0.0.1"]
        + ["-p", str(port), "-s"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"s3rver did not start listening on 127.0.0.1:{port}") from None
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def s3rver_settings(settings, s3rver, new_bucket_name):
    return _point_at(settings, s3rver, new_bucket_name, S3RVER_KEYS)
