"""Run blocking work (S3 calls) without blocking Evennia's game loop.

Inside a running Twisted reactor the work goes to the reactor's thread pool
and the caller gets a Deferred with a time bound; with no reactor running
(tests, scripts, management commands) the same call waits in-line for at
most the same bound. Either way a stuck S3 endpoint costs ``timeout``
seconds at most, and never the game loop's.
"""

from __future__ import annotations

import threading


class OffReactorTimeout(TimeoutError):
    """The work did not finish within its bound."""


def _reactor_running():
    try:
        from twisted.internet import reactor
    except ImportError:  # pragma: no cover - Twisted is always there in a game
        return None
    return reactor if reactor.running else None


def call_bounded(func, timeout: float, on_result, on_error) -> None:
    """Call ``func()`` off the reactor thread; deliver its result to
    ``on_result(value)`` or its failure to ``on_error(exc)`` (a
    ``OffReactorTimeout`` after ``timeout`` seconds). Callbacks run on the
    reactor thread when a reactor runs, else in the caller's thread."""
    reactor = _reactor_running()
    if reactor is not None:
        from twisted.internet import threads

        d = threads.deferToThread(func)
        d.addTimeout(timeout, reactor, onTimeoutCancel=lambda *_: _raise_timeout(timeout))
        d.addCallbacks(on_result, lambda failure: on_error(failure.value))
        return
    box: dict = {}

    def run():
        try:
            box["value"] = func()
        except BaseException as exc:  # delivered to on_error below
            box["error"] = exc

    worker = threading.Thread(target=run, name="contrib_awsstorage-offreactor", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        on_error(OffReactorTimeout(f"no answer within {timeout:g}s"))
    elif "error" in box:
        on_error(box["error"])
    else:
        on_result(box["value"])


def _raise_timeout(timeout: float):
    raise OffReactorTimeout(f"no answer within {timeout:g}s")
