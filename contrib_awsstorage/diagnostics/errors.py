"""botocore error plumbing shared by the online checks.

botocore is imported on first use: the offline system checks run on every
management command and never need it."""

from __future__ import annotations

from ..s3.errors import error_code

__all__ = ["client_error_types", "error_code"]


def client_error_types():
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)
