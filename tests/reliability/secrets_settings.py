"""An Evennia-based settings module for the secrets scan's child processes.

Everything a game admin would have on: ``DEBUG``, our loggers and Django's
at DEBUG on stderr, credentials (a known secret key and session token) in
the settings, the storages on the bucket named by the environment.
"""

import os

from botocore.config import Config
from evennia.settings_default import *  # noqa: F401,F403

INSTALLED_APPS = list(INSTALLED_APPS) + ["contrib_awsstorage"]  # noqa: F405
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEBUG = True
AWS_STORAGE_BUCKET_NAME = os.environ["RELIABILITY_BUCKET"]
AWS_S3_ENDPOINT_URL = os.environ["RELIABILITY_ENDPOINT"]
AWS_S3_REGION_NAME = "us-east-1"
AWS_S3_ADDRESSING_STYLE = "path"
AWS_ACCESS_KEY_ID = os.environ["SCAN_ACCESS_KEY"]
AWS_SECRET_ACCESS_KEY = os.environ["SCAN_SECRET_KEY"]
AWS_SESSION_TOKEN = os.environ["SCAN_SESSION_TOKEN"]
AWS_S3_CLIENT_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2}
)
STATIC_ROOT = os.environ.get("RELIABILITY_STATIC_ROOT") or None
STATIC_URL = f"{AWS_S3_ENDPOINT_URL}/{AWS_STORAGE_BUCKET_NAME}/static/"
STORAGES = {
    "default": {
        "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage",
        "OPTIONS": {"location": "media"},
    },
    "staticfiles": {
        "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
        "OPTIONS": {"location": "static"},
    },
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": "DEBUG"}},
    "root": {"handlers": ["stderr"], "level": "DEBUG"},
    # The AWS SDK's own wire dumps are the SDK's business, not ours (see report).
    "loggers": {name: {"level": "INFO"} for name in ("botocore", "boto3", "urllib3", "s3transfer")},
}
