"""``@awsstatus`` shows where each storage's credentials come from, when they
expire, and warns about what stops a long-running game; against the real
moto server through ``tools.sts_gate`` (STS credentials that expire)."""

from __future__ import annotations

import re

import pytest
from evennia.utils.test_resources import EvenniaCommandTest

from contrib_awsstorage import diagnostics
from contrib_awsstorage.awsstatus import CmdAwsStatus
from tests.short_lived import ShortLivedAws


def flat(text: str) -> str:
    return " ".join(text.split())


def _storages(endpoint: str, bucket: str, **credentials) -> dict:
    common = {
        "bucket_name": bucket,
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "addressing_style": "path",
        **credentials,
    }
    return {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
            "OPTIONS": {**common, "location": "static"},
        },
    }


class TestAwsStatusCredentials(EvenniaCommandTest):
    @pytest.fixture(autouse=True)
    def _aws(self, s3_server, bucket, tmp_path, monkeypatch):
        self.bucket = bucket
        self.aws = ShortLivedAws(s3_server, tmp_path, monkeypatch, lifetime=3)
        diagnostics.clear_cache()
        yield
        diagnostics.clear_cache()
        self.aws.stop()

    def status(self, **credentials) -> str:
        storages = _storages(self.aws.endpoint_url, self.bucket, **credentials)
        with self.settings(STORAGES=storages):
            return flat(self.call(CmdAwsStatus(), "/refresh", caller=self.char1))

    def test_assumed_role_source_and_expiry_past_its_first_expiry(self):
        out = self.status(session_profile="game-role")
        assert "reachable" in out and "UNREACHABLE" not in out, out
        assert re.search(
            r"credentials\s+access key ASIA\S+ from profile 'game-role' "
            r"\(an assumed role\), renewed automatically by boto3",
            out,
        ), out
        assert re.search(
            r"expires\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in \d+ s\); "
            r"boto3 renews them before then",
            out,
        ), out
        assert "WARNING" not in out
        first_key = self.aws.gate.s3_keys[0]
        self.aws.wait_past(self.aws.gate.expiry_of(first_key))
        later = self.status(session_profile="game-role")
        assert "reachable" in later and "UNREACHABLE" not in later, later
        assert self.aws.gate.rejected == []

    def test_fixed_session_token_warns_and_shows_no_secret(self):
        temporary = self.aws.session_token()
        out = self.status(
            access_key=temporary["key"],
            secret_key=temporary["secret"],
            security_token=temporary["token"],
        )
        # (EvTable wraps the narrow key column: "credenti als"; match the values)
        assert "access key AKIA…MPLE from STORAGES OPTIONS access_key" in out, out
        assert "WARNING" in out and "a fixed session token is configured" in out
        assert "security_token" in out and "cannot be renewed" in out
        assert temporary["secret"] not in out and temporary["token"] not in out
