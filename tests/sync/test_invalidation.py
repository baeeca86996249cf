"""CloudFront invalidation after a sync, against moto's CloudFront over HTTP:
cold, no-op, a change, a delete, a hashed change, many changes in one folder,
failure then retry, --no-invalidate, --wait, and the JSON/record keys."""

from __future__ import annotations

import io
import json
import os
import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from contrib_awsstorage.management.commands.collectstatic import Command as Collectstatic
from contrib_awsstorage.sync import invalidate
from contrib_awsstorage.sync.record import read_last_run

from .cloudfront import cloudfront, create_distribution, invalidations
from .helpers import keys, small_tree, write_tree
from .test_collectstatic import _run, run_under_launcher

TREE = {**small_tree(8), "css/site.css": "body{}", "index.txt": "hello"}


@pytest.fixture
def cf(s3_server):
    return cloudfront(s3_server.endpoint_url)


@pytest.fixture
def dist(cf, bucket):
    return create_distribution(cf, bucket)["Id"]


@pytest.fixture
def cdn_settings(s3_settings, tmp_path, s3_server, dist):
    s3_settings.AWS_LOCATION = "static"
    s3_settings.STATIC_ROOT = write_tree(tmp_path / "static_root", TREE)
    s3_settings.AWS_CLOUDFRONT_DISTRIBUTION_ID = dist
    s3_settings.AWS_CLOUDFRONT_ENDPOINT_URL = s3_server.endpoint_url
    s3_settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"},
    }
    return s3_settings


def migrate(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("s3_migrate_static", "--json", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue())


def reset_storages(settings):
    """Storages are built once; re-setting STORAGES rebuilds them with the new settings."""
    settings.STORAGES = {**settings.STORAGES}


def edit(settings, name, content):
    with open(os.path.join(settings.STATIC_ROOT, *name.split("/")), "w") as handle:
        handle.write(content)


def test_cold_and_noop_send_nothing_a_change_sends_its_path(
    cdn_settings, cf, dist, bucket, s3_client
):
    cold = migrate()
    assert cold["uploaded"] == len(TREE) and cold["invalidation"] is None
    assert migrate()["invalidation"] is None  # no-op
    assert invalidations(cf, dist) == []

    edit(cdn_settings, "css/site.css", "body{color:red}")
    changed = migrate()
    assert changed["uploaded"] == 1
    inv = changed["invalidation"]
    assert set(inv) >= {"id", "paths", "status"} and inv["id"]
    assert inv["paths"] == ["/static/css/site.css"] and inv["status"] == "Completed"
    assert invalidations(cf, dist) == [["/static/css/site.css"]]
    # the last-run record keeps it too
    from django.core.files.storage import storages

    assert read_last_run(storages["staticfiles"])["invalidation"] == inv
    assert migrate()["invalidation"] is None  # and the next no-op sends nothing again
    assert len(invalidations(cf, dist)) == 1


def test_a_delete_invalidates_the_deleted_path(cdn_settings, cf, dist, bucket, s3_client):
    migrate()
    os.remove(os.path.join(cdn_settings.STATIC_ROOT, "index.txt"))
    summary = migrate("--delete")
    assert summary["deleted"] == 1 and summary["invalidation"]["paths"] == ["/static/index.txt"]
    assert "static/index.txt" not in keys(s3_client, bucket)


def test_many_changes_in_one_folder_become_one_wildcard(cdn_settings, cf, dist):
    tree = {f"img/sprite{i}.svg": f"<svg id='{i}'/>" for i in range(12)}
    write_tree(cdn_settings.STATIC_ROOT, tree)
    migrate()
    write_tree(cdn_settings.STATIC_ROOT, {name: body + " " for name, body in tree.items()})
    edit(cdn_settings, "index.txt", "changed")
    inv = migrate()["invalidation"]
    assert inv["paths"] == ["/static/img/*", "/static/index.txt"]
    assert invalidations(cf, dist) == [["/static/img/*", "/static/index.txt"]]


def test_no_invalidate_and_wait(cdn_settings, cf, dist):
    migrate()
    edit(cdn_settings, "index.txt", "v2")
    skipped = migrate("--no-invalidate")["invalidation"]
    assert skipped == {"id": None, "paths": ["/static/index.txt"], "status": "skipped"}
    assert invalidations(cf, dist) == []
    edit(cdn_settings, "index.txt", "v3")
    waited = migrate("--wait")["invalidation"]
    assert waited["status"] == "Completed" and waited["paths"] == ["/static/index.txt"]
    assert len(invalidations(cf, dist)) == 1


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_failure_is_one_line_exit_1_keeps_the_upload_and_the_next_run_retries(
    cdn_settings, cf, dist, s3_client, bucket
):
    migrate()
    edit(cdn_settings, "css/site.css", "body{color:blue}")
    good_endpoint = cdn_settings.AWS_CLOUDFRONT_ENDPOINT_URL
    cdn_settings.AWS_CLOUDFRONT_ENDPOINT_URL = _closed_port()
    reset_storages(cdn_settings)
    with pytest.raises(CommandError) as info:
        call_command(
            "s3_migrate_static", "--no-progress", stdout=io.StringIO(), stderr=io.StringIO()
        )
    assert info.value.returncode == 1
    message = str(info.value)
    assert (
        len(message.splitlines()) == 1
        and "Fix:" in message
        and "AWS_CLOUDFRONT_ENDPOINT_URL" in message
    )
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in message
    # the upload stands
    assert (
        s3_client.get_object(Bucket=bucket, Key="static/css/site.css")["Body"].read()
        == b"body{color:blue}"
    )
    from django.core.files.storage import storages

    recorded = read_last_run(storages["staticfiles"])["invalidation"]
    assert recorded["status"] == "failed" and recorded["paths"] == ["/static/css/site.css"]

    cdn_settings.AWS_CLOUDFRONT_ENDPOINT_URL = good_endpoint
    reset_storages(cdn_settings)
    retry = migrate()
    assert retry["uploaded"] == 0  # nothing changed since: only the pending paths go out
    assert retry["invalidation"]["paths"] == ["/static/css/site.css"]
    assert invalidations(cf, dist) == [["/static/css/site.css"]]
    assert migrate()["invalidation"] is None  # sent once, then forgotten


def test_unknown_distribution_names_the_setting(cdn_settings, s3_client, bucket):
    migrate()
    cdn_settings.AWS_CLOUDFRONT_DISTRIBUTION_ID = "ENOSUCHDIST"
    reset_storages(cdn_settings)
    edit(cdn_settings, "index.txt", "v2")
    with pytest.raises(CommandError) as info:
        call_command("s3_migrate_static", stdout=io.StringIO(), stderr=io.StringIO())
    assert info.value.returncode == 1
    assert "ENOSUCHDIST" in str(info.value) and "AWS_CLOUDFRONT_DISTRIBUTION_ID" in str(info.value)


# -- collectstatic with a manifest storage: hashed names are never invalidated --
def _manifest_settings(settings, tmp_path, assets):
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATICFILES_DIRS = [write_tree(tmp_path / "assets", assets)]
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage"},
    }


