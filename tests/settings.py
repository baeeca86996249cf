"""Plain-Django settings for the test suite (no Evennia game needed).

Storage settings are set per test (fixtures in ``conftest.py`` point them at
the embedded S3 server), so nothing here talks to the network.
"""

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    # first, as the README says: our collectstatic replaces Django's
    "contrib_awsstorage",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
STATIC_URL = "/static/"
MEDIA_URL = "/media/"
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {},
    }
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# Local checksum cache of the sync engine: a per-run folder, never the user's ~/.cache.
import os as _os  # noqa: E402
import tempfile as _tempfile  # noqa: E402

AWS_S3_SYNC_CACHE_DIR = _os.path.join(
    _tempfile.gettempdir(), f"contrib-awsstorage-tests-{_os.getpid()}"
)

# The suite counts the full sync's requests; the quick no-op answer (sync/quick.py,
# which reads on the storage's own boto3 client) has its own tests, which turn it on.
AWS_S3_SYNC_QUICK_NOOP = False
