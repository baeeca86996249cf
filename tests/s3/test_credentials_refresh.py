"""Temporary credentials in a process that runs for weeks.

Against the real moto server, through ``tools.sts_gate`` (STS credentials
live ``LIFETIME`` seconds, and S3 answers ``ExpiredToken`` to a request
signed with expired ones, as AWS does). One storage instance, one client,
no restart: an assumed role, web identity (IRSA) and credential_process
keep working past the expiry of their first credentials, because the
client signs with its boto3 session's own credentials object. Keys copied
out of that object, and a fixed session token, stop working.
"""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime

import pytest
from django.core.files.base import ContentFile

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage
from contrib_awsstorage.s3.credentials import credentials_of, describe
from contrib_awsstorage.s3.errors import S3InvalidCredentials, S3StorageError
from tests.short_lived import ShortLivedAws

LIFETIME = 3.0


@pytest.fixture
def aws(s3_server, s3_settings, tmp_path, monkeypatch):
    env = ShortLivedAws(s3_server, tmp_path, monkeypatch, lifetime=LIFETIME)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        delattr(s3_settings, name)  # no keys in the settings: the profile or chain decides
    s3_settings.AWS_S3_ENDPOINT_URL = env.endpoint_url
    yield env
    env.stop()


def _frozen_copy(storage):
    """Keys copied out of the storage's credentials, as django-storages #1493 does."""
    import boto3

    frozen = credentials_of(storage.connection).get_frozen_credentials()
    return frozen, boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=storage.endpoint_url,
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
    )


def keeps_working_past_first_expiry(storage, aws):
    """Use the storage across the expiry of its first credentials; return what happened."""
    client = storage.connection
    storage.save("before.txt", ContentFile(b"written with the first credentials"))
    first_key = aws.gate.s3_keys[0]
    first_expiry = aws.gate.expiry_of(first_key)
    assert first_expiry is not None, "the first request was not signed with STS credentials"
    frozen, frozen_client = _frozen_copy(storage)

    aws.wait_past(max(first_expiry, aws.gate.expiry_of(frozen.access_key)))
    assert aws.gate.is_expired(first_key)
    # Past the first expiry: read, write, list and a signed URL, same instance.
    assert storage.open("before.txt").read() == b"written with the first credentials"
    storage.save("after.txt", ContentFile(b"written after the first expiry"))
    assert storage.exists("after.txt")
    assert sorted(storage.listdir("")[1]) == ["after.txt", "before.txt"]
    with urllib.request.urlopen(storage.url("after.txt"), timeout=10) as answer:
        assert answer.read() == b"written after the first expiry"

    assert storage.connection is client  # no new client, no restart
    assert aws.gate.rejected == [], aws.gate.rejected  # never signed with expired keys
    late_key = aws.gate.s3_keys[-1]
    assert late_key != first_key
    assert aws.gate.expiry_of(late_key) > first_expiry
    # The control: the same credentials, copied out once, are refused now.
    with pytest.raises(frozen_client.exceptions.ClientError) as refused:
        frozen_client.get_object(Bucket=storage.bucket_name, Key="before.txt")
    assert refused.value.response["Error"]["Code"] == "ExpiredToken"
    assert {key for key, _ in aws.gate.rejected} == {frozen.access_key}
    return first_key, late_key


def test_assumed_role_profile_keeps_working_past_expiry(aws):
    storage = S3Boto3Storage(session_profile="game-role")
    keeps_working_past_first_expiry(storage, aws)
    info = describe(storage)
    assert info.method == "assume-role" and info.renewable and not info.fixed_token
    assert info.source == "profile 'game-role' (an assumed role)"
    assert info.access_key.startswith("ASIA") and "…" in info.access_key
    assert 0 < info.expires_in() <= LIFETIME + 1
    assert info.warnings() == []


def test_web_identity_irsa_keeps_working_past_expiry(aws):
    aws.use_web_identity()  # EKS/IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, no keys
    storage = S3Boto3Storage()
    keeps_working_past_first_expiry(storage, aws)
    info = describe(storage)
    assert info.method == "assume-role-with-web-identity" and info.renewable
    assert info.source == "boto3's chain (web identity (IRSA/OIDC))"
    assert info.warnings() == []


def test_credential_process_keeps_working_past_expiry(aws):
    storage = S3Boto3Storage(session_profile="game-process")
    keeps_working_past_first_expiry(storage, aws)
    info = describe(storage)
    assert info.method == "custom-process" and info.renewable
    assert 0 < info.expires_in() <= LIFETIME + 1


def test_fixed_session_token_stops_at_its_expiry_with_a_clear_error(aws, s3_settings):
    temporary = aws.session_token()
    s3_settings.AWS_ACCESS_KEY_ID = temporary["key"]
    s3_settings.AWS_SECRET_ACCESS_KEY = temporary["secret"]
    s3_settings.AWS_SESSION_TOKEN = temporary["token"]
    storage = S3Boto3Storage()
    storage.save("a.txt", ContentFile(b"x"))
    info = describe(storage)
    assert not info.renewable and info.fixed_token == "setting AWS_SESSION_TOKEN"
    assert info.expires_at is None  # a pasted token does not say when it ends
    (token_warning,) = info.warnings()
    assert "fixed session token" in token_warning[0] and "role_arn" in token_warning[1]

    aws.wait_past(temporary["expiration"])
    with pytest.raises(S3InvalidCredentials) as failed:
        storage.listdir("")
    assert failed.value.code == "ExpiredToken"
    assert "AWS_SESSION_TOKEN" in failed.value.fix
    # HEAD answers carry no error code: the bare 400 still points at the credentials.
    with pytest.raises(S3StorageError) as head_failed:
        storage.exists("a.txt")
    assert "ExpiredToken" in str(head_failed.value) and "s3_check" in head_failed.value.fix
    for error in (failed.value, head_failed.value):
        text = f"{error} {error.fix}"
        assert temporary["secret"] not in text and temporary["token"] not in text


