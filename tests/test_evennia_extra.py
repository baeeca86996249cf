"""Without Evennia, the Evennia glue says what to install; the rest works.

Each case runs in a fresh interpreter with Evennia blocked (as if it were
not installed), so this holds on every stack of the matrix, Evennia or not.
"""

import pytest

from .test_layers import run_blocked


@pytest.mark.parametrize("module", ["contrib_awsstorage.services", "contrib_awsstorage.awsstatus"])
def test_glue_without_evennia_names_the_extra(module):
    result = run_blocked(
        ("evennia",),
        f"""
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True, SECRET_KEY="x", INSTALLED_APPS=["contrib_awsstorage"])
        django.setup()
        try:
            import {module}
        except ImportError as exc:
            print("MESSAGE:", exc)
            assert exc.name == "evennia", exc.name
        else:
            raise AssertionError("{module} imported without Evennia")
    """,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    message = result.stdout.split("MESSAGE:", 1)[1]
    assert f"{module} is contrib_awsstorage's Evennia glue and needs Evennia" in message
    assert "pip install contrib-awsstorage[evennia]" in message


def test_webserver_facade_and_storage_import_without_evennia():
    result = run_blocked(
        ("evennia",),
        """
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True, SECRET_KEY="x", INSTALLED_APPS=["contrib_awsstorage"])
        django.setup()
        from contrib_awsstorage import aws_s3_cdn, webserver
        from contrib_awsstorage.sync import engine
        webserver.DjangoWebRoot(webserver.LockableThreadPool(minthreads=1, maxthreads=1))
    """,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")
