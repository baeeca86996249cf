"""``s3_migrate_static``: flags, output, and real exit codes."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from .helpers import keys, small_tree, write_tree

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUMMARY_KEYS = {
    "uploaded",
    "unchanged",
    "deleted",
    "failed",
    "bytes",
    "seconds",
    "requests",
    "timings",
}


@pytest.fixture
def static_settings(s3_settings, tmp_path):
    s3_settings.AWS_LOCATION = "static"
    s3_settings.STATIC_ROOT = write_tree(tmp_path / "static_root", small_tree(10))
    s3_settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"},
    }
    return s3_settings


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("s3_migrate_static", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_json_summary_has_the_documented_keys(static_settings, s3_client, bucket):
    out, err = run("--json")
    summary = json.loads(out)
    assert SUMMARY_KEYS <= set(summary)
    assert summary["uploaded"] == 10 and summary["failed"] == 0 and summary["requests"] > 0
    assert summary["timings"]["uploads"] > 0 and summary["timings"]["start_up"] == 0  # in-process
    assert err == ""  # no progress bar with --json
    again = json.loads(run("--json")[0])
    assert again["uploaded"] == 0 and again["unchanged"] == 10


def test_human_summary_and_no_bar_without_a_terminal(static_settings):
    out, err = run()
    assert "uploaded 10, unchanged 0, deleted 0, failed 0" in out
    assert err == ""


def test_dry_run_and_delete_flags(static_settings, s3_client, bucket):
    s3_client.put_object(Bucket=bucket, Key="static/stale.css", Body=b"x")
    out, _ = run("--dry-run", "--delete", "-v", "2")
    assert "would upload css/style0.css" in out and "would delete static/stale.css" in out
    assert set(keys(s3_client, bucket)) == {"static/stale.css"}
    out, _ = run("--delete", "--no-progress")
    assert "deleted 1" in out and "static/stale.css" not in keys(s3_client, bucket)


def test_force_reuploads(static_settings):
    run()
    assert json.loads(run("--force", "--json")[0])["uploaded"] == 10


def test_media_source_goes_to_the_default_storage(s3_settings, tmp_path, s3_client, bucket):
    s3_settings.MEDIA_ROOT = write_tree(
        tmp_path / "media", {"avatars/a.png": b"\x89PNG", "doc.txt": "hi"}
    )
    s3_settings.STORAGES = {
        "default": {
            "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage",
            "OPTIONS": {"location": "media"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    summary = json.loads(run("--source", "media", "--json")[0])
    assert summary["uploaded"] == 2
    assert {"media/avatars/a.png", "media/doc.txt"} <= set(keys(s3_client, bucket))


def test_bad_configuration_exits_2_with_the_fix(static_settings):
    folder = static_settings.STATIC_ROOT
    static_settings.STATIC_ROOT = None
    with pytest.raises(CommandError) as info:
        run("--source", "static")
    assert (
        info.value.returncode == 2
        and "STATIC_ROOT" in str(info.value)
        and "Fix:" in str(info.value)
    )
    with pytest.raises(CommandError) as info:
        run("--source", "/no/such/folder")
    assert info.value.returncode == 2
    assert "--source /no/such/folder is not an existing folder. Fix:" in str(info.value)
    with pytest.raises(CommandError) as info:
        run("--source", folder, "-i", "*.css")
    assert info.value.returncode == 2 and "--source finders" in str(info.value)
    with pytest.raises(CommandError) as info:
        run("--source", "static", "--workers", "0")
    assert info.value.returncode == 2


FINDER_ASSETS = {
    **small_tree(4),
    "css/site.css": 'body { background: url("../img/bg.png"); }\n',
    "img/bg.png": b"\x89PNG-background",
    ".hidden.css": "h{}",  # collectstatic's default ignores: '.*'
    "backup.css~": "old",  # and '*~'
    "skip/me.js": "skip",
}
FOUND = {name for name in FINDER_ASSETS if name not in {".hidden.css", "backup.css~"}}


@pytest.fixture
def finders_settings(s3_settings, tmp_path):
    """A game whose collectstatic goes straight to S3: STATIC_ROOT is never written."""
    s3_settings.AWS_LOCATION = "static"
    s3_settings.STATIC_ROOT = str(tmp_path / "never_written")
    s3_settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    s3_settings.STATICFILES_DIRS = [write_tree(tmp_path / "assets", FINDER_ASSETS)]
    s3_settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"},
    }
    return s3_settings


def test_without_a_static_root_folder_it_syncs_what_collectstatic_would_collect(
    finders_settings, s3_client, bucket
):
    out, err = run("--dry-run", "-v", "2")
    assert "Source: the staticfiles finders (STATIC_ROOT " in out and "is not a folder" in out
    assert {line.removeprefix("would upload ") for line in out.splitlines()} >= FOUND
    assert ".hidden.css" not in out and "backup.css~" not in out
    assert f"would have uploaded {len(FOUND)}, unchanged 0" in out
    assert keys(s3_client, bucket) == {} and err == ""

    summary = json.loads(run("--json")[0])
    assert summary["uploaded"] == len(FOUND) and summary["source"].startswith(
        "the staticfiles finders"
    )
    assert {f"static/{name}" for name in FOUND} <= set(keys(s3_client, bucket))
    assert "static/.hidden.css" not in keys(s3_client, bucket)
    again = json.loads(run("--json")[0])
    assert again["uploaded"] == 0 and again["unchanged"] == len(FOUND)


def test_finders_honour_ignore_patterns_and_delete_as_collectstatic(
    finders_settings, s3_client, bucket
):
    finders_settings.STATIC_ROOT = None
    s3_client.put_object(Bucket=bucket, Key="static/stale.css", Body=b"x")
    out, _ = run("--source", "finders", "-i", "skip", "--no-default-ignore", "--delete", "-v", "2")
    assert "Source: the staticfiles finders." in out
    found = set(keys(s3_client, bucket))
    assert "static/skip/me.js" not in found and "static/stale.css" not in found
    assert {"static/.hidden.css", "static/backup.css~", "static/css/site.css"} <= found


def test_finders_with_a_manifest_storage_hash_as_collectstatic(finders_settings, s3_client, bucket):
    finders_settings.STORAGES["staticfiles"]["BACKEND"] = (
        "contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage"
    )
    assert json.loads(run("--json")[0])["failed"] == 0
    found = set(keys(s3_client, bucket))
    manifest = json.loads(
        s3_client.get_object(Bucket=bucket, Key="static/staticfiles.json")["Body"].read()
    )
    hashed = manifest["paths"]["css/site.css"]
    assert hashed != "css/site.css" and f"static/{hashed}" in found


def test_finders_that_find_nothing_never_delete_everything(finders_settings, s3_client, bucket):
    finders_settings.STATICFILES_DIRS = []
    s3_client.put_object(Bucket=bucket, Key="static/kept.css", Body=b"x")
    with pytest.raises(CommandError) as info:
        run("--delete")
    assert info.value.returncode == 2 and "STATICFILES_DIRS" in str(info.value)
    assert "static/kept.css" in keys(s3_client, bucket)


def test_an_existing_static_root_stays_the_default_source(static_settings):
    out, _ = run()
    assert f"Source: STATIC_ROOT ({static_settings.STATIC_ROOT})." in out


def _subprocess(args, env_extra, stderr=subprocess.PIPE):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.sync.subproc_settings",
        "PYTHONPATH": ROOT,
        **env_extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "django", "s3_migrate_static", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=60,
    )


def test_exit_codes_of_the_real_command(s3_server, bucket, tmp_path):
    root = write_tree(tmp_path / "root", {"a.css": "a{}", "broken.css": "b{}"})
    base = {
        "SYNC_TEST_BUCKET": bucket,
        "SYNC_TEST_ENDPOINT": s3_server.endpoint_url,
        "SYNC_TEST_STATIC_ROOT": root,
    }

    failed = _subprocess(
        ["--no-progress"], {**base, "SYNC_TEST_BACKEND": "tests.sync.helpers.RejectingStorage"}
    )
    assert failed.returncode == 1, failed.stderr
    assert "FAILED broken.css" in failed.stderr and "InvalidStorageClass" in failed.stderr

    os.remove(os.path.join(root, "broken.css"))
    ok = _subprocess(["--json"], base)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["unchanged"] == 1
    # run as a program, the command knows its own start-up (interpreter, imports, Django)
    timings = json.loads(ok.stdout)["timings"]
    assert timings["start_up"] > 0 and timings["client"] > 0  # a new process builds its client

    missing = _subprocess(["--json"], {**base, "SYNC_TEST_BUCKET": "no-such-bucket-here"})
    assert missing.returncode == 2
    assert "no-such-bucket-here" in missing.stderr and "AWS_STORAGE_BUCKET_NAME" in missing.stderr
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in missing.stderr + missing.stdout

    not_ours = _subprocess(
        [], {**base, "SYNC_TEST_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    )
    assert not_ours.returncode == 2 and "S3StaticStorage" in not_ours.stderr


def test_progress_bar_only_on_a_terminal(s3_server, bucket, tmp_path):
    root = write_tree(tmp_path / "root", small_tree(6))
    base = {
        "SYNC_TEST_BUCKET": bucket,
        "SYNC_TEST_ENDPOINT": s3_server.endpoint_url,
        "SYNC_TEST_STATIC_ROOT": root,
    }
    leader, follower = pty.openpty()
    # a real terminal has a size; tqdm draws nothing on a 0-column one
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        done = _subprocess([], base, stderr=follower)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"/6 [" in seen and b"file/s" in seen  # tqdm drew its bar
    assert "uploaded 6" in done.stdout
