"""The no-op fast path: tell "nothing to do" without loading boto3.

Evennia's launcher runs ``collectstatic`` in its own process before every
reload, and most reloads change no static file. Importing boto3 and building
its S3 client costs more than the whole answer (three GETs on the wire), so
this module asks first, with the standard library only: the listing of the
prefix, the sync manifest and the last-run record, in parallel, each signed
with AWS Signature Version 4 (the same signature botocore's ``S3SigV4Auth``
computes; the tests compare the two). When every local file is unchanged by
the manifest's rules (``plan.decide``), nothing is stale that ``--delete``
would remove, no invalidation is pending, and the last run was good, the
sync is done: no write either (the record keeps describing the last run
that did something). In every other case (an answer it does not expect,
credentials only boto3's chain can find, proxies, a custom botocore
``Config``), it steps aside and the full sync runs, which explains any
error properly. Housekeeping (aborting uploads a killed run left open)
waits for the next run that uploads.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

from ..s3.keys import prefix_of
from ..s3.listing import parse_contents
from ..s3.urls import unsigned_bucket_url
from .plan import MANIFEST_NAME, UNCHANGED, Remote, decide, is_state_key, state_entries
from .record import LAST_RUN_NAME, state_key

__all__ = ["sigv4_headers", "try_noop"]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TIMEOUT = 5.0


def sigv4_headers(
    method: str,
    url: str,
    access_key: str,
    secret_key: str,
    token: str | None,
    region: str,
    now: datetime | None = None,
) -> dict:
    """Headers that sign a body-less S3 request (SigV4, unsigned-payload hash of b'').

    ``url``'s path and query must already be percent-encoded as sent.
    """
    now = now or datetime.now(UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    parts = urlsplit(url)
    pairs = sorted(
        tuple(p.split("=", 1)) if "=" in p else (p, "") for p in parts.query.split("&") if p
    )
    query = "&".join(f"{k}={v}" for k, v in pairs)
    headers = {"host": parts.netloc, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": amz_date}
    if token:
        headers["x-amz-security-token"] = token
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            query,
            "".join(f"{k}:{headers[k].strip()}\n" for k in sorted(headers)),
            signed,
            EMPTY_SHA256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def _credentials(storage):
    """``(access, secret, token)`` when they are known without boto3's chain, else None."""
    if storage.session_profile:
        return None
    if storage.access_key:
        return (
            (storage.access_key, storage.secret_key, storage.security_token)
            if storage.secret_key
            else None
        )
    access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if access and secret:
        return access, secret, os.environ.get("AWS_SESSION_TOKEN")
    return None


class _Client:
    def __init__(self, storage, creds, region):
        # On AWS: the bucket's regional endpoint (the global one redirects other regions).
        style = storage.addressing_style or (None if storage.endpoint_url else "virtual")
        self.base = unsigned_bucket_url(
            storage.bucket_name, storage.endpoint_url, region, style, storage.use_ssl
        )
        self.creds, self.region = creds, region
        verify = storage.verify
        if verify is None:
            verify = os.environ.get("AWS_CA_BUNDLE") or True
        self.context = None
        if self.base.startswith("https:"):
            self.context = ssl.create_default_context(
                cafile=verify if isinstance(verify, str) else None
            )
            if verify is False:
                self.context.check_hostname, self.context.verify_mode = False, ssl.CERT_NONE

    def get(self, path_and_query: str) -> tuple[int, bytes]:
        url = self.base + path_and_query
        parts = urlsplit(url)
        headers = sigv4_headers("GET", url, *self.creds, self.region)
        headers["Host"] = headers.pop("host")
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=TIMEOUT, context=self.context
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
        try:
            conn.request(
                "GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers
            )
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def _list(client, prefix: str) -> dict[str, Remote] | None:
    found, token = {}, None
    while True:
        query = f"list-type=2&encoding-type=url&prefix={quote(prefix, safe='')}"
        if token:
            query += f"&continuation-token={quote(token, safe='')}"
        status, body = client.get("?" + query)
        if status != 200:
            return None
        for key, size, etag in parse_contents(body):
            found[key] = Remote(key, size, etag)
        root = ElementTree.fromstring(body)
        ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        if (root.findtext(ns + "IsTruncated") or "").lower() != "true":
            return found
        token = root.findtext(ns + "NextContinuationToken")
        if not token:
            return None


def _object(client, key: str):
    status, body = client.get(quote(key, safe="/~"))
    if status == 404:
        return None
    if status != 200:
        raise ValueError(status)
    return json.loads(body)


def try_noop(
    storage, files: dict[str, str], keys: dict[str, str], hashes, *, delete: bool, report
) -> bool:
    """Fill ``report`` and return True when the sync has nothing to do; False
    (``report`` untouched) whenever it cannot be sure: then the full sync runs."""
    if (
        storage.proxies
        or storage.config is not None
        or (storage.signature_version or "s3v4") != "s3v4"
        or not storage.bucket_name
    ):
        return False
    creds = _credentials(storage)
    region = (
        storage.region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    if creds is None or not region:
        return False
    started = time.monotonic()
    client = _Client(storage, creds, region)
    prefix = prefix_of(storage)
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            listing = pool.submit(_list, client, prefix)
            state = pool.submit(_object, client, state_key(storage, MANIFEST_NAME))
            record = pool.submit(_object, client, state_key(storage, LAST_RUN_NAME))
            names = sorted(files)
            md5s = dict(zip(names, map(hashes.md5, (files[n] for n in names))))
            remote, document, last = listing.result(), state.result(), record.result()
    except (OSError, ValueError, ElementTree.ParseError, http.client.HTTPException):
        return False
    if remote is None or not isinstance(document, dict) or not isinstance(last, dict):
        return False
    if not last.get("ok") or (last.get("invalidation") or {}).get("status") in (
        "failed",
        "pending",
    ):
        return False  # the last run did not finish well: the full sync records this one
    entries = state_entries(document)
    if not entries:
        return False
    for name in names:
        key = keys[name]
        if decide(md5s[name], remote.get(key), entries.get(key), False)[0] != UNCHANGED:
            return False
    local = set(keys.values())
    stale = sorted(
        k for k in remote if k.startswith(prefix) and k not in local and not is_state_key(k, prefix)
    )
    if delete and stale:
        return False
    report.unchanged, report.stale, report.hashed = len(names), stale, hashes.misses
    report.requests = 3
    report.seconds = time.monotonic() - started
    return True
