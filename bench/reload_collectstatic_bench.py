"""What the collectstatic step adds to an ``evennia reload`` when nothing changed.

Evennia's launcher sets Django up and then calls
``evennia_launcher.collectstatic()`` (``call_command("collectstatic",
interactive=False, verbosity=0)``) in its own process before every start and
reload. This bench times exactly that call, in a fresh process per run
whose Django is already set up (as the launcher's is), on the static files
of a vanilla game, against ``rclone sync --checksum --fast-list`` of the
same tree (wall time of the whole rclone process) in the same run. Both talk
to moto's S3 in its own process behind the loopback delay proxy (default
20 ms a request, like a nearby AWS region). Ours is also timed standalone
(``python -m django collectstatic --noinput``, whole process), and with
``AWS_S3_SYNC_QUICK_NOOP = False`` (the full sync's no-op: also the open
multipart listing and the record write), for reference. ``bench/reload_bench.py``
times whole ``evennia reload``s instead.

    python bench/reload_collectstatic_bench.py [--runs 7] [--delay 0.02]

Needs Evennia (the launcher module) and Debian's ``rclone`` (``make bench``
installs both).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from sync_bench import Proxy, evennia_tree, s3_client_for, start_endpoint, stop  # noqa: E402

from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS, DEFAULT_REGION  # noqa: E402

PY = sys.executable
SETTINGS = """
import os
SECRET_KEY = "bench-only"
USE_TZ = True
STATIC_URL = "/static/"
DATABASES = {}
INSTALLED_APPS = ["contrib_awsstorage", "django.contrib.staticfiles"]
STATICFILES_DIRS = [os.environ["BENCH_TREE"]]
STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
AWS_STORAGE_BUCKET_NAME = os.environ["BENCH_BUCKET"]
AWS_S3_ENDPOINT_URL = os.environ["BENCH_ENDPOINT"]
AWS_LOCATION = "static"
AWS_S3_REGION_NAME, AWS_S3_ADDRESSING_STYLE = "us-east-1", "path"
AWS_S3_SYNC_CACHE_DIR = os.environ["BENCH_CACHE"]
AWS_S3_SYNC_QUICK_NOOP = os.environ.get("BENCH_QUICK", "1") == "1"
STORAGES = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"}}
"""
# The launcher's process: Django set up first (not timed), then its collectstatic().
IN_LAUNCHER = textwrap.dedent("""
    import time, django
    django.setup()
    from evennia.server import evennia_launcher
    started = time.perf_counter()
    evennia_launcher.collectstatic()
    print(f"{time.perf_counter() - started:.4f}")
""")


def ours_in_launcher(env) -> float:
    done = subprocess.run(
        [PY, "-c", IN_LAUNCHER], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode or done.stderr.strip():
        raise SystemExit(f"collectstatic in the launcher failed: {done.stderr.strip()[-500:]}")
    return float(done.stdout.strip().splitlines()[-1])


def wall(cmd, env) -> float:
    if cmd[0] == "rclone":  # rclone's S3 backend cannot use a custom CA bundle over plain http
        env = {k: v for k, v in env.items() if k != "AWS_CA_BUNDLE"}
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{cmd[0]} failed: {done.stderr.strip()[-500:]}")
    return seconds


def rclone_cmd(tree: str, bucket: str) -> list[str]:
    return [
        "rclone",
        "sync",
        "--checksum",
        "--fast-list",
        "--config",
        os.devnull,
        tree,
        f"bench:{bucket}/rclone",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=7, help="no-op runs per contender (median counts)"
    )
    parser.add_argument("--delay", type=float, default=0.02, help="seconds added per request")
    args = parser.parse_args(argv)
    if not shutil.which("rclone"):
        raise SystemExit("rclone is not installed: apt-get install rclone (make bench does it)")
    workdir = tempfile.mkdtemp(prefix="reload-bench-")
    s3, endpoint = start_endpoint(["contrib_awsstorage.embedded_s3", "--port", "0"])
    proxy = Proxy(endpoint, args.delay)
    try:
        bucket = "reload-bench"
        s3_client_for(endpoint).create_bucket(Bucket=bucket)
        tree = evennia_tree(os.path.join(workdir, "tree"))
        settings_dir = os.path.join(workdir, "settings")
        os.makedirs(settings_dir)
        with open(os.path.join(settings_dir, "bench_reload_settings.py"), "w") as handle:
            handle.write(SETTINGS)
        env = {
            **os.environ,
            **DEFAULT_CREDENTIALS,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "DJANGO_SETTINGS_MODULE": "bench_reload_settings",
            "PYTHONPATH": os.pathsep.join([settings_dir, ROOT]),
            "BENCH_TREE": tree,
            "BENCH_BUCKET": bucket,
            "BENCH_ENDPOINT": proxy.url,
            "BENCH_CACHE": os.path.join(workdir, "hash-cache"),
            # rclone's remote "bench:", from the environment
            "RCLONE_CONFIG_BENCH_TYPE": "s3",
            "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
            "RCLONE_CONFIG_BENCH_ENDPOINT": proxy.url,
            "RCLONE_CONFIG_BENCH_REGION": DEFAULT_REGION,
            "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE": "true",
        }
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(key, None)
        files = sum(len(f) for _, _, f in os.walk(tree))
        print(
            f"vanilla game tree: {files} files; S3 (moto, own process) behind a "
            f"{args.delay * 1000:.0f} ms proxy; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs"
        )
        # cold runs (not timed): both prefixes hold the tree
        ours_in_launcher(env)
        wall(rclone_cmd(tree, bucket), env)
        results = {
            "ours (in the launcher)": [],
            "rclone sync --checksum --fast-list": [],
            "ours (standalone collectstatic)": [],
            "ours in the launcher, full sync path": [],
        }
        requests = {}
        for _ in range(args.runs):  # interleaved, so load changes hit all alike
            proxy.reset()
            results["ours (in the launcher)"].append(ours_in_launcher(env))
            requests["ours (in the launcher)"] = proxy.requests()
            proxy.reset()
            results["rclone sync --checksum --fast-list"].append(
                wall(rclone_cmd(tree, bucket), env)
            )
            requests["rclone sync --checksum --fast-list"] = proxy.requests()
            proxy.reset()
            results["ours (standalone collectstatic)"].append(
                wall([PY, "-m", "django", "collectstatic", "--noinput", "-v", "0"], env)
            )
            requests["ours (standalone collectstatic)"] = proxy.requests()
            proxy.reset()  # AWS_S3_SYNC_QUICK_NOOP = False: the full sync's no-op
            results["ours in the launcher, full sync path"].append(
                ours_in_launcher({**env, "BENCH_QUICK": "0"})
            )
            requests["ours in the launcher, full sync path"] = proxy.requests()
        print(f"no-op, {args.runs} runs each: median (min) seconds, requests per run")
        medians = {}
        for name, times in results.items():
            medians[name] = statistics.median(times)
            print(f"  {name:38} {medians[name]:6.3f} s ({min(times):.3f})  {requests[name]:3d} req")
        ratio = medians["rclone sync --checksum --fast-list"] / medians["ours (in the launcher)"]
        print(
            f"  rclone / ours in the launcher: x{ratio:.2f} "
            f"(target >= x1.0: {'MET' if ratio >= 1 else 'MISSED'})"
        )
    finally:
        stop(proxy.proc, s3)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
