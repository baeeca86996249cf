"""The web thread pool that a reload can lock: it refuses new work loudly
(``PoolLockedError``) instead of dropping it, and stops off the reactor thread."""

from __future__ import annotations

import threading
from queue import SimpleQueue

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
        self.idleWorkerCount, self.busyWorkerCount, self.backloggedWorkCount = idle, busy, backlogged


_STOP = object()


class _QueueTeam:
    """The pool's workers, fed from one C queue (``queue.SimpleQueue``).

    ``ThreadPool`` asks its team to ``do``, ``grow``, ``shrink``, ``quit``
    and give ``statistics``; Twisted's own team routes every task through a
    coordinator lock and a per-worker ``queue.Queue`` (a Python condition
    variable), which costs a web request more than Django's own handling
    of a small page. Here a task is one ``put``; an idle worker takes it.
    As in Twisted's team: a worker is started only when no idle one is
    left and the pool's limit allows; work queued before a ``quit`` is
    still done; ``shrink`` stops workers, idle ones first, busy ones when
    they are done (after the queued work).
    """

    def __init__(self, current_limit, thread_factory):
        self._limit = current_limit
        self._thread_factory = thread_factory
        self._queue = SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0  # started and not yet stopped
        self._busy = 0
        self._backlog = 0  # queued, not yet taken
        self._stopping = 0  # stop tokens queued, not yet taken
        self._quit = False

    def _idle(self):
        return max(0, self._threads - self._busy - self._stopping)

    def _start_workers(self, count):
        for _ in range(count):
            self._thread_factory(target=self._work).start()

    def do(self, task):
        with self._lock:
            if self._quit:
                raise RuntimeError("the web thread pool has stopped")
            self._backlog += 1
            start = self._idle() < self._backlog and self._threads < self._limit()
            if start:
                self._threads += 1
        self._queue.put(task)
        if start:
            self._start_workers(1)

    def grow(self, count):
        with self._lock:
            count = max(0, min(count, self._limit() - self._threads))
            self._threads += count
        self._start_workers(count)

    def shrink(self, count=None):
        with self._lock:
            left = self._threads - self._stopping  # busy ones stop when they are done
            count = left if count is None else max(0, min(count, left))
            self._stopping += count
        for _ in range(count):
            self._queue.put(_STOP)

    def quit(self):
        with self._lock:
            self._quit = True
        self.shrink()

    def statistics(self):
        with self._lock:
            return _Statistics(self._idle(), self._busy, self._backlog)

    def _work(self):
        take, lock = self._queue.get, self._lock
        while True:
            task = take()
            with lock:
                if task is _STOP:
                    self._stopping -= 1
                    self._threads -= 1
                    return
                self._backlog -= 1
                self._busy += 1
            try:
                task()
            except BaseException:
                _log.failure("Web thread pool task failed", failure.Failure())
            with lock:
                self._busy -= 1


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
