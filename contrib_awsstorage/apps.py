"""The Django app: adding ``"contrib_awsstorage"`` to INSTALLED_APPS gives
the management commands and the settings system checks.

Nothing heavy happens here (no Evennia, Twisted or boto3 import), so the
app works in a plain Django project and costs nothing at start-up.
"""

from django.apps import AppConfig


class ContribAwsStorageConfig(AppConfig):
    name = "contrib_awsstorage"
    verbose_name = "AWS S3 storage"

    def ready(self):
        # Registered here, not at import: the checks module reads settings.
        from django.core import checks

        from .checks import check_storage_settings

        # Tags.staticfiles: collectstatic runs these before uploading anything.
        checks.register(check_storage_settings, checks.Tags.staticfiles, "contrib_awsstorage")
