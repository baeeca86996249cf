"""A loopback HTTP proxy in front of moto that makes STS credentials expire
the way AWS does, within a test's time.

moto's STS issues real temporary credentials (a new key id, secret and
session token per AssumeRole / AssumeRoleWithWebIdentity / GetSessionToken),
but never rejects them once they are past their ``Expiration``, and botocore
refuses ``DurationSeconds`` under 900 anyway. The gate passes every request
through to moto unchanged and adds the two missing facts:

- it cuts the lifetime of the credentials in each STS answer to
  ``lifetime`` seconds (the ``Expiration`` the client reads is rewritten,
  so the client sees the same expiry the gate enforces);
- it answers ``400 ExpiredToken`` ("The provided token has expired.", the
  body AWS sends) to any request signed (header or presigned query) with a
  key id whose expiry has passed; that request never reaches moto.

    with StsGate(s3.endpoint_url, lifetime=6) as gate:
        ... point boto3's STS and S3 endpoints at gate.endpoint_url ...
        gate.s3_keys      # key ids that signed S3 requests moto served, in order
        gate.rejected     # (key id, path) of the requests refused as expired
"""

from __future__ import annotations

import http.client
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["StsGate"]

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_HEADER_KEY = re.compile(r"Credential=([A-Z0-9]+)/\d{8}/[^/]+/([a-z0-9-]+)/")
_CREDENTIALS_XML = re.compile(
    r"(<AccessKeyId>([^<]+)</AccessKeyId>.*?<Expiration>)([^<]+)(</Expiration>)|"
    r"(<Expiration>)([^<]+)(</Expiration>.*?<AccessKeyId>([^<]+)</AccessKeyId>)",
    re.S,
)
_EXPIRED_S3 = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ExpiredToken</Code>'
    b"<Message>The provided token has expired.</Message></Error>"
)
_EXPIRED_STS = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
    b"<Type>Sender</Type><Code>ExpiredToken</Code>"
    b"<Message>The security token included in the request is expired</Message>"
    b"</Error></ErrorResponse>"
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - stdlib name
        pass

    def do_GET(self):
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _signer(self) -> tuple[str | None, str]:
        """(key id, service) the request is signed with, if signed."""
        match = _HEADER_KEY.search(self.headers.get("Authorization", ""))
        if match:
            return match.group(1), match.group(2)
        query = parse_qs(urlsplit(self.path).query)
        credential = unquote((query.get("X-Amz-Credential") or [""])[0])
        if credential:
            parts = credential.split("/")
            return parts[0], parts[3] if len(parts) > 3 else ""
        return None, ""

    def _handle(self):
        gate = self.server.gate
        body = self._body()
        key, service = self._signer()
        is_sts = (
            service == "sts" or b"Action=AssumeRole" in body or b"Action=GetSessionToken" in body
        )
        if key and gate.is_expired(key):
            gate.note_rejected(key, self.path)
            self._answer(400, _EXPIRED_STS if is_sts else _EXPIRED_S3, "text/xml")
            return
        connection = http.client.HTTPConnection(gate.upstream_host, gate.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            status, reply_headers = response.status, response.getheaders()
        finally:
            connection.close()
        if is_sts and status == 200:
            data = gate.issue(data)
        elif key and not is_sts and status < 400:
            gate.note_served(key)
        self.send_response(status)
        for name, value in reply_headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _answer(self, status: int, data: bytes, content_type: str):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class StsGate:
    """Start/stop the gate on 127.0.0.1 (a free port) in front of ``upstream``."""

    def __init__(self, upstream: str, lifetime: float = 6.0):
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"StsGate upstream {upstream!r} is not on loopback.")
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 80
        self.lifetime = float(lifetime)
        self._lock = threading.Lock()
        self._expiry: dict[str, datetime] = {}
        self.s3_keys: list[str] = []
        self.rejected: list[tuple[str, str]] = []
        self.issued: list[tuple[str, datetime]] = []
        self._server = None
        self._thread = None

    # -- what the handler asks ------------------------------------------------
    def is_expired(self, key: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(key)
        return expiry is not None and datetime.now(UTC) >= expiry

    def expiry_of(self, key: str) -> datetime | None:
        """When the gate starts refusing ``key`` (None: not issued through the gate)."""
        with self._lock:
            return self._expiry.get(key)

    def issue(self, data: bytes) -> bytes:
        """Cut the lifetime of the credentials in an STS answer; remember them."""
        text = data.decode("utf-8")
        moment = datetime.now(UTC) + timedelta(seconds=self.lifetime)
        expiry = moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # as sent

        def cut(match):
            with self._lock:
                if match.group(1):
                    key = match.group(2)
                    self._expiry[key] = expiry
                    self.issued.append((key, expiry))
                    return f"{match.group(1)}{_iso(expiry)}{match.group(4)}"
                key = match.group(8)
                self._expiry[key] = expiry
                self.issued.append((key, expiry))
                return f"{match.group(5)}{_iso(expiry)}{match.group(7)}"

        return _CREDENTIALS_XML.sub(cut, text).encode("utf-8")

    def note_served(self, key: str) -> None:
        with self._lock:
            self.s3_keys.append(key)

    def note_rejected(self, key: str, path: str) -> None:
        with self._lock:
            self.rejected.append((key, path))

    # -- life cycle -------------------------------------------------------------
    def start(self) -> StsGate:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.gate = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="sts-gate", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> StsGate:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"
