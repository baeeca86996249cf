"""Our ``collectstatic``: Django's flags on top of the sync engine, and what
Evennia's launcher sees when S3 is down."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys

import pytest
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError

from contrib_awsstorage.management.commands.collectstatic import Command as Collectstatic
from contrib_awsstorage.management.commands.collectstatic import (
    first_hop,
    launched_by_evennia,
    probe_endpoint,
)
from contrib_awsstorage.sync import IMMUTABLE_CACHE_CONTROL

from .helpers import keys, request_paths, small_tree, write_tree

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATIC = "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"
MANIFEST = "contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage"
ASSETS = {
    **small_tree(12),
    "css/site.css": 'body { background: url("../img/bg.png"); }\n',
    "img/bg.png": b"\x89PNG-background",
    ".hidden.css": "h{}",
    "skip/me.js": "skip",
}


def use_storage(settings, tmp_path, backend=STATIC, **options):
    settings.AWS_LOCATION = "static"
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATICFILES_DIRS = [write_tree(tmp_path / "assets", ASSETS)]
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": backend, "OPTIONS": options},
    }


def collect(*args, **options):
    out, err = io.StringIO(), io.StringIO()
    options.setdefault("interactive", False)
    result = call_command(Collectstatic(), *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue(), result


def counted(request_counter):
    from django.core.files.storage import storages

    return request_counter.attach(storages["staticfiles"].connection)


def user_keys(found):
    return {k for k in found if ".contrib_awsstorage/" not in k}


def test_cold_then_noop_costs_list_requests_only(
    s3_settings, tmp_path, s3_client, bucket, request_counter
):
    use_storage(s3_settings, tmp_path)
    out, _, _ = collect(verbosity=1)
    expected = {f"static/{n}" for n in ASSETS if not n.startswith(".")}
    assert user_keys(keys(s3_client, bucket)) == expected
    assert f"{len(expected)} static files copied to 's3://{bucket}/static'" in out
    counted(request_counter)

    out, _, _ = collect(verbosity=1)

    assert f"0 static files copied to 's3://{bucket}/static', {len(expected)} unmodified" in out
    methods = [m for m, _ in request_paths(request_counter.requests)]
    assert methods == ["GET", "GET", "GET", "PUT"]  # list, sync manifest, multipart list; record


def test_changed_files_go_up_in_parallel_on_one_client(
    s3_settings, tmp_path, s3_client, bucket, request_counter
):
    use_storage(s3_settings, tmp_path)
    collect(verbosity=0)
    assets = s3_settings.STATICFILES_DIRS[0]
    for name in ("css/style0.css", "js/app1.js"):
        with open(os.path.join(assets, *name.split("/")), "a") as handle:
            handle.write("/* changed */\n")
    counted(request_counter)

    out, _, _ = collect(verbosity=2)

    assert "Copying 'css/style0.css'" in out and "Copying 'js/app1.js'" in out
    puts = [
        p for m, p in request_paths(request_counter.requests) if m == "PUT" and ".contrib" not in p
    ]
    assert sorted(puts) == [f"/{bucket}/static/css/style0.css", f"/{bucket}/static/js/app1.js"]
    assert not any(m == "HEAD" for m, _ in request_counter.requests)


def test_manifest_storage_hashes_locally_and_uploads_the_manifest_last(
    s3_settings, tmp_path, s3_client, bucket, request_counter
):
    use_storage(s3_settings, tmp_path, MANIFEST)
    counted(request_counter)

    out, _, _ = collect(verbosity=1)

    assert "post-processed" in out
    manifest = json.loads(
        s3_client.get_object(Bucket=bucket, Key="static/staticfiles.json")["Body"].read()
    )
    hashed_css = manifest["paths"]["css/site.css"]
    hashed_bg = manifest["paths"]["img/bg.png"]
    css = s3_client.get_object(Bucket=bucket, Key=f"static/{hashed_css}")
    assert css["CacheControl"] == IMMUTABLE_CACHE_CONTROL
    assert (
        hashed_bg.split("/")[-1] in css["Body"].read().decode()
    )  # url() rewritten to the hashed name
    puts = [
        p for m, p in request_paths(request_counter.requests) if m == "PUT" and ".contrib" not in p
    ]
    assert puts[-1] == f"/{bucket}/static/staticfiles.json"
    # The storage serves hashed URLs from the manifest in the bucket.
    from django.core.files.storage import storages

    fresh = type(storages["staticfiles"])()
    assert fresh.url("css/site.css").endswith(hashed_css)
    request_counter.reset()
    out, _, _ = collect(verbosity=1)
    assert "0 static files copied" in out
    assert [m for m, _ in request_counter.requests] == ["GET", "GET", "GET", "PUT"]


def test_gzip_manifest_noop(s3_settings, tmp_path, request_counter):
    use_storage(s3_settings, tmp_path, MANIFEST, gzip=True)
    collect(verbosity=0)
    counted(request_counter)
    out, _, _ = collect(verbosity=1)
    assert "0 static files copied" in out and request_counter.count == 4


def test_dry_run_writes_nothing(s3_settings, tmp_path, s3_client, bucket, request_counter):
    use_storage(s3_settings, tmp_path, MANIFEST)
    counted(request_counter)
    out, _, _ = collect(dry_run=True, verbosity=1)
    assert "Pretending to copy 'css/site.css'" in out and "would be copied" in out
    assert {m for m, _ in request_counter.requests} == {"GET"}
    assert keys(s3_client, bucket) == {}


def test_clear_reuploads_and_removes_stale_keys(s3_settings, tmp_path, s3_client, bucket):
    use_storage(s3_settings, tmp_path)
    collect(verbosity=0)
    s3_client.put_object(Bucket=bucket, Key="static/old.css", Body=b"old")
    s3_client.put_object(Bucket=bucket, Key="media/upload.png", Body=b"keep")

    out, _, _ = collect(clear=True, verbosity=1)

    assert "1 deleted" in out
    found = keys(s3_client, bucket)
    assert "static/old.css" not in found and "media/upload.png" in found
    assert f"{len(user_keys(found)) - 1} static files copied" in out


def test_ignore_patterns_and_default_ignores(s3_settings, tmp_path, s3_client, bucket):
    use_storage(s3_settings, tmp_path)
    collect("-i", "skip", verbosity=0)
    found = keys(s3_client, bucket)
    assert "static/skip/me.js" not in found and "static/.hidden.css" not in found
    collect("--no-default-ignore", verbosity=0)
    found = keys(s3_client, bucket)
    assert "static/skip/me.js" in found and "static/.hidden.css" in found


def test_link_is_refused_with_a_fix(s3_settings, tmp_path):
    use_storage(s3_settings, tmp_path)
    with pytest.raises(CommandError, match="--link cannot be used with an S3 storage"):
        collect(link=True)


def test_other_storages_get_djangos_collectstatic(settings, tmp_path):
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATICFILES_DIRS = [write_tree(tmp_path / "assets", {"a.css": "a{}"})]
    settings.STATIC_ROOT = str(tmp_path / "collected")
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    out, _, _ = collect(verbosity=1)
    assert "1 static file copied to" in out
    assert (tmp_path / "collected" / "a.css").read_text() == "a{}"


def test_our_command_wins_only_when_listed_before_staticfiles(settings):
    apps = ["django.contrib.auth", "django.contrib.contenttypes"]
    get_commands.cache_clear()
    try:
        settings.INSTALLED_APPS = apps + ["contrib_awsstorage", "django.contrib.staticfiles"]
        get_commands.cache_clear()
        assert get_commands()["collectstatic"] == "contrib_awsstorage"
        settings.INSTALLED_APPS = apps + ["django.contrib.staticfiles", "contrib_awsstorage"]
        get_commands.cache_clear()
        assert get_commands()["collectstatic"] == "django.contrib.staticfiles"
    finally:
        get_commands.cache_clear()


LAUNCHER_LOADED = {"evennia.server.evennia_launcher": object()}


@pytest.mark.parametrize(
    "argv",
    [
        ["/usr/bin/evennia", "reload"],
        ["/venv/bin/evennia", "--settings", "prod.py", "start"],
        [r"C:\venv\Scripts\evennia-script.py", "reboot"],
        ["/venv/lib/python3.11/site-packages/evennia/__main__.py", "istart"],  # python -m evennia
        ["/usr/bin/evennia", "menu"],
    ],
)
def test_the_launcher_is_the_evennia_program_with_a_start_or_reload_action(argv):
    assert launched_by_evennia(argv=argv, modules=LAUNCHER_LOADED) is True


@pytest.mark.parametrize(
    "argv, modules",
    [
        (["/usr/bin/evennia", "collectstatic"], LAUNCHER_LOADED),  # typed by a user
        (["/usr/bin/evennia", "reload"], {}),  # the launcher's module is not loaded
        (["pytest", "-k", "reload"], LAUNCHER_LOADED),  # not the evennia program
        (["/venv/lib/python3.11/site-packages/django/__main__.py", "start"], LAUNCHER_LOADED),
        ([], LAUNCHER_LOADED),
    ],
)
def test_anything_else_is_not_the_launcher(argv, modules):
    assert launched_by_evennia(argv=argv, modules=modules) is False


def _closed_port_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_reachability_probe_goes_where_botocore_connects(s3_settings, tmp_path, monkeypatch):
    """Behind a proxy (HTTP_PROXY/HTTPS_PROXY, NO_PROXY), the probe tries the
    proxy botocore would use, and its error names it without its password."""
    from django.core.files.storage import storages

    use_storage(s3_settings, tmp_path)
    client = storages["staticfiles"].connection
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert first_hop(client) == client.meta.endpoint_url
    probe_endpoint(client)  # the S3 server answers

    proxy = _closed_port_endpoint().replace("http://", "http://user:proxy-pass@")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    assert first_hop(client) == proxy
    with pytest.raises(ConnectionError, match="cannot connect to the proxy") as failed:
        probe_endpoint(client)
    assert "proxy-pass" not in str(failed.value) and "HTTPS_PROXY" in str(failed.value)

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert first_hop(client) == client.meta.endpoint_url


def _run(code_or_args, env_extra):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.sync.subproc_settings",
        "PYTHONPATH": ROOT,
        **env_extra,
    }
    return subprocess.run(
        [sys.executable, *code_or_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_under_launcher(env_extra, then: str = "print('GAME STARTS')"):
    """Evennia's launcher's own collectstatic step (Django set up first, as the
    launcher does; the command line of ``evennia reload``), then ``then``, in
    a fresh process."""
    return _run(
        [
            "-c",
            "import sys, django; django.setup()\n"
            "sys.argv = ['/usr/bin/evennia', 'reload']\n"
            "from evennia.server import evennia_launcher\n"
            "evennia_launcher.collectstatic()\n" + then,
        ],
        env_extra,
    )


@pytest.mark.evennia
def test_unreachable_s3_warns_once_under_the_launcher_and_fails_when_run_directly(tmp_path):
    env = {
        "SYNC_TEST_BUCKET": "some-bucket",
        "SYNC_TEST_ENDPOINT": _closed_port_endpoint(),
        "SYNC_TEST_STATICFILES_DIR": write_tree(tmp_path / "assets", {"a.css": "a{}"}),
    }
    launcher = run_under_launcher(env)
    assert launcher.returncode == 0, launcher.stderr
    assert launcher.stdout.strip() == "GAME STARTS"
    lines = launcher.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("WARNING: static files were not synced")
    assert "AWS_S3_ENDPOINT_URL" in lines[0] and "Traceback" not in launcher.stderr

    direct = _run(["-m", "django", "collectstatic", "--noinput"], env)
    assert direct.returncode == 1
    assert "static files were not synced to s3://some-bucket/static" in direct.stderr
    assert "AWS_S3_ENDPOINT_URL" in direct.stderr

    # `evennia collectstatic` typed by a user: the launcher hands the command
    # line to Django, and the command fails as when run directly.
    typed = _run(
        [
            "-c",
            "import sys, django\n"
            "from evennia.server import evennia_launcher\n"
            "from django.core.management import execute_from_command_line\n"
            "sys.argv = ['/usr/bin/evennia', 'collectstatic', '--noinput', '-i', 'reload']\n"
            "execute_from_command_line(sys.argv)\n",
        ],
        env,
    )
    assert typed.returncode == 1, typed.stderr
    assert "static files were not synced to s3://some-bucket/static" in typed.stderr


@pytest.mark.evennia
def test_bucket_missing_under_the_launcher_is_one_warning(s3_server, tmp_path):
    env = {
        "SYNC_TEST_BUCKET": "missing-bucket-x",
        "SYNC_TEST_ENDPOINT": s3_server.endpoint_url,
        "SYNC_TEST_STATICFILES_DIR": write_tree(tmp_path / "assets", {"a.css": "a{}"}),
    }
    launcher = run_under_launcher(env, then="")
    assert launcher.returncode == 0
    lines = launcher.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "missing-bucket-x" in lines[0] and "AWS_STORAGE_BUCKET_NAME" in lines[0]
    )
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in launcher.stderr


def test_missing_bucket_name_is_a_clear_error(s3_settings, tmp_path):
    use_storage(s3_settings, tmp_path)
    s3_settings.AWS_STORAGE_BUCKET_NAME = None
    with pytest.raises(CommandError, match="AWS_STORAGE_BUCKET_NAME"):
        collect(verbosity=0)
