"""Which credentials boto3 would use, without ever showing the secret."""

from __future__ import annotations

from ..s3.errors import mask_access_key


def chain_credentials(storage) -> tuple[str | None, str]:
    """(masked access key or None, where boto3's chain found it / why not).

    Only called when no key is configured explicitly; may ask the instance
    metadata service, which botocore bounds to about a second.
    """
    import boto3
    from botocore.exceptions import BotoCoreError

    profile = getattr(storage, "session_profile", None)
    try:
        session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
        creds = session.get_credentials()
    except BotoCoreError as exc:  # ProfileNotFound, a broken config file...
        return None, f" ({type(exc).__name__}: profile {profile!r})" if profile else \
            f" ({type(exc).__name__})"
    if creds is None or not creds.access_key:
        return None, f" for profile {profile!r}" if profile else ""
    return mask_access_key(creds.access_key), f"boto3's chain ({creds.method})"
