"""Settings for Django's own ``collectstatic`` run in a subprocess, with
``contrib_awsstorage`` listed AFTER ``django.contrib.staticfiles`` (Evennia's
``INSTALLED_APPS += ["contrib_awsstorage"]`` idiom), so the command that
runs is Django's, not ours.

The test passes the endpoint, bucket, backend, source folder and
``preload_metadata`` in STOCK_TEST_* variables.
"""

import os

from tests.settings import *  # noqa: F401,F403
from tests.settings import INSTALLED_APPS as _BASE_APPS

INSTALLED_APPS = [a for a in _BASE_APPS if a != "contrib_awsstorage"] + ["contrib_awsstorage"]
AWS_STORAGE_BUCKET_NAME = os.environ.get("STOCK_TEST_BUCKET")
AWS_S3_ENDPOINT_URL = os.environ.get("STOCK_TEST_ENDPOINT")
AWS_S3_REGION_NAME = "us-east-1"
AWS_S3_ADDRESSING_STYLE = "path"
AWS_LOCATION = "static"
STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
STATICFILES_DIRS = [p for p in [os.environ.get("STOCK_TEST_SOURCE")] if p]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": os.environ.get(
            "STOCK_TEST_BACKEND", "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"
        )
    },
}
USE_TZ = os.environ.get("STOCK_TEST_USE_TZ", "1") == "1"
AWS_IS_GZIPPED = os.environ.get("STOCK_TEST_GZIP") == "1"
AWS_PRELOAD_METADATA = os.environ.get("STOCK_TEST_PRELOAD") == "1"