def collectstatic(*args, **options):
    out, err = io.StringIO(), io.StringIO()
    call_command(Collectstatic(), *args, stdout=out, stderr=err, interactive=False, **options)
    return out.getvalue(), err.getvalue()


def test_a_hashed_change_invalidates_only_plain_names(cdn_settings, tmp_path, cf, dist):
    _manifest_settings(cdn_settings, tmp_path, {"css/site.css": "body{}", "js/app.js": "1"})
    out, _ = collectstatic(verbosity=1)
    assert invalidations(cf, dist) == []
    write_tree(tmp_path / "assets", {"css/site.css": "body{color:red}"})
    out, _ = collectstatic(verbosity=1)
    assert "CloudFront: 2 path(s) Completed" in out
    sent = invalidations(cf, dist)
    assert sent == [["/static/css/site.css", "/static/staticfiles.json"]]  # no hashed name


@pytest.mark.evennia  # runs Evennia's launcher
def test_invalidation_failure_under_the_launcher_is_one_warning(s3_server, bucket, cf, tmp_path):
    dist = create_distribution(cf, bucket)["Id"]
    assets = write_tree(tmp_path / "assets", {"a.css": "a{}", "b.css": "b{}"})
    env = {
        "SYNC_TEST_BUCKET": bucket,
        "SYNC_TEST_ENDPOINT": s3_server.endpoint_url,
        "SYNC_TEST_STATICFILES_DIR": assets,
        "SYNC_TEST_CF_DISTRIBUTION": dist,
        "SYNC_TEST_CF_ENDPOINT": s3_server.endpoint_url,
    }
    assert _run(["-m", "django", "collectstatic", "--noinput"], env).returncode == 0
    write_tree(tmp_path / "assets", {"a.css": "a{color:red}"})
    env["SYNC_TEST_CF_ENDPOINT"] = _closed_port()
    launcher = run_under_launcher(env)
    assert launcher.returncode == 0, launcher.stderr
    assert launcher.stdout.strip() == "GAME STARTS"
    lines = launcher.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "WARNING: the files were uploaded, but invalidating 1"
    )
    assert "Traceback" not in launcher.stderr
    direct = _run(["-m", "django", "collectstatic", "--noinput"], env)
    assert (
        direct.returncode == 1 and "Fix:" in direct.stderr
    )  # still pending: sent again, fails again
    env["SYNC_TEST_CF_ENDPOINT"] = s3_server.endpoint_url
    assert _run(["-m", "django", "collectstatic", "--noinput"], env).returncode == 0
    assert invalidations(cf, dist) == [["/static/a.css"]]


