"""Settings for running ``s3_check`` as a real process in the tests: the
test project's settings plus our storages on the bucket named in the
environment (``S3_CHECK_ENDPOINT``, ``S3_CHECK_BUCKET``)."""

import os

from tests.settings import *  # noqa: F401,F403

AWS_STORAGE_BUCKET_NAME = os.environ["S3_CHECK_BUCKET"]
AWS_S3_ENDPOINT_URL = os.environ["S3_CHECK_ENDPOINT"]
AWS_S3_REGION_NAME = "us-east-1"
AWS_S3_ADDRESSING_STYLE = "path"
STORAGES = {
    "staticfiles": {
        "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
        "OPTIONS": {"location": "static"},
    },
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
}
STATIC_URL = f"{AWS_S3_ENDPOINT_URL}/{AWS_STORAGE_BUCKET_NAME}/static/"
