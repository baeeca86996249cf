"""botocore error plumbing shared by the online checks (boto3 loads lazily)."""

from __future__ import annotations

from ..s3.errors import error_code

__all__ = ["client_error_types", "error_code"]


def client_error_types():
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)
