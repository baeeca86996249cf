"""The web thread pool is Twisted's ``ThreadPool`` plus a lock: lazy threads
up to ``max``, no lost work, loud refusals when locked or stopped, clean stops."""

from __future__ import annotations

import itertools
import threading

import pytest
from twisted.python.threadpool import ThreadPool

from contrib_awsstorage.web.pool import LockableThreadPool, PoolLockedError

from .harness import in_reactor, wait_for

_names = itertools.count(1)


def _alive(pool):
    """Pool threads still running, seen from outside (names and liveness)."""
    prefix = f"PoolThread-{pool.name}-"
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


@pytest.fixture
def make_pool():
    made, gates = [], []

    def make(minthreads=1, maxthreads=3, start=True):
        pool = LockableThreadPool(minthreads, maxthreads, name=f"test-pool-{next(_names)}")
        if start:
            pool.start()
        made.append(pool)
        return pool

    make.gates = gates
    yield make
    for gate in gates:  # never leave a task blocked behind a failed assertion
        gate.set()
    for pool in made:
        if not pool.joined:
            stopper = threading.Thread(target=pool.stop, daemon=True)
            stopper.start()
            stopper.join(5)


class Blocking:
    """Tasks that wait on one gate, counting how many run at once."""

    def __init__(self, make_pool):
        self.gate = threading.Event()
        make_pool.gates.append(self.gate)
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.done = 0
        self.threads = set()

    def __call__(self):
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.threads.add(threading.current_thread())
        try:
            assert self.gate.wait(10)
        finally:
            with self._lock:
                self.now -= 1
                self.done += 1

    def running(self, n):
        wait_for(lambda: self.now == n, timeout=5, what=f"{n} tasks running")

    def finished(self, n):
        wait_for(lambda: self.done == n, timeout=5, what=f"{n} tasks done")


def test_threads_start_lazily(make_pool):
    pool = make_pool(minthreads=1, maxthreads=5)
    assert len(_alive(pool)) == 1
    assert pool.status()["workers"] == 1
    ran = []
    for _n in range(5):  # one at a time: the idle worker takes each, none is added
        done = threading.Event()
        pool.callInThread(lambda: (ran.append(threading.current_thread()), done.set()))  # noqa: B023
        assert done.wait(2)
        wait_for(lambda: pool.status()["busy"] == 0, timeout=2, what="worker idle")
    assert len(set(ran)) == 1
    assert len(_alive(pool)) == 1
    assert pool.status()["workers"] == 1


def test_concurrency_reaches_max_and_not_beyond(make_pool):
    pool = make_pool(minthreads=1, maxthreads=3)
    tasks = Blocking(make_pool)
    for _ in range(6):
        pool.callInThread(tasks)
    tasks.running(3)
    wait_for(lambda: pool.status()["queued"] == 3, timeout=5, what="3 queued")
    status = pool.status()
    assert (status["busy"], status["idle"], status["queued"], status["workers"]) == (3, 0, 3, 3)
    assert len(_alive(pool)) == 3
    tasks.gate.set()
    tasks.finished(6)
    assert tasks.most == 3
    assert len(tasks.threads) == 3
    assert len(_alive(pool)) == 3  # no thread beyond max, even with 6 queued


def test_work_submitted_before_start_runs_after_it(make_pool):
    pool = make_pool(minthreads=1, maxthreads=2, start=False)
    ran = threading.Event()
    order = []
    pool.callInThread(order.append, 1)
    pool.callInThread(lambda: (order.append(2), ran.set()))
    assert _alive(pool) == []
    assert pool.status()["queued"] == 2  # held, not run, not dropped
    assert order == []
    pool.start()
    assert ran.wait(2)
    wait_for(lambda: len(order) == 2, timeout=2, what="both tasks")
    assert sorted(order) == [1, 2]
    assert 1 <= len(_alive(pool)) <= 2


def test_stop_runs_queued_work_then_joins_every_thread(make_pool):
    pool = make_pool(minthreads=1, maxthreads=2)
    tasks = Blocking(make_pool)
    for _ in range(5):
        pool.callInThread(tasks)
    tasks.running(2)
    wait_for(lambda: pool.status()["queued"] == 3, timeout=5, what="3 queued")
    stopped = threading.Event()
    stopper = threading.Thread(target=lambda: (pool.stop(), stopped.set()), daemon=True)
    stopper.start()
    wait_for(lambda: pool.joined, timeout=5, what="stop() begun")
    assert not stopped.is_set()  # it waits for the work
    tasks.gate.set()
    assert stopped.wait(5), "stop() never returned"
    assert tasks.done == 5  # the 3 queued before stop() ran too
    assert tasks.most == 2
    assert all(not t.is_alive() for t in pool.threads)
    assert _alive(pool) == []
    with pytest.raises(PoolLockedError):
        pool.callInThread(lambda: None)


def test_stop_off_thread_fires_when_joined(running_reactor, make_pool):
    pool = make_pool(minthreads=2, maxthreads=4)
    ran = threading.Event()
    pool.callInThread(ran.set)
    assert ran.wait(2)
    assert in_reactor(pool.stop_off_thread, None, 2.0) is True
    assert _alive(pool) == []
    with pytest.raises(PoolLockedError):
        pool.callInThread(lambda: None)


