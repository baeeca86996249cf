"""Where a storage's AWS credentials come from, and how long they last.

A game runs for weeks; temporary credentials expire (an assumed role after
an hour or less, SSO or a session token after hours). boto3 renews the
credentials it got from a provider it can ask again: an assumed role
(``role_arn`` in a profile), web identity (IRSA/OIDC), SSO,
``credential_process``, instance and container roles. So the storage's
client always takes its credentials from a boto3 session built from the
profile or the chain, and signs every request with that session's
credentials object, never with keys copied out of it (the frozen-keys bug
of django-storages #1493). Keys given as settings, with or without a
session token, are fixed: nothing can renew them, so the diagnostics say
so and when they run out.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..humanize import human_duration
from .errors import mask_access_key

__all__ = [
    "CredentialInfo",
    "EXPIRY_WARN_SECONDS",
    "credential_source",
    "credentials_of",
    "describe",
    "expiry_of",
    "remember",
    "session_for",
]

#: Credentials that cannot be renewed and run out sooner than this get a warning.
EXPIRY_WARN_SECONDS = 24 * 3600

#: botocore's own variable for the expiry of keys in the environment
#: (``aws configure export-credentials --format env`` prints it).
EXPIRATION_ENV = "AWS_CREDENTIAL_EXPIRATION"

# botocore's provider names (Credentials.method), in the admin's words.
METHOD_WORDS = {
    "explicit": "keys given to the storage",
    "env": "environment variables",
    "shared-credentials-file": "the shared credentials file",
    "config-file": "the AWS config file",
    "boto-config": "the boto config file",
    "assume-role": "an assumed role",
    "assume-role-with-web-identity": "web identity (IRSA/OIDC)",
    "sso": "SSO (IAM Identity Center)",
    "custom-process": "credential_process",
    "container-role": "the container role",
    "iam-role": "the instance role",
}
# Providers whose refresh only re-reads the same fixed values.
_NOT_RENEWABLE = frozenset(
    {"env", "explicit", "shared-credentials-file", "config-file", "boto-config"}
)

# client -> the botocore credentials object it signs with (the session's own).
_CREDENTIALS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CREDENTIALS_LOCK = threading.Lock()

RENEWABLE_FIX = (
    "for a long-running game use credentials boto3 renews: a profile with role_arn "
    "and source_profile (AWS_S3_SESSION_PROFILE), an instance or task role, IRSA, or "
    "SSO; or an IAM user's keys without a session token."
)


def credential_source(storage) -> str:
    """Where ``storage``'s credentials come from, in words (never the secret)."""
    sources = getattr(storage, "_sources", {})
    if storage.session_profile:
        return f"profile {storage.session_profile!r} ({sources.get('session_profile')})"
    if storage.access_key:
        return sources.get("access_key", "storage attribute access_key")
    return "boto3 default chain (shared credentials file / instance role)"


def session_for(storage):
    """A new botocore session for ``storage``: its profile, its keys, or the chain.

    A named profile beats keys found elsewhere (as in django-storages).
    Raises botocore's ``ProfileNotFound`` for an unknown profile. botocore's
    own session, not boto3's: boto3 adds resources and the import of
    s3transfer (a tenth of a second of every command's start-up) that no
    client of ours needs; s3transfer loads with the first multipart upload.
    """
    import botocore.session  # loaded with the first client, not at import

    session = botocore.session.Session(profile=storage.session_profile or None)
    if not storage.session_profile and storage.access_key:
        session.set_credentials(
            storage.access_key, storage.secret_key, storage.security_token or None
        )
    return session


def remember(client, session) -> None:
    """Note the credentials object ``client`` signs with (botocore resolved it
    when it built the client: this costs no request)."""
    credentials = session.get_credentials()
    if credentials is not None:
        with _CREDENTIALS_LOCK:
            _CREDENTIALS[client] = credentials


def credentials_of(client):
    """The botocore credentials object ``client`` signs with, if we built it."""
    try:
        with _CREDENTIALS_LOCK:
            return _CREDENTIALS.get(client)
    except TypeError:  # not weak-referenceable: not one of ours
        return None


