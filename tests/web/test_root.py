"""Draining on reload: nothing dropped, nothing hangs, bounded in time.

Bounds are checked on a ``Clock``; real requests wait on events (a view
parked until the test releases it), never on the wall clock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from twisted.internet.task import Clock
from twisted.web.resource import getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

from contrib_awsstorage.webserver import DjangoWebRoot, LockableThreadPool, PoolLockedError

from . import views
from .harness import get, in_reactor, request, wait_for

REPO = Path(__file__).resolve().parents[2]


def _start_drain(root):
    """Start ``empty_threadpool()`` in the reactor; ``done`` is set when it fires."""
    fired = {}
    done = threading.Event()

    def start():
        d = root.empty_threadpool()

        def on_fire(result):
            fired["result"] = result
            fired["pending_then"] = root.status()["pending"]
            done.set()

        d.addCallback(on_fire)

    in_reactor(start)
    return fired, done


def test_fifty_parked_requests_all_finish_and_latecomers_are_refused_unseen(django_site):
    views.RELEASE_HANGING.clear()
    site = django_site(maxthreads=25, drain_timeout=120)
    try:
        with ThreadPoolExecutor(50) as ex:
            futures = [ex.submit(get, site.listener, "/hang/", timeout=60) for _ in range(50)]
            wait_for(lambda: in_reactor(site.root.status)["pending"] == 50, what="50 pending")
            wait_for(
                lambda: in_reactor(site.root.status)["pool"]["queued"] == 25,
                what="25 waiting in the queue, 25 in threads",
            )
            fired, done = _start_drain(site.root)
            assert in_reactor(site.root.status)["draining"] is True

            late = [get(site.listener, "/hello/") for _ in range(5)]
            assert not done.is_set()  # 50 still pending: the drain waits for them
            views.RELEASE_HANGING.set()
            results = [f.result(timeout=60) for f in futures]
    finally:
        views.RELEASE_HANGING.set()

    assert [code for code, _, _ in results] == [200] * 50
    assert all(body == b"released" for _, _, body in results)
    for code, headers, _body in late:
        assert code == 503
        assert int(headers["retry-after"]) > 0
        assert headers["awsstorage-refused-unseen"] == "?1"  # Django never saw them
    assert done.wait(10), "drain never fired"
    assert fired["result"] == []  # nothing abandoned: it waited for every one
    assert fired["pending_then"] == 0


class _NeverCalled:
    """A WSGI application for roots whose requests are never rendered."""

    def __call__(self, environ, start_response):  # pragma: no cover - never rendered
        raise AssertionError("no request is rendered here")


def _pending_request(root, path=b"hang", query=b"?token=s3cr3t"):
    """A request the root has counted as pending (handed to Django, unanswered)."""
    request = DummyRequest([path])
    request.method = b"GET"
    request.path = b"/" + path + b"/"
    request.uri = request.path + query
    assert getChildForRequest(root, request) is root.wsgi_resource
    return request


def test_drain_with_a_request_that_never_finishes_fires_at_the_timeout(log_capture):
    clock = Clock()
    pool = LockableThreadPool(minthreads=0, maxthreads=1)
    root = DjangoWebRoot(pool, application=_NeverCalled(), reactor=clock, drain_timeout=0.5)
    _pending_request(root)
    clock.advance(0.2)
    assert root.status()["oldest_pending_age"] == pytest.approx(0.2)
    results = []
    root.empty_threadpool().addCallback(results.append)
    assert pool.locked
    clock.advance(0.49)
    assert results == []  # still within the bound
    clock.advance(0.01)
    [[(method, path, age)]] = results
    assert (method, path) == ("GET", "/hang/") and age == pytest.approx(0.7)
    logged = [t for t in log_capture.texts() if "gave up" in t]
    assert len(logged) == 1 and "GET /hang/" in logged[0]
    assert "s3cr3t" not in logged[0]  # query strings can carry secrets
    # a second caller (Evennia calls it from shutdown and on SIGINT) gets the same, at once
    again = []
    root.empty_threadpool().addCallback(again.append)
    assert again == results
    assert clock.getDelayedCalls() == []


def test_drain_fires_when_the_last_pending_request_finishes():
    clock = Clock()
    pool = LockableThreadPool(minthreads=0, maxthreads=1)
    root = DjangoWebRoot(pool, application=_NeverCalled(), reactor=clock, drain_timeout=30)
    first, second = _pending_request(root), _pending_request(root, b"other", b"")
    results = []
    root.empty_threadpool().addCallback(results.append)
    first.finish()
    assert results == [] and root.status()["pending"] == 1
    second.processingFailed(Exception("client went away"))  # errback: gone is done too
    assert results == [[]]
    assert clock.getDelayedCalls() == []  # the timer is cancelled


def test_while_draining_a_request_is_refused_before_django():
    clock = Clock()
    pool = LockableThreadPool(minthreads=0, maxthreads=1)
    root = DjangoWebRoot(pool, application=_NeverCalled(), reactor=clock)
    root.empty_threadpool()
    request = DummyRequest([b"hello"])
    assert getChildForRequest(root, request) is not root.wsgi_resource
    assert root.status()["pending"] == 0  # not counted: Django never gets it


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
    counts = {200: 0, 503: 0}
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

    def more(code):
        """Wait until another answer with ``code`` has come back."""
        with lock:
            seen = counts[code]
        wait_for(lambda: counts[code] > seen or errors, what=f"another {code}")

    clients = [threading.Thread(target=client) for _ in range(8)]
    for t in clients:
        t.start()
    try:
        more(200)
        for _ in range(20):
            in_reactor(site.pool.lock)
            more(503)
            in_reactor(site.pool.unlock)
            more(200)
    finally:
        stop.set()
        for t in clients:
            t.join(15)
    assert not any(t.is_alive() for t in clients), "a client hung"
    assert errors == []
    assert set(counts) == {200, 503}
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


def _run_process(mode, timeout=60):
    """Run ``drain_process``; a process that hangs fails at ``timeout``."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "tests.web.drain_process", mode],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_process_stops_without_hanging_after_abandoning_a_request():
    proc = _run_process("hang")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ABANDONED GET /hang/" in proc.stdout
    assert "REACTOR STOPPED" in proc.stdout


def test_stopping_with_a_request_in_flight_does_not_deadlock():
    """Upstream joins the pool on the reactor thread while the worker waits
    for the reactor to write its answer; here the answer gets out."""
    proc = _run_process("inflight")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CLIENT GOT 200 slept" in proc.stdout
    assert "REACTOR STOPPED" in proc.stdout


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
