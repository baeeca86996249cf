"""Storage-level demo: Django's collectstatic into the embedded S3 server.

Starts a real S3 wire server on loopback, creates a public-read bucket,
runs Django's ``collectstatic`` of the small sample site in
``demo/sample_site/static`` through ``S3StaticStorage``, prints each
uploaded file's URL (fetchable with curl while the demo runs) and serves
until Ctrl-C. ``--check`` fetches every URL instead, then exits 0/1.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS, DEFAULT_REGION, EmbeddedS3  # noqa: E402

BUCKET = "demo-static"


def configure_django(endpoint_url: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="demo-only",
        INSTALLED_APPS=["contrib_awsstorage", "django.contrib.staticfiles"],
        STATICFILES_DIRS=[str(HERE / "sample_site" / "static")],
        STATIC_URL=f"{endpoint_url}/{BUCKET}/static/",
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
                "OPTIONS": {
                    "bucket_name": BUCKET,
                    "endpoint_url": endpoint_url,
                    "region_name": DEFAULT_REGION,
                    "addressing_style": "path",
                    "location": "static",
                    "access_key": DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    "secret_key": DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                },
            },
        },
        USE_TZ=True,
    )
    django.setup()


def collect_and_list() -> list[tuple[str, str]]:
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=1)
    names = []

    def walk(path: str) -> None:
        dirs, files = staticfiles_storage.listdir(path)
        names.extend(f"{path}/{f}".lstrip("/") for f in files)
        for d in dirs:
            if d.startswith("."):  # the sync engine's own records, not site files
                continue
            walk(f"{path}/{d}".lstrip("/"))

    walk("")
    return [(name, staticfiles_storage.url(name)) for name in sorted(names)]


def fetch_all(urls: list[tuple[str, str]]) -> bool:
    ok = True
    for name, url in urls:
        local = (HERE / "sample_site" / "static" / name).read_bytes()
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body, ctype, status = resp.read(), resp.headers.get("Content-Type"), resp.status
        except OSError as exc:
            print(f"FAIL {name}: {exc}")
            ok = False
            continue
        good = status == 200 and body == local
        ok &= good
        print(f"{'OK  ' if good else 'FAIL'} {status} {ctype:<28} {name}")
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fetch every URL, then exit 0/1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_S3_PORT", "0")))
    args = parser.parse_args(argv)

    with EmbeddedS3("127.0.0.1", args.port) as s3:
        s3.create_bucket(BUCKET, public_read=True)
        print(f"Embedded S3 server: {s3.endpoint_url} (bucket {BUCKET!r})")
        configure_django(s3.endpoint_url)
        urls = collect_and_list()
        print(f"\n{len(urls)} static files now on S3:")
        for _name, url in urls:
            print(f"  {url}")
        if args.check:
            return 0 if fetch_all(urls) else 1
        print(f"\nTry: curl -i {urls[0][1]}\nServing until Ctrl-C ...")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nStopping the embedded S3 server.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
