"""The portal's hold: requests the server refused unseen wait here while it
restarts, and go to the new server in arrival order once it accepts.

Why: Evennia's server process restarts on every reload while the portal
keeps the public port; without the hold, every page asked for in those
seconds would be an error.

A request that has not reached Django may be sent again whatever its
method (RFC 9110 section 9.2.2): nothing has happened yet. The proxy
hands such a request (refused connection, nothing sent, or the
``unseen.MARKER`` answer of a draining server) to ``Hold.refused``; a
request that may have reached Django never comes here. While the server
is away, new requests wait behind the held ones, so arrival order is
kept. One probe at a time asks the server whether it accepts again; when
it does, held requests go out, at most ``concurrency`` at once. Limits
(time per request, count, body bytes) end in the proxy's 503 with
``Retry-After``; a client that hangs up leaves quietly.

Requests are "attempts" (``proxy._Forward``): ``seq``, ``size``, ``gone``,
``send()`` (the attempt later calls ``done`` or ``refused``), ``refuse()``
(answer 503). Timers run on ``clock`` (the reactor, or a ``task.Clock``).
"""

from __future__ import annotations

import bisect
import itertools

from twisted.logger import Logger

from .config import (
    DEFAULT_HOLD_MAX_BYTES,
    DEFAULT_HOLD_MAX_REQUESTS,
    DEFAULT_HOLD_TIMEOUT,
    count,
    positive_seconds,
    setting,
)

_log = Logger(namespace="contrib_awsstorage.webserver")


class HoldLimits:
    """How long, how many and how many body bytes the portal holds."""

    def __init__(self, timeout=None, max_requests=None, max_bytes=None):
        if timeout is None:
            timeout = setting("AWSSTORAGE_WEB_HOLD_TIMEOUT", DEFAULT_HOLD_TIMEOUT)
        if max_requests is None:
            max_requests = setting("AWSSTORAGE_WEB_HOLD_MAX_REQUESTS", DEFAULT_HOLD_MAX_REQUESTS)
        if max_bytes is None:
            max_bytes = setting("AWSSTORAGE_WEB_HOLD_MAX_BYTES", DEFAULT_HOLD_MAX_BYTES)
        self.timeout = positive_seconds("AWSSTORAGE_WEB_HOLD_TIMEOUT", timeout)
        self.max_requests = count("AWSSTORAGE_WEB_HOLD_MAX_REQUESTS", max_requests)
        self.max_bytes = count("AWSSTORAGE_WEB_HOLD_MAX_BYTES", max_bytes)