def test_smaller_max_stops_idle_workers_and_the_pool_still_works(make_pool):
    pool = make_pool(minthreads=1, maxthreads=4)
    tasks = Blocking(make_pool)
    for _ in range(4):
        pool.callInThread(tasks)
    tasks.running(4)
    tasks.gate.set()
    tasks.finished(4)
    wait_for(lambda: pool.status()["idle"] == 4, timeout=2, what="4 idle workers")
    assert len(_alive(pool)) == 4

    pool.adjustPoolsize(maxthreads=2)
    assert pool.status()["workers"] == 2
    wait_for(lambda: len(_alive(pool)) == 2, timeout=2, what="2 threads left")

    again = Blocking(make_pool)
    for _ in range(4):
        pool.callInThread(again)
    again.running(2)
    wait_for(lambda: pool.status()["queued"] == 2, timeout=5, what="2 queued")
    again.gate.set()
    again.finished(4)
    assert again.most == 2
    assert len(_alive(pool)) == 2


@pytest.mark.parametrize("pool_class", [ThreadPool, LockableThreadPool], ids=["twisted", "ours"])
def test_smaller_max_while_busy_takes_effect_when_they_finish(make_pool, pool_class):
    """Twisted's team quits a busy worker over the new max once it is done
    (``_toShrink``); the pool must not keep running more than ``max``."""
    pool = pool_class(1, 3, name=f"test-pool-{next(_names)}")
    pool.start()
    try:
        tasks = Blocking(make_pool)
        for _ in range(3):
            pool.callInThread(tasks)
        tasks.running(3)
        pool.adjustPoolsize(maxthreads=1)
        tasks.gate.set()
        tasks.finished(3)
        wait_for(
            lambda: pool.workers <= 1 and len(_alive(pool)) <= 1,
            timeout=1,
            what="the pool back within max=1",
        )

        again = Blocking(make_pool)
        for _ in range(3):
            pool.callInThread(again)
        again.running(1)
        again.gate.set()
        again.finished(3)
        assert again.most == 1, f"{again.most} tasks ran at once with max=1"
    finally:
        for gate in make_pool.gates:
            gate.set()
        stopper = threading.Thread(target=pool.stop, daemon=True)
        stopper.start()
        stopper.join(5)


def test_a_task_that_raises_is_logged_and_its_worker_goes_on(make_pool, log_capture):
    pool = make_pool(minthreads=1, maxthreads=1)
    seen = []
    done = threading.Event()

    def bad():
        seen.append(threading.current_thread())
        raise ValueError("pool-task-boom")

    def good():
        seen.append(threading.current_thread())
        done.set()

    pool.callInThread(bad)
    pool.callInThread(good)
    assert done.wait(2)
    wait_for(lambda: log_capture.failures(), timeout=2, what="the failure logged")
    [event] = log_capture.failures()
    failure = event.get("log_failure") or event.get("failure")  # legacy log.err has the latter
    assert failure.check(ValueError)
    assert "pool-task-boom" in failure.getErrorMessage()
    assert len(seen) == 2 and seen[0] is seen[1]  # the same worker served both
    assert seen[0].is_alive()
    wait_for(lambda: pool.status()["idle"] == 1, timeout=2, what="worker idle again")
    assert len(_alive(pool)) == 1


def test_status_counts_busy_idle_and_queued(make_pool):
    pool = make_pool(minthreads=2, maxthreads=2)
    assert pool.status() == {
        "workers": 2,
        "busy": 0,
        "idle": 2,
        "max": 2,
        "queued": 0,
        "locked": False,
    }
    tasks = Blocking(make_pool)
    pool.callInThread(tasks)
    tasks.running(1)
    status = pool.status()
    assert (status["busy"], status["idle"], status["queued"]) == (1, 1, 0)
    for _ in range(3):
        pool.callInThread(tasks)
    tasks.running(2)
    wait_for(lambda: pool.status()["queued"] == 2, timeout=5, what="2 queued")
    status = pool.status()
    assert (status["workers"], status["busy"], status["idle"], status["queued"]) == (2, 2, 0, 2)
    pool.lock()
    assert pool.status()["locked"] is True
    tasks.gate.set()
    tasks.finished(4)  # queued work still runs while locked
    wait_for(lambda: pool.status()["busy"] == 0, timeout=2, what="workers idle")
    status = pool.status()
    assert (status["workers"], status["busy"], status["idle"], status["queued"]) == (2, 0, 2, 0)


def test_lock_refuses_and_unlock_accepts(make_pool):
    pool = make_pool(minthreads=1, maxthreads=2)
    pool.lock()
    assert pool.locked
    ran = threading.Event()
    with pytest.raises(PoolLockedError):
        pool.callInThread(ran.set)
    with pytest.raises(PoolLockedError):
        pool.callInThreadWithCallback(None, ran.set)
    assert pool.status()["queued"] == 0  # refused, not queued
    pool.unlock()
    assert not pool.locked
    pool.callInThread(ran.set)
    assert ran.wait(2)
