"""Short-lived AWS credentials on the real moto server, for the credential tests.

``ShortLivedAws`` writes an AWS config file with the usual ways a game gets
temporary credentials (an assumed role with ``role_arn`` + ``source_profile``,
``credential_process``, web identity as on EKS/IRSA, a fixed session token)
and points boto3's STS at ``tools.sts_gate``, which passes everything to
moto and makes the STS credentials expire after ``lifetime`` seconds, as
AWS would. Nothing in boto3 is patched: the storage under test resolves
and renews its credentials the way it would against AWS.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from datetime import UTC, datetime

import boto3

from tools.sts_gate import StsGate

ROLE_ARN = "arn:aws:iam::123456789012:role/game-storage"  # moto's default account
BASE_KEY = "AKIABASEUSERFORROLE0"
BASE_SECRET = "base-user-secret-for-the-role-tests-0000"
_AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CREDENTIAL_EXPIRATION",
)

_PROCESS_SCRIPT = """\
    # A credential_process helper (like aws-vault or saml2aws): asks STS for a
    # role's credentials and prints them in the format botocore reads.
    import json, boto3
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url={endpoint!r},
                       aws_access_key_id={key!r}, aws_secret_access_key={secret!r})
    creds = sts.assume_role(RoleArn={role!r}, RoleSessionName="process")["Credentials"]
    print(json.dumps({{"Version": 1, "AccessKeyId": creds["AccessKeyId"],
                      "SecretAccessKey": creds["SecretAccessKey"],
                      "SessionToken": creds["SessionToken"],
                      "Expiration": creds["Expiration"].isoformat()}}))
"""


class ShortLivedAws:
    """The gate, the AWS config files and the environment for one test."""

    def __init__(
        self, s3_server, tmp_path, monkeypatch, lifetime: float = 3.0, upstream: str | None = None
    ):
        self.s3_server = s3_server
        self.gate = StsGate(upstream or s3_server.endpoint_url, lifetime=lifetime).start()
        self.dir = tmp_path / "aws"
        self.dir.mkdir()
        self.monkeypatch = monkeypatch
        for name in _AWS_ENV:
            monkeypatch.delenv(name, raising=False)
        script = self.dir / "credential_process.py"
        script.write_text(
            textwrap.dedent(
                _PROCESS_SCRIPT.format(
                    endpoint=self.endpoint_url, key=BASE_KEY, secret=BASE_SECRET, role=ROLE_ARN
                )
            )
        )
        self.web_token = self.dir / "web-identity-token"
        self.web_token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJnYW1lIn0.c2lnbmF0dXJl")
        config = self.dir / "config"
        config.write_text(
            textwrap.dedent(f"""\
            [profile base]
            aws_access_key_id = {BASE_KEY}
            aws_secret_access_key = {BASE_SECRET}
            region = us-east-1

            [profile game-role]
            role_arn = {ROLE_ARN}
            source_profile = base
            role_session_name = game
            region = us-east-1

            [profile game-process]
            credential_process = {sys.executable} {script}
            region = us-east-1
            """)
        )
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(self.dir / "credentials"))
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", self.endpoint_url)

    @property
    def endpoint_url(self) -> str:
        return self.gate.endpoint_url

    def use_web_identity(self) -> None:
        """The environment EKS gives a pod with IRSA (no keys anywhere)."""
        self.monkeypatch.setenv("AWS_ROLE_ARN", ROLE_ARN)
        self.monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(self.web_token))
        self.monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "game-pod")

    def session_token(self) -> dict:
        """Temporary keys with a fixed session token, as an admin pastes them
        from ``aws sts get-session-token`` (they expire after ``lifetime``)."""
        sts = boto3.client(
            "sts",
            region_name="us-east-1",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=BASE_KEY,
            aws_secret_access_key=BASE_SECRET,
        )
        creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
        return {
            "key": creds["AccessKeyId"],
            "secret": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiration": creds["Expiration"],
        }

    def wait_past(self, moment: datetime, margin: float = 0.5) -> None:
        """Sleep until ``margin`` seconds after ``moment`` (bounded by the lifetime)."""
        left = (moment - datetime.now(UTC)).total_seconds() + margin
        assert left < self.gate.lifetime + 5, left
        if left > 0:
            time.sleep(left)

    def stop(self) -> None:
        self.gate.stop()


def dump(value) -> str:
    return json.dumps(value, default=str)
