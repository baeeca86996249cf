"""``s3_check``'s credentials step with temporary credentials, on the real
moto server through ``tools.sts_gate`` (STS credentials that expire): it
shows the source and expiry, and warns about what stops a long-running game."""

from __future__ import annotations

import re

import pytest

from tests.short_lived import ShortLivedAws

HOURS = 3600


@pytest.fixture
def aws_env(storages, s3_server, bucket, tmp_path, monkeypatch):
    """Builds the short-lived AWS environment; the storages then go through the gate."""
    made = []

    def make(lifetime=3.0):
        env = ShortLivedAws(s3_server, tmp_path, monkeypatch, lifetime=lifetime)
        made.append(env)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            delattr(storages, name)
        storages.AWS_S3_ENDPOINT_URL = env.endpoint_url
        storages.STATIC_URL = f"{env.endpoint_url}/{bucket}/static/"
        return env

    yield make
    for env in made:
        env.stop()


def test_assumed_role_shows_source_and_expiry_without_warning(run_check, storages, aws_env):
    aws = aws_env(lifetime=30)
    storages.AWS_S3_SESSION_PROFILE = "game-role"
    run = run_check("--no-write")
    ((status, line, _),) = run.lines("credentials")
    assert status == "OK", run.out
    assert "from profile 'game-role' (an assumed role), renewed automatically by boto3" in line
    assert re.search(
        r"the current ones expire \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in \d+ s\)", line
    ), line
    assert run.status("bucket") == "OK"
    assert aws.gate.rejected == []


def test_fixed_session_token_warns(run_check, storages, aws_env):
    aws = aws_env(lifetime=12 * HOURS)
    temporary = aws.session_token()
    storages.AWS_ACCESS_KEY_ID = temporary["key"]
    storages.AWS_SECRET_ACCESS_KEY = temporary["secret"]
    storages.AWS_SESSION_TOKEN = temporary["token"]
    run = run_check("--no-write")
    lines = run.lines("credentials")
    assert [status for status, _, _ in lines] == ["OK", "WARN"], run.out
    assert "from setting AWS_ACCESS_KEY_ID" in lines[0][1]
    _, warning, fix = lines[1]
    assert "a fixed session token is configured (setting AWS_SESSION_TOKEN)" in warning
    assert "cannot be renewed" in warning and "role_arn" in fix
    assert run.code == 0 and run.status("bucket") == "OK"
    for secret in (temporary["secret"], temporary["token"]):
        assert secret not in run.text


def test_exported_credentials_expiring_within_a_day_warn(run_check, storages, aws_env, monkeypatch):
    aws = aws_env(lifetime=5 * HOURS)
    temporary = aws.session_token()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", temporary["key"]),
        ("AWS_SECRET_ACCESS_KEY", temporary["secret"]),
        ("AWS_SESSION_TOKEN", temporary["token"]),
        ("AWS_CREDENTIAL_EXPIRATION", temporary["expiration"].isoformat()),
    ):
        monkeypatch.setenv(name, value)
    run = run_check("--no-write", "--json")
    found = [r for r in run.json()["results"] if r["check"] == "credentials"]
    assert [r["status"] for r in found] == ["OK", "WARN", "WARN"], found
    assert "expiring " in found[0]["message"] and "(in 5.0 h)" in found[0]["message"]
    assert "environment variable AWS_SESSION_TOKEN" in found[1]["message"]
    assert "within a day" in found[2]["message"] and "(in 5.0 h)" in found[2]["message"]
    assert "restart" in found[2]["fix"]
    for secret in (temporary["secret"], temporary["token"]):
        assert secret not in run.text


def test_expired_credentials_fail_and_stop_the_probes(run_check, storages, aws_env, monkeypatch):
    aws = aws_env(lifetime=1)
    temporary = aws.session_token()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", temporary["key"]),
        ("AWS_SECRET_ACCESS_KEY", temporary["secret"]),
        ("AWS_SESSION_TOKEN", temporary["token"]),
        ("AWS_CREDENTIAL_EXPIRATION", temporary["expiration"].isoformat()),
    ):
        monkeypatch.setenv(name, value)
    aws.wait_past(temporary["expiration"])
    run = run_check("--no-write")
    assert run.code == 1
    ((status, line, fix),) = run.lines("credentials")
    assert status == "FAIL" and "have expired" in line and " ago)" in line
    assert "role_arn" in fix
    assert run.status("bucket") == "SKIP"


def test_credential_process_shows_its_expiry(run_check, storages, aws_env):
    aws_env(lifetime=30)
    storages.AWS_S3_SESSION_PROFILE = "game-process"
    run = run_check("--no-write")
    ((status, line, _),) = run.lines("credentials")
    assert status == "OK", run.out
    assert "profile 'game-process' (credential_process), renewed automatically" in line
    assert "the current ones expire" in line
    assert run.status("bucket") == "OK"
