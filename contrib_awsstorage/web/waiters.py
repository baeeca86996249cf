"""One result, many waiters: each caller gets a Deferred of its own."""

from __future__ import annotations

from twisted.internet import defer


class Waiters:
    """Hand out fresh Deferreds that all fire with one result.

    Callers get their own Deferred, so one caller's callbacks (or an
    outside ``d.callback``, as Evennia's SIGINT handler does) cannot disturb
    another's.
    """

    def __init__(self):
        self.result = None
        self.done = False
        self._waiting = []

    def wait(self):
        if self.done:
            return defer.succeed(self.result)
        d = defer.Deferred()
        self._waiting.append(d)
        return d

    def fire(self, result):
        if self.done:
            return
        self.done, self.result = True, result
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            if not d.called:
                d.callback(result)
