"""Django's own ``collectstatic`` (our app listed after
``django.contrib.staticfiles``, Evennia's ``INSTALLED_APPS +=`` idiom) on
our static storage, over HTTP to the S3 server.

With ``preload_metadata`` the storage answers Django's ``exists`` and
``get_modified_time`` from one listing: a no-op re-run costs list requests,
not a HEAD per file, and a changed file still goes up. Without it, each file
costs HEAD requests (Django's own behaviour, shown for contrast).

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

from tests.sync.helpers import body, keys, write_tree

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = 1100  # more than one listing page (1,000 keys)


def tree(count: int) -> dict:
    files = {}
    for i in range(count):
        kind = i % 3
        if kind == 0:
            files[f"css/d{i % 7}/s{i}.css"] = f".c{i} {{ color: #{i:06x}; }}\n"
        elif kind == 1:
            files[f"js/d{i % 5}/a{i}.js"] = f"function f{i}() {{ return {i}; }}\n"
        else:
            files[f"img/p{i}.png"] = bytes((i * 7 + n) % 256 for n in range(64))
    return files


def checked_out(root, files: dict) -> str:
    """Write ``files`` with an hour-old mtime (a checkout made before the upload)."""
    source = write_tree(root, files)
    then = time.time() - 3600
    for name in files:
        os.utime(os.path.join(source, *name.split("/")), (then, then))
    return source


def run(source, server, bucket, *args, preload=True):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.aws_s3_cdn.app_second_settings",
        "PYTHONPATH": ROOT,
        "STOCK_TEST_BUCKET": bucket,
        "STOCK_TEST_ENDPOINT": server.endpoint_url,
        "STOCK_TEST_SOURCE": str(source),
        "STOCK_TEST_PRELOAD": "1" if preload else "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.aws_s3_cdn.collectstatic_run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def methods(result) -> list[str]:
    return [method for method, _ in result["requests"]]


def lists(result) -> list[str]:
    return [url for method, url in result["requests"] if method == "GET" and "list-type=2" in url]


def test_preloaded_noop_costs_list_requests_and_a_change_still_goes_up(
    s3_server, bucket, s3_client, tmp_path
):
    files = tree(FILES)
    source = checked_out(tmp_path / "assets", files)

    cold = run(source, s3_server, bucket, "-v", "1")
    assert cold["app"] == "django.contrib.staticfiles"  # Django's command, not ours
    assert f"{FILES} static files copied" in cold["out"]
    assert len(keys(s3_client, bucket, "static/")) == FILES

    noop = run(source, s3_server, bucket, "-v", "1")
    assert f"0 static files copied, {FILES} unmodified" in noop["out"]
    assert "HEAD" not in methods(noop)
    assert len(noop["requests"]) == len(lists(noop)) == math.ceil(FILES / 1000)

    changed = "js/d1/a1.js"
    write_tree(source, {changed: "function f1() { return 'changed'; }\n"})  # mtime: now
    again = run(source, s3_server, bucket, "-v", "1")
    assert f"1 static file copied, {FILES - 1} unmodified" in again["out"]
    assert "HEAD" not in methods(again)
    sent = [(m, url) for m, url in again["requests"] if m in ("PUT", "POST", "DELETE")]
    assert [m for m, _ in sent] == ["DELETE", "PUT"], sent  # Django deletes, then saves
    assert all(url.endswith("/static/" + changed) for _, url in sent)
    assert body(s3_client, bucket, "static/" + changed) == b"function f1() { return 'changed'; }\n"


def test_without_preload_each_file_costs_heads(s3_server, bucket, tmp_path):
    """Django's own behaviour, for contrast: exists() and get_modified_time()
    are a HEAD each, per file, on every run."""
    files = tree(12)
    source = checked_out(tmp_path / "assets", files)
    run(source, s3_server, bucket, "-v", "0", preload=False)
    noop = run(source, s3_server, bucket, "-v", "1", preload=False)
    assert f"0 static files copied, {len(files)} unmodified" in noop["out"]
    assert methods(noop).count("HEAD") == 2 * len(files)
