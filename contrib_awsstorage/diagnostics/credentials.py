"""Which credentials a storage signs with, for how long, without ever showing the secret.

``s3_check``'s "credentials" step and ``@awsstatus`` both read the
credentials object of the storage's own client (``s3/credentials.py``), so
the source and expiry they show are the ones the storage uses, and they
warn about what stops a long-running game: a fixed session token, or
credentials that run out within a day with nothing to renew them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..humanize import human_duration
from ..s3.errors import mask_access_key


def chain_credentials(storage) -> tuple[str | None, str]:
    """(masked access key or None, where boto3's chain found it / why not).

    Only called when no key is configured explicitly; may ask the instance
    metadata service, which botocore bounds to about a second.
    """
    import botocore.session
    from botocore.exceptions import BotoCoreError

    profile = getattr(storage, "session_profile", None)
    try:
        creds = botocore.session.Session(profile=profile or None).get_credentials()
    except BotoCoreError as exc:  # ProfileNotFound, a broken config file...
        return (
            None,
            f" ({type(exc).__name__}: profile {profile!r})"
            if profile
            else f" ({type(exc).__name__})",
        )
    if creds is None or not creds.access_key:
        return None, f" for profile {profile!r}" if profile else ""
    return mask_access_key(creds.access_key), f"boto3's chain ({creds.method})"


def snapshot_entry(storage) -> dict:
    """The credentials part of ``@awsstatus``'s snapshot for ``storage``."""
    from ..s3.credentials import describe
    from ..s3.errors import scrub

    try:
        return describe(storage).as_dict()
    except Exception as exc:  # noqa: BLE001 - the status must answer whatever happens
        return {"error": scrub(f"{type(exc).__name__}: {exc}"), "warnings": []}


def credential_rows(entry: dict | None, now: float | None = None) -> list[tuple[str, str]]:
    """``@awsstatus`` rows from a snapshot entry: source, expiry, warnings."""
    if not entry:
        return []
    if entry.get("error"):
        return [("credentials", f"NOT AVAILABLE: {entry['error']}")]
    if not entry.get("summary"):
        return [("credentials", "none found (boto3's chain is empty)")]
    rows = [("credentials", entry["summary"])]
    expires = entry.get("expires_at")
    if expires:
        now = datetime.now(UTC).timestamp() if now is None else now
        when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        left = expires - now
        text = (
            f"{when} (in {human_duration(left)})"
            if left > 0
            else f"{when} ({human_duration(-left)} ago)"
        )
        if entry.get("renewable"):
            text += "; boto3 renews them before then"
        rows.append(("expires", text))
    rows.extend(("WARNING", message) for message in entry.get("warnings") or [])
    return rows
