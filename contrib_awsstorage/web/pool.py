"""The web thread pool that a reload can lock: it refuses new work loudly
(``PoolLockedError``) instead of dropping it, and stops off the reactor thread."""

from __future__ import annotations

import threading
import time
from collections import deque

from twisted.logger import Logger
from twisted.python import failure, threadpool

from .config import get_reactor
from .waiters import Waiters

_log = Logger(namespace="contrib_awsstorage.webserver")


class PoolLockedError(RuntimeError):
    """Work offered to a locked (draining) or stopped pool: answer 503, don't queue."""


def _daemon_thread(*args, **kwargs):
    # A view that never returns must not keep the process alive at exit.
    kwargs["daemon"] = True
    return threading.Thread(*args, **kwargs)


class _Statistics:
    __slots__ = ("idleWorkerCount", "busyWorkerCount", "backloggedWorkCount")

    def __init__(self, idle, busy, backlogged):
        self.idleWorkerCount, self.busyWorkerCount, self.backloggedWorkCount = (
            idle,
            busy,
            backlogged,
        )


_STOP = object()


class _QueueTeam:
    """The pool's workers: one queue, and a worker woken only when the ones
    already awake will not take the work soon.

    ``ThreadPool`` asks its team to ``do``, ``grow``, ``shrink``, ``quit``
    and give ``statistics``. Twisted's own team routes every task through a
    coordinator lock and a per-worker ``queue.Queue``, and wakes a worker
    per task: with the GIL, eight woken workers run one at a time, and the
    reactor, which must read the next requests and write the answers,
    waits its turn behind all of them. Here a task is appended to a deque;
    a worker that finishes takes the next one without sleeping. A sleeping
    worker (the most recently active one: its memory is warm) is woken
    only when no worker is awake, or when queued work has waited
    ``wake_after`` seconds while no awake worker took any, which means
    they are blocked (a slow query, a sleeping view); then as many are
    woken as there are tasks waiting, up to the pool's limit.

    As in Twisted's team: a worker is started only when no idle one can be
    woken and the pool's limit allows; work queued before a ``quit`` is
    still done; ``shrink`` stops workers, idle ones first, busy ones when
    they are done (after the queued work).
    """

    #: seconds queued work waits, with no awake worker taking any, before
    #: more workers are woken
    wake_after = 0.002

    def __init__(self, current_limit, thread_factory):
        self._limit = current_limit
        self._thread_factory = thread_factory
        # Reentrant: the pool's thread factory names a new thread from
        # ``statistics`` while the lock is held (``_start_workers``).
        self._lock = threading.RLock()
        self._tasks = deque()  # tasks and stop tokens, in order
        self._sleepers = []  # one lock per sleeping worker, the latest last
        self._threads = 0  # started and not yet stopped
        self._awake = 0  # started and not asleep: busy, or about to take a task
        self._busy = 0
        self._backlog = 0  # tasks queued, not yet taken
        self._stopping = 0  # stop tokens queued, not yet taken
        self._taken = 0  # tasks taken so far: the watchdog's mark of progress
        self._watching = threading.Event()
        self._watchdog_started = False
        self._quit = False

    def _idle(self):
        return max(0, self._threads - self._busy - self._stopping)

    # -- under self._lock --

    def _wake(self, count):
        """Wake up to ``count`` sleepers, then start threads for the rest
        while the limit allows."""
        while count > 0 and self._sleepers:
            self._sleepers.pop().release()
            self._awake += 1
            count -= 1
        self._start_workers(min(count, self._limit() - self._threads))

    def _start_workers(self, count):
        # Started under the lock: ``ThreadPool.stop`` quits the team (which
        # takes the lock), then joins every thread its factory has made.
        for _ in range(max(0, count)):
            self._thread_factory(target=self._work).start()
            self._threads += 1
            self._awake += 1

    def _waiting(self):
        """Tasks that no awake worker is free to take."""
        return self._backlog - (self._awake - self._busy)

    # -- any thread --

    def do(self, task):
        watch = False
        with self._lock:
            if self._quit:
                raise RuntimeError("the web thread pool has stopped")
            self._tasks.append(task)
            self._backlog += 1
            if self._waiting() > 0:
                if self._awake == 0:
                    self._wake(1)
                else:  # the busy ones may be back for it at once; if not, the watchdog
                    watch = not self._watching.is_set()
        if watch:
            self._watch()

    def grow(self, count):
        with self._lock:
            self._start_workers(min(count, self._limit() - self._threads))

    def shrink(self, count=None):
        with self._lock:
            left = self._threads - self._stopping  # busy ones stop when they are done
            count = left if count is None else max(0, min(count, left))
            self._stopping += count
            self._tasks.extend([_STOP] * count)
            for _ in range(min(count, len(self._sleepers))):  # idle ones first
                self._sleepers.pop().release()
                self._awake += 1

    def quit(self):
        with self._lock:
            self._quit = True
        self.shrink()
        self._watching.set()  # the watchdog sees the quit and ends

    def statistics(self):
        with self._lock:
            return _Statistics(self._idle(), self._busy, self._backlog)

    def _watch(self):
        with self._lock:
            if self._quit:
                return
            first = not self._watchdog_started
            self._watchdog_started = True
        if first:
            threading.Thread(target=self._watchdog, name="web-pool-watchdog", daemon=True).start()
        self._watching.set()

    # -- the watchdog's thread --

    def _watchdog(self):
        while True:
            self._watching.wait()
            with self._lock:
                if self._quit:
                    return
                mark = self._taken
            time.sleep(self.wake_after)
            with self._lock:
                if self._quit:
                    return
                waiting = self._waiting()
                if waiting > 0 and self._taken == mark:
                    self._wake(waiting)
                if self._waiting() <= 0 or not (self._sleepers or self._threads < self._limit()):
                    self._watching.clear()  # nothing waits, or nothing more to wake

    # -- a worker's thread --

    def _work(self):
        lock, tasks = self._lock, self._tasks
        me = threading.Lock()
        me.acquire()  # held while awake: the next acquire sleeps until released
        task = None
        while True:
            with lock:
                if task is not None:
                    self._busy -= 1
                if tasks:
                    task = tasks.popleft()
                    if task is _STOP:
                        self._stopping -= 1
                        self._threads -= 1
                        self._awake -= 1
                        return
                    self._backlog -= 1
                    self._busy += 1
                    self._taken += 1
                else:
                    task = None
                    self._awake -= 1
                    self._sleepers.append(me)
            if task is None:
                me.acquire()  # woken: counted awake again by whoever released it
                continue
            try:
                task()
            except BaseException:
                _log.failure("Web thread pool task failed", failure.Failure())


