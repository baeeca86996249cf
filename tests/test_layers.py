"""The layering rules hold: each layer imports only what it may.

- the web layer (webserver, forwarded, staticroot, static_redirect) works
  without boto3/botocore;
- the app, its system checks, its management commands and the engines work
  in a plain Django project: no Evennia, no Twisted.
(The storage layer's own rule is tested in tests/aws_s3_cdn.)
Each case runs in a fresh interpreter with the forbidden packages blocked.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """
import sys
BLOCKED = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked for this test: " + name)
        return None
sys.meta_path.insert(0, Block())
"""


def run_blocked(blocked, body: str) -> subprocess.CompletedProcess:
    code = PRELUDE.format(blocked=tuple(blocked)) + textwrap.dedent(body) + textwrap.dedent("""
        bad = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
        assert not bad, bad
        print("OK")
    """)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_web_layer_imports_and_builds_without_boto3():
    result = run_blocked(("boto3", "botocore", "s3transfer"), """
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True, UPSTREAM_IPS=["127.0.0.1", "10.0.0.0/8"])
        django.setup()
        from contrib_awsstorage import webserver
        from contrib_awsstorage.web import forwarded
        from contrib_awsstorage.web import static_redirect
        from contrib_awsstorage.web import staticroot
        pool = webserver.LockableThreadPool(minthreads=1, maxthreads=2)
        root = webserver.DjangoWebRoot(pool)
        site = webserver.Website(root)
        assert root.status()["pending"] == 0
        static_redirect.static_resource("/tmp", "https://cdn.example.com/static/")
        webserver.PrivateStaticRoot("/tmp")
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


@pytest.mark.parametrize("command", ["s3_check", "s3_migrate_static", "collectstatic"])
def test_app_checks_and_commands_load_without_evennia_or_twisted(command):
    result = run_blocked(("evennia", "twisted"), f"""
        import django
        from django.conf import settings
        settings.configure(
            USE_TZ=True, SECRET_KEY="x", STATIC_URL="/static/",
            INSTALLED_APPS=["contrib_awsstorage", "django.contrib.staticfiles"],
            STORAGES={{"default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
                      "staticfiles": {{"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
                                       "OPTIONS": {{"bucket_name": "layer-test", "region_name": "eu-west-1"}}}}}},
        )
        django.setup()
        from django.core import checks
        from django.core.management import load_command_class
        checks.run_checks()
        cmd = load_command_class("contrib_awsstorage", {command!r})
        cmd.create_parser("manage.py", {command!r})
        from contrib_awsstorage import diagnostics, sync
        from contrib_awsstorage.sync import collect as sync_collect
        from contrib_awsstorage.sync import record as syncrecord
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")