def test_exported_credentials_show_their_expiry_and_warn_within_a_day(
    aws, s3_settings, monkeypatch
):
    """``eval $(aws configure export-credentials --format env)``: keys, token and
    AWS_CREDENTIAL_EXPIRATION in the environment."""
    temporary = aws.session_token()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", temporary["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", temporary["secret"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", temporary["token"])
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", temporary["expiration"].isoformat())
    info = describe(S3Boto3Storage())
    assert info.fixed_token == "environment variable AWS_SESSION_TOKEN"
    assert info.expires_at == temporary["expiration"].astimezone(UTC)
    messages = [message for message, _ in info.warnings(now=datetime.now(UTC))]
    assert len(messages) == 2
    assert "fixed session token" in messages[0] and "within a day" in messages[1]
    assert not info.expired
    aws.wait_past(temporary["expiration"])
    expired = describe(S3Boto3Storage())
    assert expired.expired and expired.as_dict()["warnings"][0].startswith(
        "the credentials expired"
    )


def test_session_token_in_a_credentials_file_is_a_fixed_token(aws, tmp_path, monkeypatch):
    temporary = aws.session_token()
    (aws.dir / "credentials").write_text(
        f"[pasted]\naws_access_key_id = {temporary['key']}\n"
        f"aws_secret_access_key = {temporary['secret']}\n"
        f"aws_session_token = {temporary['token']}\n"
    )
    storage = S3Boto3Storage(session_profile="pasted")
    assert storage.exists("nothing-here.txt") is False  # the keys work for now
    info = describe(storage)
    assert info.method == "shared-credentials-file" and not info.renewable
    assert info.fixed_token == "a session token in the shared credentials file"
    assert info.source == "profile 'pasted' (the shared credentials file)"
    assert [message for message, _ in info.warnings()][0].startswith("a fixed session token")


def test_a_sync_longer_than_the_credentials_lifetime_completes(
    s3_server, s3_settings, tmp_path, monkeypatch
):
    """Parallel uploads across several expiries (S3 slowed down by the fault
    proxy so the run outlasts the 2-second credentials): every worker thread
    signs with current credentials, nothing is refused, nothing fails."""
    from contrib_awsstorage.sync.engine import SyncOptions, sync
    from tools.faultproxy import FaultProxy

    with FaultProxy(s3_server.endpoint_url, delay=0.1) as slow:
        aws = ShortLivedAws(
            s3_server, tmp_path, monkeypatch, lifetime=2.0, upstream=slow.endpoint_url
        )
        try:
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                delattr(s3_settings, name)
            s3_settings.AWS_S3_ENDPOINT_URL = aws.endpoint_url
            source = tmp_path / "static"
            source.mkdir()
            files = {}
            for i in range(60):
                path = source / f"f{i:02d}.css"
                path.write_text(f"body {{ order: {i}; }}")
                files[path.name] = str(path)
            storage = S3Boto3Storage(session_profile="game-role", location="static")
            started = datetime.now(UTC)
            report = sync(storage, files, SyncOptions(workers=4))
            finished = datetime.now(UTC)
        finally:
            aws.stop()
    assert sorted(report.uploaded) == sorted(files) and report.ok, report.failures
    assert aws.gate.rejected == [], aws.gate.rejected
    first_expiry = aws.gate.expiry_of(aws.gate.s3_keys[0])
    assert finished > first_expiry, (started, first_expiry, finished)  # it did outlast them
    assert len(set(aws.gate.s3_keys)) > 1


def test_a_running_web_server_keeps_serving_past_the_first_expiry(aws, bucket):
    """The server as a game runs it (our Twisted web stack in its own
    process, Django's process-wide ``default_storage``): one process, one
    client, requests before and after the first credentials expire."""
    import json

    from tests.reliability.loadgen import WebStack

    stack = WebStack(threads=4)
    stack.env.update(
        DJANGO_SETTINGS_MODULE="tests.s3.credentials_site",
        CREDENTIALS_SITE_BUCKET=bucket,
        CREDENTIALS_SITE_ENDPOINT=aws.endpoint_url,
    )

    def get(n):
        url = f"http://127.0.0.1:{stack.portal}/stored?n={n}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            return json.load(answer)

    with stack:
        first = get(1)
        first_key = aws.gate.s3_keys[0]
        aws.wait_past(aws.gate.expiry_of(first_key))
        second = get(2)
        aws.wait_past(aws.gate.expiry_of(aws.gate.s3_keys[-1]))
        third = get(3)
    assert [first["content"], second["content"], third["content"]] == [
        "note-1.txt",
        "note-2.txt",
        "note-3.txt",
    ]
    assert third["names"] == ["note-1.txt", "note-2.txt", "note-3.txt"]
    assert first["pid"] == second["pid"] == third["pid"]  # no restart
    assert first["client"] == second["client"] == third["client"]  # one client all along
    assert aws.gate.rejected == [], aws.gate.rejected
    assert aws.gate.is_expired(first_key) and aws.gate.s3_keys[-1] != first_key
