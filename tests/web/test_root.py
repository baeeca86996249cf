"""Draining on reload: nothing dropped, nothing hangs, bounded in time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from contrib_awsstorage.webserver import LockableThreadPool, PoolLockedError

from . import views
from .harness import get, in_reactor, request, wait_for

REPO = Path(__file__).resolve().parents[2]


def _start_drain(root):
    """Start ``empty_threadpool()`` in the reactor; record when it fires."""
    fired = {}
    done = threading.Event()

    def start():
        fired["started"] = time.monotonic()
        d = root.empty_threadpool()

        def on_fire(result):
            fired["at"] = time.monotonic()
            fired["result"] = result
            fired["pending_then"] = root.status()["pending"]
            done.set()

        d.addCallback(on_fire)

    in_reactor(start)
    return fired, done


def test_fifty_sleeping_requests_all_finish_and_latecomers_get_503(django_site):
    # 50 x 2 s on 25 threads: ~4 s. All 50 must be in before the first 25 end:
    # 2 s leaves room for a busy CI machine (0.5 s did not, now and then)
    site = django_site(maxthreads=25, drain_timeout=10)
    with ThreadPoolExecutor(50) as ex:
        futures = [ex.submit(get, site.listener, "/sleep/?s=2") for _ in range(50)]
        wait_for(lambda: in_reactor(site.root.status)["pending"] == 50, what="50 pending")
        status = in_reactor(site.root.status)
        assert status["pool"]["queued"] > 0  # some wait in the queue, not only in threads
        fired, done = _start_drain(site.root)
        assert in_reactor(site.root.status)["draining"] is True

        late = []
        for _ in range(5):
            t0 = time.monotonic()
            code, headers, _body = get(site.listener, "/hello/")
            late.append((code, headers.get("retry-after"), time.monotonic() - t0))
        results = [f.result(timeout=15) for f in futures]
        last_answer = time.monotonic()

    assert [code for code, _, _ in results] == [200] * 50
    assert all(body == b"slept" for _, _, body in results)
    for code, retry_after, elapsed in late:
        assert code == 503
        assert retry_after is not None and int(retry_after) > 0
        assert elapsed < 0.1, f"503 took {elapsed:.3f}s"
    assert done.wait(5), "drain never fired"
    assert fired["result"] == []
    assert fired["pending_then"] == 0
    assert fired["at"] - fired["started"] > 0.3  # it really waited for the sleepers
    assert fired["at"] <= last_answer + 0.5  # ...and not a moment longer than the last one


def test_drain_with_a_view_that_never_returns_fires_at_the_timeout(django_site, log_capture):
    views.RELEASE_HANGING.clear()
    site = django_site(maxthreads=4, drain_timeout=0.5)
    try:
        with ThreadPoolExecutor(1) as ex:
            hanging = ex.submit(get, site.listener, "/hang/?token=s3cr3t", timeout=30)
            wait_for(lambda: in_reactor(site.root.status)["pending"] == 1, what="hang pending")
            time.sleep(0.05)
            age = in_reactor(site.root.status)["oldest_pending_age"]
            assert age is not None and age >= 0.05
            fired, done = _start_drain(site.root)
            assert done.wait(5)
            waited = fired["at"] - fired["started"]
            assert 0.45 <= waited < 1.5
            [(method, path, age)] = fired["result"]
            assert (method, path) == ("GET", "/hang/") and age >= 0.5
            logged = [t for t in log_capture.texts() if "gave up" in t]
            assert len(logged) == 1 and "GET /hang/" in logged[0]
            assert "s3cr3t" not in logged[0]  # query strings can carry secrets
            # a second caller (Evennia calls it from shutdown and SIGINT) fires at once
            again, again_done = _start_drain(site.root)
            assert again_done.wait(1) and again["result"] == fired["result"]
            views.RELEASE_HANGING.set()
            assert hanging.result(timeout=10)[0] == 200
    finally:
        views.RELEASE_HANGING.set()


def test_resume_accepts_requests_again(django_site):
    site = django_site()
    fired, done = _start_drain(site.root)
    assert done.wait(2) and fired["result"] == []  # nothing pending: fires at once
    assert get(site.listener, "/hello/")[0] == 503
    in_reactor(site.root.resume)
    assert get(site.listener, "/hello/")[0] == 200
    assert in_reactor(site.root.status)["draining"] is False


def test_lock_unlock_twenty_times_under_load(django_site):
    baseline = threading.active_count()
    site = django_site(maxthreads=6)
    stop = threading.Event()
    counts = {}
    errors = []
    lock = threading.Lock()

    def client():
        conn = site.listener.connection(timeout=10)
        try:
            while not stop.is_set():
                code, headers, body = request(conn, "/sleep/?s=0.005")
                if code == 503:
                    assert headers.get("retry-after")
                with lock:
                    counts[code] = counts.get(code, 0) + 1
        except Exception as exc:  # any lost or broken request fails the test
            errors.append(repr(exc))
        finally:
            conn.close()

    clients = [threading.Thread(target=client) for _ in range(8)]
    for t in clients:
        t.start()
    time.sleep(0.1)
    for _ in range(20):
        in_reactor(site.pool.lock)
        time.sleep(0.02)
        in_reactor(site.pool.unlock)
        time.sleep(0.02)
    stop.set()
    for t in clients:
        t.join(15)
    assert not any(t.is_alive() for t in clients), "a client hung"
    assert errors == []
    assert set(counts) <= {200, 503}
    assert counts.get(200, 0) > 0 and counts.get(503, 0) > 0, counts
    wait_for(lambda: in_reactor(site.root.status)["pending"] == 0, what="no pending")
    status = in_reactor(site.root.status)
    assert status["pool"]["workers"] <= 6
    assert status["pool"]["locked"] is False
    in_reactor(site.pool.stop_off_thread, None, 5.0)
    assert not [t for t in site.pool.threads if t.is_alive()]
    wait_for(
        lambda: threading.active_count() <= baseline, timeout=5, what="threads back to baseline"
    )


def test_status_contract(django_site):
    site = django_site(maxthreads=3)
    status = in_reactor(site.root.status)
    assert set(status) == {"pending", "oldest_pending_age", "draining", "pool"}
    assert status["pending"] == 0 and status["oldest_pending_age"] is None
    assert status["draining"] is False
    assert set(status["pool"]) == {"workers", "busy", "idle", "max", "queued", "locked"}
    assert status["pool"]["max"] == 3


def _run_process(mode, timeout=30):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=str(REPO))
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tests.web.drain_process", mode],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc, time.monotonic() - t0


def test_process_stops_without_hanging_after_abandoning_a_request():
    proc, elapsed = _run_process("hang")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ABANDONED GET /hang/" in proc.stdout
    assert "REACTOR STOPPED" in proc.stdout
    assert elapsed < 20


def test_stopping_with_a_request_in_flight_does_not_deadlock():
    """Upstream joins the pool on the reactor thread while the worker waits
    for the reactor to write its answer; here the answer gets out."""
    proc, elapsed = _run_process("inflight")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CLIENT GOT 200 slept" in proc.stdout
    assert "REACTOR STOPPED" in proc.stdout
    assert elapsed < 20


def test_locked_or_stopped_pool_refuses_work_loudly():
    """Upstream drops such work silently and the request hangs forever."""
    ran = threading.Event()
    pool = LockableThreadPool(minthreads=0, maxthreads=1)
    pool.start()
    try:
        pool.lock()
        with pytest.raises(PoolLockedError, match="locked"):
            pool.callInThread(ran.set)
        pool.unlock()
        pool.callInThread(ran.set)
        assert ran.wait(5)
    finally:
        pool.stop()
    with pytest.raises(PoolLockedError):
        pool.unlock()
        pool.callInThread(ran.set)
    assert all(t.daemon for t in pool.threads)
