"""The web thread pool that a reload can lock.

Twisted's ``ThreadPool`` drops work silently once it is stopped, and
``stop()`` joins the workers in the calling thread. During a reload that
means a request that hangs until the process dies, or a reactor that
deadlocks waiting for a worker that waits for the reactor. This pool keeps
Twisted's own workers and adds only what a reload needs: it refuses new
work loudly (``PoolLockedError``, which the web root turns into a 503),
and it stops from a helper thread with a bound.
"""

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
    """Twisted's thread pool, with a lock for reloads.

    Locked, it raises ``PoolLockedError`` for new work so that the caller
    can answer the request at once; work already queued or running goes
    on, so nothing accepted is lost. Its threads are daemons, and
    ``stop_off_thread`` stops it without blocking the reactor.
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

    def callInThreadWithCallback(self, onResult, func, *args, **kwargs):
        """Queue ``func`` as Twisted does, or raise ``PoolLockedError`` when
        locked or stopped: Twisted would drop it without a word, and the
        request behind it would wait forever. (``callInThread`` comes here.)"""
        if not self._accept_new:
            raise PoolLockedError("web thread pool is locked (draining); try again shortly")
        if self.joined:
            raise PoolLockedError("web thread pool is stopped")
        super().callInThreadWithCallback(onResult, func, *args, **kwargs)

    def status(self) -> dict:
        """Live counters for ``@awsstatus`` (cheap; any thread)."""
        busy, idle = len(self.working), len(self.waiters)
        return {
            "workers": busy + idle,
            "busy": busy,
            "idle": idle,
            "max": self.max,
            "queued": self.q.qsize(),
            "locked": not self._accept_new,
        }

    def stop_off_thread(self, reactor=None, timeout=5.0):
        """Stop the pool from a helper thread; the Deferred fires with True
        when the workers are joined, or with False after ``timeout`` seconds
        (stuck workers are daemon threads and will not hold the process).

        ``stop()`` joins the workers; on the reactor thread that deadlocks
        with a worker waiting for the reactor to write its answer.
        Idempotent: later calls get the first call's result."""
        reactor = get_reactor(reactor)
        if self._stopping is None:
            self._stopping = waiters = Waiters()
            self.lock()

            def stop():
                self.stop()
                reactor.callFromThread(waiters.fire, True)

            def give_up():
                if not waiters.done:
                    _log.warn(
                        "Web thread pool: {busy} worker(s) still busy after {timeout}s;"
                        " not waiting for them",
                        busy=len(self.working),
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
