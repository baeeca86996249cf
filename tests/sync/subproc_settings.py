"""Settings for the sync commands run as real subprocesses.

The test passes the S3 endpoint, bucket and folders in SYNC_TEST_* variables;
``contrib_awsstorage`` is listed before ``django.contrib.staticfiles`` so its
``collectstatic`` is the one Django runs.
"""

import os

from tests.settings import *  # noqa: F401,F403
from tests.settings import INSTALLED_APPS as _BASE_APPS

INSTALLED_APPS = ["contrib_awsstorage"] + [a for a in _BASE_APPS if a != "contrib_awsstorage"]
AWS_STORAGE_BUCKET_NAME = os.environ.get("SYNC_TEST_BUCKET")
AWS_S3_ENDPOINT_URL = os.environ.get("SYNC_TEST_ENDPOINT")
AWS_S3_REGION_NAME = "us-east-1"
AWS_S3_ADDRESSING_STYLE = "path"
AWS_LOCATION = "static"
STATIC_ROOT = os.environ.get("SYNC_TEST_STATIC_ROOT") or None
STATICFILES_DIRS = [p for p in [os.environ.get("SYNC_TEST_STATICFILES_DIR")] if p]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": os.environ.get(
            "SYNC_TEST_BACKEND", "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"
        )
    },
}
AWS_CLOUDFRONT_DISTRIBUTION_ID = os.environ.get("SYNC_TEST_CF_DISTRIBUTION") or None
AWS_CLOUDFRONT_ENDPOINT_URL = os.environ.get("SYNC_TEST_CF_ENDPOINT") or None
AWS_S3_SYNC_QUICK_NOOP = bool(os.environ.get("SYNC_TEST_QUICK"))
