"""Django system checks: the offline diagnostics, on every management command.

Ids are ``contrib_awsstorage.<code>`` with the engine's stable codes
(``E001`` bucket name missing, ``E002`` bucket name invalid, ``E003`` region
invalid, ``E004`` location with a leading slash, ``E005`` an option that does
not resolve, ``E006`` legacy ``STATICFILES_STORAGE``/``DEFAULT_FILE_STORAGE``
ignored, ``E008`` backend not importable, ``E009`` bad endpoint URL; ``W001``
no storage of ours configured, ``W002`` ``STATIC_URL`` differs from the
storage URL, ``W003`` no region, ``W004`` signed static URLs, ``W005`` our app
listed after ``django.contrib.staticfiles``, so Django's serial collectstatic runs). The hint is
the fix. No network: anything needing S3 is ``s3_check``'s job.
"""

from __future__ import annotations

from django.core import checks

APP_LABEL = "contrib_awsstorage"


def _message(result) -> str:
    if not result.target or "STORAGES[" in result.message:
        return result.message
    aliases = ", ".join(f"STORAGES[{t!r}]" for t in result.target.split(", "))
    return f"{aliases}: {result.message}"


def check_storage_settings(app_configs=None, **kwargs):
    """Errors and warnings for the S3 storage settings (hints = fixes)."""
    if app_configs is not None and not any(c.label == APP_LABEL for c in app_configs):
        return []
    from .diagnostics import FAIL, WARN, offline

    try:
        results = offline(require_storage=False)
    except Exception as exc:  # a check must never take every command down with it
        from .s3.errors import scrub

        return [
            checks.Warning(
                f"the storage settings could not be checked: {scrub(f'{type(exc).__name__}: {exc}')}",
                hint="run 'python manage.py s3_check' (or 'evennia s3_check') for details.",
                id=f"{APP_LABEL}.W000",
            )
        ]
    messages = []
    for result in results:
        if result.status == FAIL:
            kind = checks.Error
        elif result.status == WARN:
            kind = checks.Warning
        else:
            continue
        messages.append(
            kind(
                _message(result),
                hint=result.fix or None,
                id=f"{APP_LABEL}.{result.code or ('E000' if kind is checks.Error else 'W000')}",
            )
        )
    return messages
