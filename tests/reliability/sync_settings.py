"""Settings for running the sync commands in a child process of the tests.

The tests start ``python -m django s3_migrate_static`` with these settings
(so ``kill -9`` hits a real, separate process); the bucket, the endpoint
(usually a fault proxy) and the source folder come from the environment.
"""

import os

from botocore.config import Config

from tests.settings import *  # noqa: F401,F403

AWS_STORAGE_BUCKET_NAME = os.environ["RELIABILITY_BUCKET"]
AWS_S3_ENDPOINT_URL = os.environ["RELIABILITY_ENDPOINT"]
AWS_S3_REGION_NAME = "us-east-1"
AWS_S3_ADDRESSING_STYLE = "path"
AWS_LOCATION = os.environ.get("RELIABILITY_LOCATION", "static")
AWS_S3_SYNC_WORKERS = int(os.environ.get("RELIABILITY_WORKERS", "8"))
# Short timeouts: a stalled request must fail (and be retried) in seconds.
_config = {
    "connect_timeout": 1,
    "read_timeout": float(os.environ.get("RELIABILITY_READ_TIMEOUT", "1.5")),
}
if os.environ.get("RELIABILITY_ATTEMPTS"):  # botocore's attempts per request (the only retries)
    _config["retries"] = {
        "mode": "standard",
        "total_max_attempts": int(os.environ["RELIABILITY_ATTEMPTS"]),
    }
AWS_S3_CLIENT_CONFIG = Config(**_config)
STATIC_ROOT = os.environ.get("RELIABILITY_STATIC_ROOT")
AWS_IS_GZIPPED = bool(os.environ.get("RELIABILITY_GZIP"))
# For collectstatic: the files to collect (STATIC_ROOT is then unused).
STATICFILES_DIRS = (
    [os.environ["RELIABILITY_STATICFILES_DIR"]]
    if os.environ.get("RELIABILITY_STATICFILES_DIR")
    else []
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"},
}