@dataclass(frozen=True)
class CredentialInfo:
    """What the diagnostics show about a storage's credentials (never a secret)."""

    source: str  # in words: "setting AWS_ACCESS_KEY_ID", "profile 'game' (an assumed role)"
    method: str = ""  # botocore's provider name, e.g. "assume-role"
    access_key: str | None = None  # masked
    renewable: bool = False  # boto3 gets new ones before these expire
    expires_at: datetime | None = None  # of the credentials in use now (UTC)
    fixed_token: str = ""  # where a session token that cannot be renewed is set
    error: str = ""  # why the credentials could not be obtained

    @property
    def found(self) -> bool:
        return bool(self.access_key) and not self.error

    def expires_in(self, now: datetime | None = None) -> float | None:
        if self.expires_at is None:
            return None
        now = now or datetime.now(UTC)
        return (self.expires_at - now).total_seconds()

    def expiry_text(self, now: datetime | None = None) -> str:
        """``2026-12-02 00:15 UTC (in 14 min)``, or "" without an expiry."""
        left = self.expires_in(now)
        if left is None:
            return ""
        when = self.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{when} ({'in ' + human_duration(left) if left > 0 else human_duration(-left) + ' ago'})"

    def summary(self, now: datetime | None = None, with_expiry: bool = True) -> str:
        """One line: which key, from where, renewed or not, and until when."""
        text = f"access key {self.access_key} from {self.source}"
        expiry = self.expiry_text(now) if with_expiry else ""
        if self.renewable:
            text += ", renewed automatically by boto3"
            if expiry:
                text += f" (the current ones expire {expiry})"
        elif expiry:
            text += f", expiring {expiry}"
        return text

    def warnings(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """``(message, fix)`` for a long-running game; empty when all is well."""
        found = []
        left = self.expires_in(now)
        if self.fixed_token:
            found.append(
                (
                    f"a fixed session token is configured ({self.fixed_token}): these temporary "
                    "credentials cannot be renewed, so the storage stops working when they expire, "
                    "while the game keeps running.",
                    RENEWABLE_FIX,
                )
            )
        if left is not None and not self.renewable and 0 < left < EXPIRY_WARN_SECONDS:
            found.append(
                (
                    f"the credentials expire {self.expiry_text(now)}, within a day, and nothing can "
                    "renew them in this process.",
                    "renew them and restart the game before then; " + RENEWABLE_FIX,
                )
            )
        return found

    @property
    def expired(self) -> bool:
        left = self.expires_in()
        return left is not None and left <= 0 and not self.renewable

    def as_dict(self) -> dict:
        """For ``@awsstatus``'s snapshot (plain values; still no secret)."""
        return {
            "source": self.source,
            "method": self.method,
            "access_key": self.access_key,
            "renewable": self.renewable,
            "error": self.error,
            "expires_at": self.expires_at.timestamp() if self.expires_at else None,
            "summary": self.summary(with_expiry=False) if self.found else "",
            "warnings": (
                [f"the credentials expired {self.expiry_text()} and nothing can renew them."]
                if self.expired
                else []
            )
            + [message for message, _ in self.warnings()],
        }


def _aware(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


#: Credentials valid longer than this are shown without an expiry (about 30 years).
_FOREVER_SECONDS = 1 << 30


def expiry_of(credentials, now: datetime | None = None) -> datetime | None:
    """When renewable ``credentials`` expire (UTC, to the second), or None.

    botocore has no public getter for the expiry, but its public
    ``RefreshableCredentials.refresh_needed(refresh_in)`` says whether they
    expire within ``refresh_in`` seconds, reading nothing but the clock and
    refreshing nothing. Asking it about 32 times by bisection finds the
    seconds left; that is all the diagnostics show.
    """
    refresh_needed = getattr(credentials, "refresh_needed", None)
    if refresh_needed is None or not refresh_needed(_FOREVER_SECONDS):
        return None  # fixed keys, or no expiry botocore knows of
    now = now or datetime.now(UTC)
    low, high = -_FOREVER_SECONDS, _FOREVER_SECONDS  # seconds left are in [low, high)
    if refresh_needed(low):
        return None  # expired longer ago than anyone cares
    while high - low > 1:
        middle = (low + high) // 2
        if refresh_needed(middle):  # fewer than ``middle`` seconds left
            high = middle
        else:
            low = middle
    return (now + timedelta(seconds=low)).replace(microsecond=0)


def _source_words(storage, method: str) -> str:
    words = METHOD_WORDS.get(method, method or "an unknown provider")
    if storage.session_profile:
        return f"profile {storage.session_profile!r} ({words})"
    if storage.access_key:
        return storage.credential_source()
    return f"boto3's chain ({words})"


def describe(storage, client=None) -> CredentialInfo:
    """Which credentials ``storage`` signs with, where they come from, until when.

    Reads the credentials object of ``client`` (default: the storage's own
    client), so what is shown is what the storage uses. It may renew them
    (one STS request for an assumed role whose credentials ran out).
    """
    from botocore.credentials import RefreshableCredentials
    from botocore.exceptions import BotoCoreError, ClientError

    from .errors import scrub

    sources = getattr(storage, "_sources", {})
    credentials = None
    try:
        credentials = credentials_of(storage.connection if client is None else client)
    except Exception:  # noqa: BLE001 - a client that cannot be built: its step says why
        pass
    try:
        if credentials is None:
            credentials = session_for(storage).get_credentials()
    except (BotoCoreError, ClientError, ValueError) as exc:
        return CredentialInfo(
            _source_words(storage, ""), error=scrub(f"{type(exc).__name__}: {exc}")
        )
    if credentials is None:
        return CredentialInfo(_source_words(storage, ""))
    method = getattr(credentials, "method", "") or ""
    source = _source_words(storage, method)
    try:
        frozen = credentials.get_frozen_credentials()  # renews them if they ran out
    except Exception as exc:  # noqa: BLE001 - a provider may raise anything; report it
        return CredentialInfo(source, method, error=scrub(f"{type(exc).__name__}: {exc}"))
    renewable = isinstance(credentials, RefreshableCredentials) and method not in _NOT_RENEWABLE
    expires_at = expiry_of(credentials)
    fixed_token = ""
    if frozen.token and not renewable:
        if storage.access_key and not storage.session_profile:
            fixed_token = sources.get("security_token", "OPTIONS security_token")
            if expires_at is None and sources.get("access_key", "").startswith("environment"):
                expires_at = _aware(os.environ.get(EXPIRATION_ENV))
        else:
            fixed_token = f"a session token in {METHOD_WORDS.get(method, method)}"
    return CredentialInfo(
        source,
        method,
        mask_access_key(frozen.access_key) if frozen.access_key else None,
        renewable,
        expires_at,
        fixed_token,
    )