class Hold:
    """Pass requests on while the server accepts them; hold them while it is away."""

    #: seconds between probes while the server is away
    probe_interval = 0.05

    def __init__(self, clock, limits, concurrency, probe):
        """``probe()`` returns a Deferred firing True when the server accepts
        requests; ``clock`` (``IReactorTime``) runs the time limits and the
        pause between probes."""
        self.clock = clock
        self.limits = limits
        self.concurrency = max(1, int(concurrency))
        self._probe = probe
        self._seq = itertools.count()
        self.up = True
        self._held = []  # (seq, attempt), oldest first
        self._timers = {}  # attempt -> DelayedCall (its hold time limit)
        self._admitted = {}  # attempt -> deadline: in the hold until answered
        self._bytes = 0
        self._releasing = set()  # attempts sent from the hold, not yet done
        self._active = set()  # every attempt not yet answered (status, tests)
        self.probes = 0  # probes sent (status, tests)
        self._probing = False
        self._next_probe = None
        self.refused_total = 0  # answered 503 by a limit (for status)

    # -- the proxy's side --

    def submit(self, attempt):
        """A new request: send it now, or hold it behind the ones waiting."""
        attempt.seq = next(self._seq)
        self._active.add(attempt)
        if self.up and not self._held and not self._releasing:
            attempt.send()
        else:
            self._hold(attempt)

    def refused(self, attempt):
        """The server did not take ``attempt`` (and saw nothing): it is away."""
        self._releasing.discard(attempt)
        self.up = False
        self._hold(attempt)

    def done(self, attempt):
        """``attempt`` is answered (or its client left): the hold forgets it."""
        self._releasing.discard(attempt)
        self._forget(attempt)
        self._pump()

    def gone(self, attempt):
        """The client of a held request hung up: drop it quietly."""
        if attempt in self._timers:
            self._unhold(attempt)
            self._forget(attempt)
            self._pump()

    def server_going_away(self):
        """Told (e.g. by the portal service) that the server is about to
        restart: hold new requests until a probe says it accepts again."""
        self.up = False

    # -- holding --

    def _hold(self, attempt):
        if attempt.gone:
            self._forget(attempt)
            self._pump()
            return
        now = self.clock.seconds()
        deadline = self._admitted.get(attempt)
        if deadline is None:  # first time in the hold: the limits apply
            limits = self.limits
            if (
                len(self._admitted) >= limits.max_requests
                or self._bytes + attempt.size > limits.max_bytes
            ):
                self._over_limit(attempt)
                return
            deadline = now + limits.timeout
            self._admitted[attempt] = deadline
            self._bytes += attempt.size
        if deadline <= now:
            self._expire(attempt)
            return
        bisect.insort(self._held, (attempt.seq, attempt), key=lambda item: item[0])
        self._timers[attempt] = self.clock.callLater(deadline - now, self._expire, attempt)
        self._pump()

    def _unhold(self, attempt):
        timer = self._timers.pop(attempt, None)
        if timer is not None and timer.active():
            timer.cancel()
        index = bisect.bisect_left(self._held, attempt.seq, key=lambda item: item[0])
        if index < len(self._held) and self._held[index][1] is attempt:
            del self._held[index]

    def _forget(self, attempt):
        self._active.discard(attempt)
        if self._admitted.pop(attempt, None) is not None:
            self._bytes -= attempt.size

    def _expire(self, attempt):
        self._timers.pop(attempt, None)
        self._unhold(attempt)
        self._forget(attempt)
        self._over_limit(attempt)
        self._pump()

    def _over_limit(self, attempt):
        self._active.discard(attempt)
        self.refused_total += 1
        attempt.refuse()

    # -- releasing --

    def _pump(self):
        if not self._held:
            self._cancel_probe()
            return
        if not self.up:
            self._start_probe()
            return
        while self.up and self._held and len(self._releasing) < self.concurrency:
            _seq, attempt = self._held.pop(0)
            timer = self._timers.pop(attempt, None)
            if timer is not None and timer.active():
                timer.cancel()
            self._releasing.add(attempt)
            attempt.send()

    def _start_probe(self):
        if self._probing or self._next_probe is not None:
            return
        self._probing = True
        self.probes += 1
        d = self._probe()
        d.addErrback(lambda _failure: False)
        d.addCallback(self._probed)

    def _probed(self, accepting):
        self._probing = False
        if accepting is True:
            if not self.up:
                _log.info("Webserver back: sending {count} held request(s)", count=len(self._held))
            self.up = True
            self._pump()
        elif self._held:
            self._next_probe = self.clock.callLater(self.probe_interval, self._probe_again)

    def _probe_again(self):
        self._next_probe = None
        if not self.up and self._held:
            self._start_probe()

    def _cancel_probe(self):
        if self._next_probe is not None and self._next_probe.active():
            self._next_probe.cancel()
        self._next_probe = None

    # -- status --

    def status(self) -> dict:
        """Live counters (tests, status displays)."""
        return {
            "up": self.up,
            "held": len(self._held),
            "admitted": len(self._admitted),
            "held_bytes": self._bytes,
            "releasing": len(self._releasing),
            "timers": sum(1 for t in self._timers.values() if t.active()),
            "probing": self._probing or self._next_probe is not None,
            "refused": self.refused_total,
            "active": len(self._active),
            "probes": self.probes,
        }
