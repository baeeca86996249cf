"""Django's own collectstatic and {% static %} with the S3 static storages."""

from __future__ import annotations

import json
import re
import urllib.request
from io import StringIO

import pytest
from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as DjangoCollectstatic,
)
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.template import Context, Template

from contrib_awsstorage.aws_s3_cdn import S3ManifestStaticStorage

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
CSS = b"body { background: url('../img/logo.png'); }\n"
JS = b"console.log('hello');\n"


@pytest.fixture
def static_site(tmp_path, s3_settings, s3_server, bucket):
    """A small source tree and a public-read bucket (as a CDN origin would be)."""
    src = tmp_path / "src"
    (src / "css").mkdir(parents=True)
    (src / "img").mkdir()
    (src / "js" / "lib").mkdir(parents=True)
    (src / "css" / "site.css").write_bytes(CSS)
    (src / "img" / "logo.png").write_bytes(PNG)
    (src / "js" / "lib" / "app.js").write_bytes(JS)
    s3_settings.STATICFILES_DIRS = [str(src)]
    s3_settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    s3_server.create_bucket(bucket, public_read=True)
    return src


def use_storage(settings, backend, **options):
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": backend, "OPTIONS": options},
    }


def collect():
    """Django's own collectstatic command object (whatever app may override the name)."""
    out = StringIO()
    call_command(DjangoCollectstatic(), interactive=False, verbosity=1, stdout=out)
    return out.getvalue()


def render_static(path):
    return Template("{% load static %}{% static '" + path + "' %}").render(Context())


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def keys(s3_client, bucket):
    return sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_collectstatic_with_static_storage(static_site, s3_settings, s3_client, bucket, s3_server):
    use_storage(
        s3_settings,
        "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
        location="static",
        object_parameters={"CacheControl": "max-age=300"},
    )
    output = collect()
    assert "3 static files copied" in output
    assert keys(s3_client, bucket) == [
        "static/css/site.css",
        "static/img/logo.png",
        "static/js/lib/app.js",
    ]
    head = s3_client.head_object(Bucket=bucket, Key="static/css/site.css")
    assert (
        head["ContentType"] == "text/css; charset=utf-8" and head["CacheControl"] == "max-age=300"
    )
    url = render_static("img/logo.png")
    assert url == f"{s3_server.endpoint_url}/{bucket}/static/img/logo.png"
    assert fetch(url) == PNG
    # a second run finds nothing newer to copy
    assert "0 static files copied" in collect()


def test_collectstatic_with_manifest_storage(
    static_site, s3_settings, s3_client, bucket, s3_server
):
    use_storage(
        s3_settings,
        "contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage",
        location="static",
        preload_metadata=True,
    )
    output = collect()
    assert "3 static files copied" in output and "post-processed" in output
    stored = keys(s3_client, bucket)
    assert "static/staticfiles.json" in stored
    css_hashed = [k for k in stored if re.fullmatch(r"static/css/site\.[0-9a-f]{12}\.css", k)]
    png_hashed = [k for k in stored if re.fullmatch(r"static/img/logo\.[0-9a-f]{12}\.png", k)]
    assert len(css_hashed) == 1 and len(png_hashed) == 1
    manifest = json.loads(
        s3_client.get_object(Bucket=bucket, Key="static/staticfiles.json")["Body"].read()
    )
    assert manifest["paths"]["css/site.css"] == css_hashed[0][len("static/") :]
    # the CSS was rewritten to point at the hashed image
    css = s3_client.get_object(Bucket=bucket, Key=css_hashed[0])["Body"].read().decode()
    assert png_hashed[0].split("/")[-1] in css

    # {% static %} renders the hashed names
    url = render_static("css/site.css")
    assert url == f"{s3_server.endpoint_url}/{bucket}/{css_hashed[0]}"
    assert fetch(url).decode() == css
    assert render_static("img/logo.png").endswith(png_hashed[0])
    # a fresh storage (e.g. after a reload) reads the manifest back from the bucket
    fresh = S3ManifestStaticStorage(location="static")
    assert fresh.url("css/site.css") == url
    assert fresh.manifest_hash == staticfiles_storage.manifest_hash
