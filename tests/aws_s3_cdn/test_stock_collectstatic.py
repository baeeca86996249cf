"""Django's own ``collectstatic`` (our app listed after
``django.contrib.staticfiles``, Evennia's ``INSTALLED_APPS +=`` idiom) on
our storages: a no-op costs list requests only, changed files go up by
content whatever their mtime, touched but identical files do not.

Each run is a real subprocess with its own settings module, so the
``collectstatic`` that runs is the one Django picks from INSTALLED_APPS.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import subprocess
import sys
import time

import pytest

from tests.sync.helpers import keys, write_tree

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATIC = "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"
MANIFEST = "contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage"
MANY = 1200


def many_files(count: int) -> dict:
    files = {}
    for i in range(count):
        kind = i % 3
        if kind == 0:
            files[f"css/d{i % 7}/s{i}.css"] = f".c{i} {{ color: #{i:06x}; }}\n" * (1 + i % 5)
        elif kind == 1:
            files[f"js/d{i % 5}/a{i}.js"] = f"function f{i}() {{ return {i}; }}\n"
        else:
            files[f"img/d{i % 3}/p{i}.png"] = bytes((i * 7 + n) % 256 for n in range(200 + i % 50))
    return files


def run(source, server, bucket, *args, backend=STATIC, timeout=300, **extra):
    env = {
        **os.environ,
        **extra,
        "DJANGO_SETTINGS_MODULE": "tests.aws_s3_cdn.app_second_settings",
        "PYTHONPATH": ROOT,
        "STOCK_TEST_BUCKET": bucket,
        "STOCK_TEST_ENDPOINT": server.endpoint_url,
        "STOCK_TEST_SOURCE": str(source),
        "STOCK_TEST_BACKEND": backend,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.aws_s3_cdn.stock_run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def methods(result):
    return [m for m, _ in result["requests"]]


def age(path, seconds):
    """Set ``path``'s mtime ``seconds`` in the past (an old checkout)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_djangos_command_runs_when_listed_second_and_a_noop_costs_list_requests(
    s3_server, bucket, s3_client, tmp_path
):
    source = write_tree(tmp_path / "assets", many_files(MANY))
    cold = run(source, s3_server, bucket, "-v", "1")
    assert cold["app"] == "django.contrib.staticfiles"  # Django's command, not ours
    assert f"{MANY} static files copied" in cold["out"]
    assert len(keys(s3_client, bucket, "static/")) == MANY

    noop = run(source, s3_server, bucket, "-v", "1")

    print(
        f"\ncold: {len(cold['requests'])} requests; no-op: {len(noop['requests'])} requests "
        f"({MANY} files)"
    )
    assert f"0 static files copied, {MANY} unmodified" in noop["out"]
    assert len(noop["requests"]) <= math.ceil(MANY / 1000) + 5, methods(noop)
    assert set(methods(noop)) == {"GET"}


@pytest.mark.parametrize(
    "extra",
    [{}, {"STOCK_TEST_USE_TZ": "0"}, {"STOCK_TEST_GZIP": "1"}],
    ids=["aware", "naive-times", "gzipped"],
)
def test_touched_identical_files_stay_and_changed_files_go_up_by_content(
    s3_server, bucket, s3_client, tmp_path, extra
):
    files = many_files(30)
    source = write_tree(tmp_path / "assets", files)
    run(source, s3_server, bucket, "-v", "0", **extra)
    before = keys(s3_client, bucket, "static/")
    # A fresh checkout: every file newer than its object, none changed...
    for name in files:
        os.utime(os.path.join(source, *name.split("/")))
    # ...except one changed file whose mtime is OLDER than its object.
    changed = "js/d1/a1.js"
    path = os.path.join(source, *changed.split("/"))
    with open(path, "a") as handle:
        handle.write("/* changed */\n")
    age(path, 3600)

    result = run(source, s3_server, bucket, "-v", "1", **extra)

    assert f"1 static file copied, {len(files) - 1} unmodified" in result["out"]
    puts = [url for m, url in result["requests"] if m == "PUT"]
    assert len(puts) == 1 and puts[0].endswith("/static/" + changed)
    # A gzipped object whose ETag differs may still hold the same bytes (another
    # tool gzips differently): one HEAD reads its source MD5. Only for that file.
    heads = [url for m, url in result["requests"] if m == "HEAD"]
    assert heads == ([puts[0]] if extra.get("STOCK_TEST_GZIP") else [])
    assert [m for m in methods(result) if m not in ("GET", "PUT", "HEAD")] == []
    after = keys(s3_client, bucket, "static/")
    assert {k for k in after if after[k] != before[k]} == {"static/" + changed}
    stored = s3_client.get_object(Bucket=bucket, Key="static/" + changed)
    assert (stored.get("ContentEncoding") == "gzip") is bool(extra.get("STOCK_TEST_GZIP"))
    data = stored["Body"].read()
    assert (gzip.decompress(data) if extra.get("STOCK_TEST_GZIP") else data).endswith(
        b"/* changed */\n"
    )


