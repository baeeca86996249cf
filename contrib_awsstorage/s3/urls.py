"""
The URLs a storage hands out for its objects.

``url()`` runs for every ``{% static %}`` on every page, so unsigned URLs
(custom domain, or ``querystring_auth`` off) are plain string work here: no
client, no request, no signing. The addressing (path or virtual host, AWS
or a custom endpoint) follows botocore's own rules, and the tests compare
the results with botocore's unsigned URLs. Only presigned URLs need
botocore, and they get it through the storage's shared client.
"""

from __future__ import annotations

import ipaddress
from urllib import parse as urlparse

from botocore.exceptions import BotoCoreError, ClientError
from django.utils.encoding import filepath_to_uri, smart_str

from . import conf as s3conf

__all__ = [
    "URL_ATTRS",
    "url_prefix",
    "storage_url",
    "custom_domain_url",
    "object_url",
    "presigned_url",
    "strip_signing_parameters",
    "unsigned_bucket_url",
]

# Query parameters of v2 and v4 signatures (compared lower-cased).
_SIGNING_PARAMETERS = frozenset(
    {
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-signedheaders",
        "x-amz-signature",
        "x-amz-security-token",
        "awsaccesskeyid",
        "expires",
        "signature",
    }
)


#: The storage options an unsigned URL prefix is built from (a change drops a cached prefix).
URL_ATTRS = frozenset(
    {
        "custom_domain",
        "querystring_auth",
        "url_protocol",
        "secure_urls",
        "bucket_name",
        "endpoint_url",
        "region_name",
        "addressing_style",
        "use_ssl",
        "location",
    }
)


def url_prefix(storage):
    """The unsigned URL prefix (ending in '/') of ``storage``'s objects, or
    None when its URLs are presigned (``querystring_auth`` without a custom domain)."""
    if storage.custom_domain:
        return custom_domain_url(storage.url_protocol, storage.custom_domain)
    if storage.querystring_auth:
        return None
    from .client import require_bucket_name

    require_bucket_name(storage)
    return unsigned_bucket_url(
        storage.bucket_name,
        storage.endpoint_url,
        storage.region_name,
        storage.addressing_style,
        storage.use_ssl,
    )


def storage_url(storage, prefix, key, parameters=None, expire=None, http_method=None) -> str:
    """The URL of S3 key ``key`` of ``storage``, whose ``url_prefix`` is ``prefix``:
    unsigned (string work), CloudFront-signed when a CloudFront key is set
    for signed URLs, or presigned by the storage's client (``prefix`` None)."""
    if prefix is None:
        expire = storage.querystring_expire if expire is None else expire
        try:
            return presigned_url(storage.connection, storage.bucket_name,
                                 smart_str(key, encoding=storage.file_name_charset), expire, parameters, http_method)  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise storage._translate(exc, "GetObject (presign)", key) from None
    url = object_url(prefix, key, parameters)
    if storage.querystring_auth and (storage.cloudfront_key_id or storage.cloudfront_key):
        from .cloudfront import signed_url  # private media behind CloudFront

        return signed_url(storage, url, expire)
    return url


def custom_domain_url(url_protocol, custom_domain) -> str:
    """URL prefix (ending in '/') of a CDN or custom domain, e.g. ``https://cdn.example.com/``."""
    return f"{url_protocol}//{custom_domain.strip('/')}/"


def object_url(prefix, key, parameters=None) -> str:
    """Unsigned URL of ``key`` under ``prefix``: slashes kept, the rest percent-encoded."""
    url = prefix + filepath_to_uri(key)
    if parameters:
        url += "?" + urlparse.urlencode(parameters)
    return url


def presigned_url(client, bucket, key, expires_in, parameters=None, http_method=None) -> str:
    """A GetObject URL signed by ``client``, valid ``expires_in`` seconds.

    ``parameters`` are extra GetObject arguments (e.g. ResponseContentDisposition).
    botocore errors are left to the caller, which knows how to explain them.
    """
    params = dict(parameters) if parameters else {}
    params["Bucket"] = bucket
    params["Key"] = key
    return client.generate_presigned_url(
        "get_object",
        Params=params,
        ExpiresIn=expires_in,
        HttpMethod=http_method,
    )


def strip_signing_parameters(url) -> str:
    """Remove signing/expiry query parameters (v2 and v4) from a URL."""
    split_url = urlparse.urlsplit(url)
    qs = urlparse.parse_qsl(split_url.query, keep_blank_values=True)
    filtered_qs = ((key, val) for key, val in qs if key.lower() not in _SIGNING_PARAMETERS)
    joined_qs = ("=".join(keyval) for keyval in filtered_qs)
    return split_url._replace(query="&".join(joined_qs)).geturl()


def unsigned_bucket_url(
    bucket, endpoint_url=None, region_name=None, addressing_style=None, use_ssl=True
) -> str:
    """Public URL prefix (ending in '/') of ``bucket``, addressed as botocore does.

    Pure string work, checked against botocore's own (unsigned) URLs in the
    tests. Custom endpoints use path style unless ``addressing_style`` is
    'virtual'; AWS uses virtual hosts when the name allows it.
    """
    if endpoint_url:
        parts = urlparse.urlsplit(endpoint_url)
        scheme, netloc, path = parts.scheme or "https", parts.netloc, parts.path.rstrip("/")
        host = parts.hostname or ""
        if addressing_style == "virtual":
            # botocore: dotted names only over http (certificates); plain names not on IPs
            dotted_ok = "." in bucket and scheme == "http" and _valid_dns_name(bucket)
            if dotted_ok or (
                "." not in bucket and not _is_ip(host) and _virtual_hostable(bucket, scheme)
            ):
                return f"{scheme}://{bucket}.{netloc}{path}/"
        return f"{scheme}://{netloc}{path}/{bucket}/"
    scheme = "https" if use_ssl else "http"
    regional = (
        f"s3.{region_name}.amazonaws.com"
        if region_name and region_name != "us-east-1"
        else "s3.amazonaws.com"
    )
    if addressing_style == "path" or not _virtual_hostable(bucket, scheme):
        return f"{scheme}://{regional}/{bucket}/"
    if addressing_style == "virtual":
        return f"{scheme}://{bucket}.{regional}/"
    return f"{scheme}://{bucket}.s3.amazonaws.com/"


def _is_ip(host):
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def _valid_dns_name(bucket):
    return bool(s3conf._BUCKET_RE.match(bucket) and 3 <= len(bucket) <= 63 and ".." not in bucket)


def _virtual_hostable(bucket, scheme):
    ok = _valid_dns_name(bucket)
    if ok and "." in bucket:
        return False  # botocore keeps dotted names in the path (certificates, DNS)
    return bool(ok) and not s3conf._IP_RE.match(bucket)