class LockableThreadPool(threadpool.ThreadPool):
    """Threadpool that can be locked from accepting new requests.

    Locked, it raises ``PoolLockedError`` for new work (the caller answers
    the request); work already queued still runs. Threads are daemons, and
    ``stop_off_thread`` stops the pool without blocking the reactor.
    """

    threadFactory = staticmethod(_daemon_thread)
    _pool = staticmethod(_QueueTeam)  # ThreadPool builds its team with this

    def __init__(self, *args, **kwargs):
        self._accept_new = True
        self._stopping = None
        super().__init__(*args, **kwargs)

    @property
    def locked(self) -> bool:
        return not self._accept_new

    def lock(self):
        """Refuse new work from now on (queued and running work continues)."""
        self._accept_new = False

    def unlock(self):
        """Accept new work again."""
        self._accept_new = True

    def callInThread(self, func, *args, **kwargs):
        """
        called in the main reactor thread. Makes sure the pool is not locked
        before continuing; raises ``PoolLockedError`` if it is.
        """
        self.callInThreadWithCallback(None, func, *args, **kwargs)

    def callInThreadWithCallback(self, onResult, func, *args, **kwargs):
        if not self._accept_new:
            raise PoolLockedError("web thread pool is locked (draining); try again shortly")
        if self.joined:
            raise PoolLockedError("web thread pool is stopped")
        super().callInThreadWithCallback(onResult, func, *args, **kwargs)

    def status(self) -> dict:
        """Live counters for status displays (cheap; any thread)."""
        stats = self._team.statistics()
        busy, idle = stats.busyWorkerCount, stats.idleWorkerCount
        return {
            "workers": busy + idle,
            "busy": busy,
            "idle": idle,
            "max": self.max,
            "queued": stats.backloggedWorkCount,
            "locked": not self._accept_new,
        }

    def stop_off_thread(self, reactor=None, timeout=5.0):
        """Stop the pool from a helper thread; the Deferred fires when the
        workers are joined, or after ``timeout`` seconds (stuck workers are
        daemon threads and will not hold the process). Idempotent."""
        reactor = get_reactor(reactor)
        if self._stopping is None:
            self._stopping = waiters = Waiters()
            self.lock()

            def stop():
                self.stop()
                reactor.callFromThread(waiters.fire, True)

            def give_up():
                if not waiters.done:
                    busy = self.status()["busy"]
                    _log.warn(
                        "Web thread pool: {busy} worker(s) still busy after {timeout}s;"
                        " not waiting for them",
                        busy=busy,
                        timeout=timeout,
                    )
                    waiters.fire(False)

            threading.Thread(target=stop, name="web-pool-stopper", daemon=True).start()
            timer = reactor.callLater(timeout, give_up)

            def cancel_timer(result):
                if timer.active():
                    timer.cancel()
                return result

            waiters.wait().addCallback(cancel_timer)
        return self._stopping.wait()