def manifest_tree():
    files = many_files(60)
    files["css/site.css"] = 'body { background: url("../img/bg.png"); }\n'
    files["css/deep/more.css"] = (
        '@import url("../site.css");\n.x { background: url("../../img/bg.png"); }\n'
    )
    files["img/bg.png"] = b"\x89PNG-background"
    return files


def test_manifest_storage_noop_and_changed_css_under_djangos_command(
    s3_server, bucket, s3_client, tmp_path
):
    files = manifest_tree()
    source = write_tree(tmp_path / "assets", files)
    cold = run(source, s3_server, bucket, "-v", "1", backend=MANIFEST)
    assert cold["app"] == "django.contrib.staticfiles" and "post-processed" in cold["out"]
    manifest = json.loads(
        s3_client.get_object(Bucket=bucket, Key="static/staticfiles.json")["Body"].read()
    )
    before = keys(s3_client, bucket, "static/")

    for name in files:  # a fresh checkout touches everything
        os.utime(os.path.join(source, *name.split("/")))
    noop = run(source, s3_server, bucket, "-v", "1", backend=MANIFEST)

    print(
        f"\nmanifest: cold {len(cold['requests'])} requests, touched no-op {len(noop['requests'])}"
    )
    assert f"0 static files copied, {len(files)} unmodified" in noop["out"]
    assert len(noop["requests"]) <= math.ceil(len(files) / 1000) + 5, "\n".join(
        map(str, noop["requests"])
    )
    # Django's multi-pass hashing makes an intermediate more.<hash>.css (its
    # @import not resolved yet) and deletes it in the next pass: never sent.
    assert set(methods(noop)) == {"GET"}
    assert keys(s3_client, bucket, "static/") == before
    cold_puts = [url for m, url in cold["requests"] if m in ("PUT", "POST")]
    assert cold_puts[-1].endswith("/static/staticfiles.json")  # the manifest last
    assert not [m for m in methods(cold) if m == "DELETE"]

    path = os.path.join(source, "img", "bg.png")
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG-a-new-background")
    age(path, 3600)
    changed = run(source, s3_server, bucket, "-v", "1", backend=MANIFEST)

    assert "1 static file copied" in changed["out"]
    after = json.loads(
        s3_client.get_object(Bucket=bucket, Key="static/staticfiles.json")["Body"].read()
    )
    assert after["paths"]["img/bg.png"] != manifest["paths"]["img/bg.png"]
    assert (
        after["paths"]["css/site.css"] != manifest["paths"]["css/site.css"]
    )  # it names the new image
    css = s3_client.get_object(Bucket=bucket, Key="static/" + after["paths"]["css/site.css"])[
        "Body"
    ].read()
    assert after["paths"]["img/bg.png"].split("/")[-1] in css.decode()
    hashed = s3_client.get_object(Bucket=bucket, Key="static/" + after["paths"]["img/bg.png"])[
        "Body"
    ].read()
    assert hashed == b"\x89PNG-a-new-background"
    assert s3_client.get_object(Bucket=bucket, Key="static/img/bg.png")["Body"].read() == hashed


def test_clear_and_dry_run_under_djangos_command(s3_server, bucket, s3_client, tmp_path):
    files = many_files(12)
    source = write_tree(tmp_path / "assets", files)
    run(source, s3_server, bucket, "-v", "0")
    s3_client.put_object(Bucket=bucket, Key="static/stale/old.css", Body=b"old")
    s3_client.put_object(Bucket=bucket, Key="elsewhere.txt", Body=b"not ours")

    # Django 6.1 says "Pretending to delete" at verbosity 2 (5.2 already at 1)
    dry = run(source, s3_server, bucket, "-v", "2", "--clear", "--dry-run")
    assert set(methods(dry)) == {"GET"} and "Pretending to delete" in dry["out"]
    assert "static/stale/old.css" in keys(s3_client, bucket)

    cleared = run(source, s3_server, bucket, "-v", "1", "--clear")

    assert f"{len(files)} static files copied" in cleared["out"]
    found = keys(s3_client, bucket)
    assert set(found) == {f"static/{n}" for n in files} | {"elsewhere.txt"}
    deletes = [url for m, url in cleared["requests"] if m == "DELETE"]
    assert any(url.endswith("/static/stale/old.css") for url in deletes)


def test_outside_djangos_command_the_storage_answers_as_before(storage, s3_client, bucket, counted):
    """No command on the stack: exists() and get_modified_time() ask S3 (a HEAD each)."""
    from django.core.files.base import ContentFile

    storage.save("plain.txt", ContentFile(b"plain"))
    counter = counted(storage)
    assert storage.exists("plain.txt") and not storage.exists("missing.txt")
    storage.get_modified_time("plain.txt")
    storage.delete("plain.txt")
    assert [m for m, _ in counter.requests] == ["HEAD", "HEAD", "HEAD", "DELETE"]
    assert "plain.txt" not in keys(s3_client, bucket)
