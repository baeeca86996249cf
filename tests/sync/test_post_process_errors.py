"""A static file that fails post-processing (a CSS file referring to an image
that is not there) is one clear CommandError naming the file and the line,
on every Django version (Django 6.1's own collectstatic does the same; 5.2
and 6.0 raise a bare ValueError). Nothing is uploaded then."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from contrib_awsstorage.management.commands.collectstatic import Command as Collectstatic

from .helpers import keys, write_tree

MANIFEST = "contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage"
CSS = "body { color: #333; }\n.logo { background: url(missing.png); }\n"


def use_manifest_storage(settings, tmp_path, files):
    settings.AWS_LOCATION = "static"
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATICFILES_DIRS = [write_tree(tmp_path / "assets", files)]
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": MANIFEST},
    }


def collect():
    out, err = io.StringIO(), io.StringIO()
    call_command(Collectstatic(), interactive=False, verbosity=1, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_missing_image_in_css_is_a_command_error_naming_file_and_line(
    s3_settings, tmp_path, s3_client, bucket
):
    use_manifest_storage(s3_settings, tmp_path, {"css/site.css": CSS, "img/logo.png": b"\x89PNG"})

    with pytest.raises(CommandError) as raised:
        collect()

    assert str(raised.value) == (
        f"static files were not synced to s3://{bucket}/static: post-processing 'css/site.css' failed: "
        "The file 'css/missing.png' could not be found with "
        "<S3ManifestStaticStorage (hashed locally before the upload)>. "
        "'css/site.css' contains this reference 'url(missing.png)' on line "
        "2: .logo { background: url(missing.png); }"
    )
    assert keys(s3_client, bucket, "static/") == {}  # failed before any upload


def test_long_line_is_named_by_its_number_only(s3_settings, tmp_path, bucket):
    css = "a{}\n\n\n.logo { background: url(gone.png); }" + " " * 80 + "\n"
    use_manifest_storage(s3_settings, tmp_path, {"css/site.css": css})

    with pytest.raises(
        CommandError, match=r"'css/site.css' contains this reference 'url\(gone.png\)' on line 4$"
    ):
        collect()


def test_fixed_css_then_collects(s3_settings, tmp_path, s3_client, bucket):
    """The same tree with the image in place goes up (the error is about the file, not the setup)."""
    use_manifest_storage(
        s3_settings, tmp_path, {"css/site.css": CSS, "css/missing.png": b"\x89PNG"}
    )
    out, _ = collect()
    assert "static files copied" in out
    assert "static/staticfiles.json" in keys(s3_client, bucket, "static/")
