"""botocore error plumbing shared by the online checks (boto3 loads lazily)."""

from __future__ import annotations


def client_error_types():
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


def error_code(exc) -> str:
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
