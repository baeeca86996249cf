"""Settings of a web stack child process (``tests.reliability.webstack``)
whose uploads storage gets its credentials from an assumed-role profile:
the long-running server of the credential tests. Bucket and endpoint come
from the environment (``CREDENTIALS_SITE_BUCKET``, ``CREDENTIALS_SITE_ENDPOINT``);
the AWS config file and STS endpoint from the usual AWS variables."""

import os

from tests.reliability.web_settings import *  # noqa: F401,F403

ROOT_URLCONF = "tests.s3.credentials_site_urls"
STORAGES = {
    "default": {
        "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["CREDENTIALS_SITE_BUCKET"],
            "endpoint_url": os.environ["CREDENTIALS_SITE_ENDPOINT"],
            "region_name": "us-east-1",
            "addressing_style": "path",
            "session_profile": "game-role",
            "location": "uploads",
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
