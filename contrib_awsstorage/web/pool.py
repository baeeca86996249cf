"""The web thread pool that a reload can lock: it refuses new work loudly
(``PoolLockedError``) instead of dropping it, and stops off the reactor thread."""

from __future__ import annotations

import threading

from twisted.logger import Logger
from twisted.python import threadpool

from .config import get_reactor
from .waiters import Waiters

_log = Logger(namespace="contrib_awsstorage.webserver")


class PoolLockedError(RuntimeError):
    """Work offered to a locked (draining) or stopped pool: answer 503, don't queue."""


def _daemon_thread(*args, **kwargs):
    # A view that never returns must not keep the process alive at exit.
    kwargs["daemon"] = True
    return threading.Thread(*args, **kwargs)


class LockableThreadPool(threadpool.ThreadPool):
    """Threadpool that can be locked from accepting new requests.

    Locked, it raises ``PoolLockedError`` for new work (the caller answers
    the request); work already queued still runs. Threads are daemons, and
    ``stop_off_thread`` stops the pool without blocking the reactor.
    """

    threadFactory = staticmethod(_daemon_thread)

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
