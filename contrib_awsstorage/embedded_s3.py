"""A real S3 wire server on loopback, for demos, tests and benchmarks.

A development feature, not for production: it needs the ``dev-server``
extra (``pip install 'contrib-awsstorage[dev-server]'``, which brings
moto's server; the ``test`` extra has it too). It wraps moto's threaded
server so one line gives an endpoint that boto3, Django storages,
curl and browsers can all talk to. Run it standalone with
``python -m contrib_awsstorage.embedded_s3 --port 0 --bucket NAME``: it
prints ``ENDPOINT <url>`` on its first line and serves until stopped, so a
benchmark can run S3 in its own process.

Only loopback addresses are accepted: this is a development server.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import signal
import sys
import threading

# moto keeps objects in memory, keyed by these fake credentials' account.
DEFAULT_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAEMBEDDEDS3DEMO00",
    "AWS_SECRET_ACCESS_KEY": "embedded-s3-demo-secret-not-a-real-key",
}
DEFAULT_REGION = "us-east-1"


def browser_cors_rules(origins) -> list[dict]:
    """The CORS rule the README recommends for a static bucket: browsers on
    the game's origins may ``GET``/``HEAD`` (fonts, module scripts and
    ``crossorigin`` tags are CORS fetches, Fetch standard section 3.2)."""
    return [
        {
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedOrigins": list(origins),
            "AllowedHeaders": ["*"],
            "MaxAgeSeconds": 3600,
        }
    ]


def _require_loopback(host: str) -> None:
    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = host == "localhost"
    if not is_loopback:
        raise ValueError(
            f"EmbeddedS3 host {host!r} is not a loopback address; "
            "use 127.0.0.1 (the embedded server is for local use only)."
        )


class EmbeddedS3:
    """Start/stop a moto S3 server on ``host:port`` (port 0 = a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, quiet: bool = True):
        _require_loopback(host)
        self.host = host
        self.port = port
        self.quiet = quiet
        self._server = None
        self._lock = threading.Lock()

    # -- life cycle -------------------------------------------------------
    def start(self) -> EmbeddedS3:
        # Real S3 answers a browser's CORS request only as the bucket's CORS
        # rule says; moto's server adds Access-Control-Allow-Origin to every
        # answer unless MOTO_DISABLE_GLOBAL_CORS is set when it loads.
        os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")
        try:
            from moto.moto_server import werkzeug_app
            from moto.server import ThreadedMotoServer
        except ImportError as exc:  # pragma: no cover - depends on install
            raise RuntimeError(
                "The embedded S3 server needs moto: pip install 'contrib-awsstorage[dev-server]'."
            ) from exc
        if not werkzeug_app.DISABLE_GLOBAL_CORS:
            raise RuntimeError(
                "moto's server was loaded before EmbeddedS3 could turn off its allow-every-origin CORS: "
                "set MOTO_DISABLE_GLOBAL_CORS=true in the environment (then the bucket's CORS rule decides)."
            )
        if self.quiet:  # werkzeug logs one line per request otherwise
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
        with self._lock:
            if self._server is None:
                server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
                server.start()
                self.host, self.port = server.get_host_and_port()
                self._server = server
        return self

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None

    def __enter__(self) -> EmbeddedS3:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- helpers ----------------------------------------------------------
    def client(self, region: str = DEFAULT_REGION):
        """A boto3 S3 client for this server, with the embedded credentials."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=region,
            aws_access_key_id=DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def create_bucket(
        self, name: str, region: str = DEFAULT_REGION, public_read: bool = False
    ) -> str:
        """Create ``name`` (idempotent); ``public_read`` adds a bucket policy
        allowing anonymous GetObject, as a CDN origin bucket would have."""
        client = self.client(region)
        kwargs = {"Bucket": name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            client.create_bucket(**kwargs)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        if public_read:
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "PublicReadGetObject",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{name}/*",
                    }
                ],
            }
            client.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
        return name

    def allow_browser_origins(self, bucket: str, origins) -> None:
        """Give ``bucket`` the README's CORS rule for ``origins`` (e.g. the
        game's ``http://127.0.0.1:4001``); it replaces any earlier rule."""
        self.client().put_bucket_cors(
            Bucket=bucket, CORSConfiguration={"CORSRules": browser_cors_rules(origins)}
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--bucket", action="append", default=[], help="bucket(s) to create")
    parser.add_argument("--region", default=DEFAULT_REGION)
    args = parser.parse_args(argv)

    server = EmbeddedS3(args.host, args.port).start()
    for bucket in args.bucket:
        server.create_bucket(bucket, region=args.region, public_read=True)
    return serve_until_signalled(server)


def serve_until_signalled(server) -> int:
    """Announce ``server.endpoint_url`` as ``ENDPOINT <url>`` (the first line
    a parent process reads), wait for SIGTERM/SIGINT, then ``server.stop()``."""
    print(f"ENDPOINT {server.endpoint_url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
