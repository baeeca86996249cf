"""Django's own ``collectstatic`` (our app listed after
``django.contrib.staticfiles``, Evennia's ``INSTALLED_APPS +=`` idiom) on
our storages: a no-op costs list requests only, changed files go up by
content whatever their mtime, touched but identical files do not.

Each run is a real subprocess with its own settings module, so the
``collectstatic`` that runs is the one Django picks from INSTALLED_APPS.
"""

from __future__ import annotations

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


def run(source, server, bucket, *args, backend=STATIC, timeout=300):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.aws_s3_cdn.app_second_settings",
           "PYTHONPATH": ROOT, "STOCK_TEST_BUCKET": bucket, "STOCK_TEST_ENDPOINT": server.endpoint_url,
           "STOCK_TEST_SOURCE": str(source), "STOCK_TEST_BACKEND": backend}
    done = subprocess.run([sys.executable, "-m", "tests.aws_s3_cdn.stock_run", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def methods(result):
    return [m for m, _ in result["requests"]]


def age(path, seconds):
    """Set ``path``'s mtime ``seconds`` in the past (an old checkout)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_djangos_command_runs_when_listed_second_and_a_noop_costs_list_requests(
        s3_server, bucket, s3_client, tmp_path):
    source = write_tree(tmp_path / "assets", many_files(MANY))
    cold = run(source, s3_server, bucket, "-v", "1")
    assert cold["app"] == "django.contrib.staticfiles"  # Django's command, not ours
    assert f"{MANY} static files copied" in cold["out"]
    assert len(keys(s3_client, bucket, "static/")) == MANY

    noop = run(source, s3_server, bucket, "-v", "1")

    print(f"\ncold: {len(cold['requests'])} requests; no-op: {len(noop['requests'])} requests "
          f"({MANY} files)")
    assert f"0 static files copied, {MANY} unmodified" in noop["out"]
    assert len(noop["requests"]) <= math.ceil(MANY / 1000) + 5, methods(noop)
    assert set(methods(noop)) == {"GET"}


def test_touched_identical_files_stay_and_changed_files_go_up_by_content(
        s3_server, bucket, s3_client, tmp_path):
    files = many_files(30)
    source = write_tree(tmp_path / "assets", files)
    run(source, s3_server, bucket, "-v", "0")
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

    result = run(source, s3_server, bucket, "-v", "1")

    assert f"1 static file copied, {len(files) - 1} unmodified" in result["out"]
    puts = [url for m, url in result["requests"] if m == "PUT"]
    assert len(puts) == 1 and puts[0].endswith("/static/" + changed)
    assert [m for m in methods(result) if m not in ("GET", "PUT")] == []
    after = keys(s3_client, bucket, "static/")
    assert {k for k in after if after[k] != before[k]} == {"static/" + changed}
    body = s3_client.get_object(Bucket=bucket, Key="static/" + changed)["Body"].read()
    assert body.endswith(b"/* changed */\n")
