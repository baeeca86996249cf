"""The long runs behind ``make soak`` (``pytest tests/reliability -m soak -s``):
the fast tests' scenarios, bigger and longer, printing their figures."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.base import ContentFile

from .conftest import make_client
from .loadgen import WebStack
from .test_reload_under_load import DRAIN_BOUND, check_cycle_outcome, reload_cycles
from .test_storage_faults import assert_clear, remote_bytes, storage_with, unavailable_leftovers_ok
from .trees import MB, ROOT, make_tree, open_uploads, remote_files, run_sync, sync_command, sync_env

pytestmark = pytest.mark.soak


def figures(capsys, label: str, data: dict) -> None:
    with capsys.disabled():
        print(f"\nSOAK {label}: {json.dumps(data, sort_keys=True)}")


def test_soak_reload_under_load(capsys):
    with WebStack(threads=16, drain_timeout=DRAIN_BOUND) as stack:
        baseline = stack.status()["threads"]
        report, windows = reload_cycles(stack, cycles=50, clients=32, seconds=60.0, relisten=False)
        stack.reload()
        after = stack.status()
        stderr = stack.stop()
    figures(
        capsys,
        "reload-under-load",
        dict(
            report.figures(),
            cycles=len(windows),
            threads_baseline=baseline,
            threads_after=after["threads"],
        ),
    )
    check_cycle_outcome(report, windows)
    assert after["threads"] == baseline
    assert "Traceback" not in stderr


def test_soak_reload_with_restart_under_load(capsys):
    with WebStack(threads=16, drain_timeout=DRAIN_BOUND) as stack:
        report, windows = reload_cycles(stack, cycles=20, clients=32, seconds=30.0, relisten=True)
        stderr = stack.stop()
    figures(capsys, "reload-with-restart-under-load", dict(report.figures(), cycles=len(windows)))
    assert "Traceback" not in stderr
    check_cycle_outcome(report, windows)


def test_soak_repeated_kill_9_converges(tmp_path, fault_proxy, bucket, s3_client, capsys):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    files = make_tree(tmp_path, small=600, big=(6 * MB, 12 * MB, 7 * MB), seed=21)
    versions = {name: [data] for name, data in files.items()}
    fault_proxy.delay = 0.005
    env = sync_env(bucket, fault_proxy.endpoint_url, tmp_path, RELIABILITY_WORKERS=8)
    kills = 0
    for _ in range(8):
        proc = subprocess.Popen(
            sync_command("--json", "--delete"),
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.2, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
        for name, data in remote_files(s3_client, bucket).items():
            # Whole: some version the file had (a killed run may not have
            # reached a file changed since), never a mix or a prefix.
            assert data in versions[name], f"seed={seed}: {name} is half-written after a kill"
        # Change a few files between runs, as a developer would.
        for name in rng.sample(sorted(files), 40) + [
            rng.choice([n for n in files if n.startswith("big/")])
        ]:
            files[name] = rng.randbytes(len(files[name]) or 1)
            versions[name].append(files[name])
            (tmp_path / name).write_bytes(files[name])
    final = run_sync(env, "--json", "--delete", timeout=600)
    assert final.returncode == 0, f"seed={seed}: {final.stderr[-3000:]}"
    remote = remote_files(s3_client, bucket)
    assert remote == files, f"seed={seed}"
    figures(
        capsys,
        "kill-9",
        {
            "seed": seed,
            "kills": kills,
            "files": len(files),
            "open_uploads_after": len(open_uploads(s3_client, bucket)),
            "proxy": {
                k: v for k, v in fault_proxy.stats().items() if k in ("requests", "by_method")
            },
        },
    )


def test_soak_sync_big_tree_under_faults(tmp_path, fault_proxy, bucket, s3_client, capsys):
    files = make_tree(tmp_path, small=2000, big=(6 * MB, 20 * MB), seed=22)
    fault_proxy.delay = 0.005
    fault_proxy.set_faults(
        ["500", "503", "reset", "stall", "truncate"], rate=0.10, seed=7, stall_seconds=10
    )
    env = sync_env(
        bucket, fault_proxy.endpoint_url, tmp_path, RELIABILITY_WORKERS=16, RELIABILITY_ATTEMPTS=8
    )
    started = time.monotonic()
    proc = run_sync(env, "--json", timeout=900)
    elapsed = time.monotonic() - started
    stats = fault_proxy.stats()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert remote_files(s3_client, bucket) == files
    assert open_uploads(s3_client, bucket) == []
    figures(
        capsys,
        "sync-2000-files-10pct-faults",
        {
            "seconds": round(elapsed, 1),
            "requests": stats["requests"],
            "faults": stats["faults"],
            "summary": json.loads(proc.stdout.strip().splitlines()[-1]),
        },
    )


def test_soak_storage_saves_under_faults(proxied_settings, fault_proxy, s3_client, bucket, capsys):
    rng = random.Random(4321)
    storage = storage_with(attempts=2)
    fault_proxy.set_faults(
        ["500", "503", "reset", "truncate", "stall"], rate=0.25, seed=5, stall_seconds=5
    )
    fault_proxy.add_fault(["500", "reset"], rate=0.1, seed=6, after_upstream=True)
    outcomes = {"ok": 0, "raised": 0}
    for i in range(150):
        data = rng.randbytes(rng.choice([0, 7, 4_000, 300_000, 5 * MB + rng.randrange(1, 6 * MB)]))
        name = f"soak/{i}.bin"
        try:
            storage.save(name, ContentFile(data))
        except Exception as exc:  # noqa: BLE001
            assert_clear(exc)
            outcomes["raised"] += 1
            assert remote_bytes(s3_client, bucket, name) in (None, data), name
        else:
            outcomes["ok"] += 1
            assert remote_bytes(s3_client, bucket, name) == data, name
    assert unavailable_leftovers_ok(fault_proxy, s3_client, bucket)
    figures(
        capsys,
        "storage-150-saves-35pct-faults",
        dict(outcomes, faults=fault_proxy.stats()["faults"]),
    )


def test_soak_fault_proxy_throughput(s3_server, fault_proxy, bucket, capsys):
    """Figures: what the proxy itself costs (no delay, no faults)."""

    def hammer(endpoint):
        client = make_client(endpoint, attempts=1, read_timeout=10, max_pool_connections=32)
        client.put_object(Bucket=bucket, Key="t", Body=b"x" * 1000)
        started = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            list(
                pool.map(
                    lambda _: client.get_object(Bucket=bucket, Key="t")["Body"].read(), range(2000)
                )
            )
        return 2000 / (time.monotonic() - started)

    direct = hammer(s3_server.endpoint_url)
    proxied = hammer(fault_proxy.endpoint_url)
    figures(
        capsys,
        "proxy-throughput",
        {
            "direct_rps": round(direct),
            "proxied_rps": round(proxied),
            "ratio": round(proxied / direct, 2),
        },
    )
    assert proxied > 0.5 * direct


def test_soak_sync_gzip_under_faults(tmp_path, fault_proxy, bucket, s3_client, capsys):
    files = make_tree(tmp_path, small=400, big=(6 * MB,), seed=23)
    fault_proxy.set_faults(
        ["500", "503", "reset", "stall", "truncate"], rate=0.10, seed=8, stall_seconds=10
    )
    env = sync_env(
        bucket, fault_proxy.endpoint_url, tmp_path, RELIABILITY_GZIP=1, RELIABILITY_ATTEMPTS=8
    )
    proc = run_sync(env, "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert remote_files(s3_client, bucket) == files
    fault_proxy.clear_faults()
    again = json.loads(run_sync(env, "--json").stdout.strip().splitlines()[-1])
    assert again["uploaded"] == 0
    figures(
        capsys, "sync-gzip-10pct-faults", {"faults": fault_proxy.stats()["faults"], "resync": again}
    )


def test_soak_collectstatic_under_faults(tmp_path, fault_proxy, bucket, s3_client, capsys):
    """Our collectstatic (what Evennia's launcher runs on every reload)."""
    source = tmp_path / "assets"
    files = make_tree(source, small=300, big=(6 * MB,), seed=24)
    fault_proxy.set_faults(["500", "503", "reset", "truncate"], rate=0.10, seed=9)
    env = sync_env(
        bucket,
        fault_proxy.endpoint_url,
        tmp_path / "unused",
        RELIABILITY_STATICFILES_DIR=str(source),
        RELIABILITY_ATTEMPTS=8,
    )
    proc = subprocess.run(
        [*sync_command()[:3], "collectstatic", "--noinput"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    remote = remote_files(s3_client, bucket)
    assert all(remote.get(name) == data for name, data in files.items())
    figures(
        capsys,
        "collectstatic-10pct-faults",
        {"faults": fault_proxy.stats()["faults"], "remote_objects": len(remote)},
    )
