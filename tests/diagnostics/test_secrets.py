"""No secret ever reaches the output: not the secret key, not the session
token, not a URL signature; the access key only masked."""

from __future__ import annotations

import json
import re

import pytest
from django.core import checks

from contrib_awsstorage import diagnostics

from .conftest import ACCESS_KEY, SECRET_KEY, SESSION_TOKEN


@pytest.fixture
def known_secrets(storages, bucket, s3_client):
    storages.AWS_ACCESS_KEY_ID = ACCESS_KEY
    storages.AWS_SECRET_ACCESS_KEY = SECRET_KEY
    storages.AWS_SESSION_TOKEN = SESSION_TOKEN
    # Some failures too, so error paths print their messages.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3_client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return storages


def _assert_clean(text: str):
    assert SECRET_KEY not in text
    assert SESSION_TOKEN not in text
    assert ACCESS_KEY not in text
    assert not re.search(r"(?i)x-amz-(signature|credential|security-token)=", text)


def test_s3_check_text_and_json_show_no_secret(run_check, known_secrets):
    text = run_check()
    as_json = run_check("--json")
    assert text.code == as_json.code == 1  # the GetObject denial
    for run in (text, as_json):
        _assert_clean(run.text)
    assert "AKIA…EY42" in text.out  # masked: enough to tell keys apart


def test_snapshot_shows_no_secret(known_secrets):
    snap = diagnostics.snapshot(refresh=True)
    _assert_clean(json.dumps(snap, default=str))


def test_bad_secret_setting_is_named_not_shown(storages):
    storages.AWS_SECRET_ACCESS_KEY = [SECRET_KEY]  # wrong type: reported without the value
    messages = checks.run_checks(tags=["contrib_awsstorage"])
    errors = [m for m in messages if m.id == "contrib_awsstorage.E005"]
    assert errors and "AWS_SECRET_ACCESS_KEY" in errors[0].msg
    _assert_clean(" ".join(f"{m.msg} {m.hint}" for m in messages))
