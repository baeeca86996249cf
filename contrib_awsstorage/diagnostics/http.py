"""Plain, unsigned HTTP requests with short timeouts.

Two checks need S3 *without* boto3: "is the endpoint reachable at all"
(and what time its ``Date`` header says), and "can an anonymous browser
GET this public URL". boto3 would sign, retry and wait; a browser does
neither, and a dead endpoint must cost seconds, not minutes.
"""

from __future__ import annotations

import email.utils
import http.client
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 3.0


@dataclass
class HttpAnswer:
    """What came back: a status and a few headers, or why nothing did."""

    status: int | None = None
    date: float | None = None  # the server's clock (epoch seconds) from ``Date``
    content_type: str = ""
    error: str = ""  # one line, e.g. "connection refused"

    @property
    def reached(self) -> bool:
        return self.status is not None


def _tls_context(verify) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return ssl.create_default_context()


def describe_error(exc: BaseException) -> str:
    """A short reason a human understands (never a traceback)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return "host name does not resolve"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP answer ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


def _parse_date(value: str | None) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() if value else None
    except (TypeError, ValueError):
        return None


def request(
    url: str,
    method: str = "GET",
    timeout: float = DEFAULT_TIMEOUT,
    verify=None,
    headers: dict | None = None,
) -> HttpAnswer:
    """One request, no redirects followed, body read at most a little.

    ``url`` may be scheme-relative (``//cdn/x``: https is assumed).
    """
    if url.startswith("//"):
        url = "https:" + url
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=_tls_context(verify)
        )
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    else:
        return HttpAnswer(error=f"not an http(s) URL: {parts.scheme or 'no scheme'}")
    try:
        conn.request(
            method, path, headers={"User-Agent": "contrib-awsstorage-s3-check", **(headers or {})}
        )
        response = conn.getresponse()
        if method != "HEAD":
            response.read(1024)
        return HttpAnswer(
            response.status,
            _parse_date(response.getheader("Date")),
            response.getheader("Content-Type") or "",
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return HttpAnswer(error=describe_error(exc))
    finally:
        conn.close()