# -- the path collapse on its own ----------------------------------------------
def test_collapse_keeps_within_cloudfronts_limits():
    singles = [f"/static/f{i}/file.css" for i in range(3001)]
    assert invalidate.collapse(singles, "/static/") == ["/static/*"]
    folders = [f"/static/a/d{i}/x{j}.css" for i in range(20) for j in range(6)]
    collapsed = invalidate.collapse(folders, "/static/")
    assert collapsed == ["/static/a/*"]
    few = invalidate.collapse(["/static/a.css", "/static/b/c.js", "/static/a.css"], "/static/")
    assert few == ["/static/a.css", "/static/b/c.js"]
    # pending wildcards absorb the files they cover
    assert invalidate.collapse(
        ["/static/img/*", "/static/img/x/y.png", "/static/z.css"], "/static/"
    ) == ["/static/img/*", "/static/z.css"]
    many = [f"/static/d{i}/f{j}.css" for i in range(16) for j in range(5)]
    assert invalidate.collapse(many, "/static/") == ["/static/*"]


def test_viewer_paths_follow_url():
    from contrib_awsstorage.aws_s3_cdn import S3StaticStorage

    storage = S3StaticStorage(
        bucket_name="b", custom_domain="cdn.example.com/assets", location="static"
    )
    assert invalidate.viewer_path(storage, "static/a b*.css") == "/assets/static/a%20b%2A.css"
    assert storage.url("a b.css") == "https://cdn.example.com/assets/static/a%20b.css"
    assert invalidate.root_path(storage) == "/assets/static/"


def test_pending_paths_survive_a_failed_sync(cdn_settings, cf, dist, s3_client, bucket):
    """A sync with a failed upload invalidates nothing, and keeps what it did
    change as pending for the next run."""
    migrate()
    edit(cdn_settings, "index.txt", "v2")
    write_tree(cdn_settings.STATIC_ROOT, {"broken.css": "x"})
    cdn_settings.STORAGES = {
        **cdn_settings.STORAGES,
        "staticfiles": {"BACKEND": "tests.sync.helpers.RejectingStorage"},
    }
    with pytest.raises(CommandError):
        call_command("s3_migrate_static", stdout=io.StringIO(), stderr=io.StringIO())
    assert invalidations(cf, dist) == []
    os.remove(os.path.join(cdn_settings.STATIC_ROOT, "broken.css"))
    reset_storages(cdn_settings)
    retry = migrate()
    assert retry["uploaded"] == 0 and retry["invalidation"]["paths"] == ["/static/index.txt"]


def test_metadata_changed_paths_are_invalidated_plain_names_only(cdn_settings, cf, dist, tmp_path):
    """New AWS_S3_OBJECT_PARAMETERS: the objects are re-tagged in place and their
    plain names invalidated like changed files; a hashed name never is."""
    write_tree(cdn_settings.STATIC_ROOT, {"css/site.0123456789ab.css": "body{}"})
    migrate()
    cdn_settings.AWS_S3_OBJECT_PARAMETERS = {"CacheControl": "public, max-age=60"}
    reset_storages(cdn_settings)

    summary = migrate()

    assert summary["uploaded"] == 0 and summary["metadata_updated"] == len(TREE) + 1
    paths = [p for batch in invalidations(cf, dist) for p in batch]
    assert paths == summary["invalidation"]["paths"] and paths
    assert not any("0123456789ab" in p for p in paths)
    covered = {p.rstrip("*") for p in paths}
    assert all(any(f"/static/{n}".startswith(c) for c in covered) for n in TREE)
    assert migrate()["invalidation"] is None  # and the next run is a no-op
