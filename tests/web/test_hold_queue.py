"""``Hold`` alone, on a fake clock: the order and the bounds, exactly."""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.task import Clock

from contrib_awsstorage.web.hold import Hold, HoldLimits


class Attempt:
    def __init__(self, name, size=0):
        self.name, self.size = name, size
        self.gone = False
        self.sent = 0
        self.refused_503 = False

    def send(self):
        self.sent += 1
        SENT.append(self)

    def refuse(self):
        self.refused_503 = True


SENT: list = []


def make(concurrency=2, **limits):
    clock = Clock()
    probes = []

    def probe():
        d = defer.Deferred()
        probes.append(d)
        return d

    limits.setdefault("timeout", 10)
    hold = Hold(clock, HoldLimits(**limits), concurrency, probe)
    SENT.clear()
    return hold, clock, probes


def test_a_refused_attempt_goes_back_ahead_of_newer_ones():
    hold, clock, probes = make(concurrency=1)
    a, b, c = Attempt("a"), Attempt("b"), Attempt("c")
    hold.submit(a)  # up: sent at once
    hold.refused(a)  # the server is away
    hold.submit(b)
    hold.submit(c)
    assert [x.name for x in SENT] == ["a"] and len(probes) == 1
    probes.pop().callback(True)  # accepting
    assert [x.name for x in SENT] == ["a", "a"]  # one at a time: a first
    hold.refused(a)  # refused again (draining once more)
    assert hold.status()["up"] is False
    assert len(probes) == 1  # a probe starts at once
    probes.pop().callback(False)
    clock.advance(hold.probe_interval)
    probes.pop().callback(True)
    assert [x.name for x in SENT][-1] == "a"
    hold.done(a)
    assert [x.name for x in SENT][-1] == "b"
    hold.done(b)
    assert [x.name for x in SENT][-1] == "c"
    hold.done(c)
    assert hold.status() == {
        "up": True,
        "held": 0,
        "admitted": 0,
        "held_bytes": 0,
        "releasing": 0,
        "timers": 0,
        "probing": False,
        "refused": 0,
        "active": 0,
        "probes": 3,
    }


def test_the_time_limit_counts_from_the_first_hold():
    hold, clock, probes = make(timeout=5)
    a = Attempt("a", size=10)
    hold.submit(a)
    hold.refused(a)
    clock.advance(3)
    probes[-1].callback(True)  # released after 3 s...
    hold.refused(a)  # ...refused again: 2 s left, not 5
    clock.advance(1.9)
    assert not a.refused_503
    clock.advance(0.2)
    assert a.refused_503 and hold.status()["admitted"] == 0 and hold.status()["held_bytes"] == 0


def test_count_and_byte_limits_are_on_admission():
    hold, clock, probes = make(max_requests=2, max_bytes=100)
    hold.server_going_away()
    a, b, c = Attempt("a", 60), Attempt("b", 60), Attempt("c", 0)
    hold.submit(a)
    hold.submit(b)  # 120 bytes > 100
    hold.submit(c)
    d = Attempt("d")
    hold.submit(d)  # third request > 2
    assert (a.refused_503, b.refused_503, c.refused_503, d.refused_503) == (
        False,
        True,
        False,
        True,
    )
    assert hold.status()["refused"] == 2
    probes[-1].callback(True)
    assert [x.name for x in SENT] == ["a", "c"]


def test_gone_while_held_is_forgotten_and_probing_stops():
    hold, clock, probes = make()
    hold.server_going_away()
    a = Attempt("a", 5)
    hold.submit(a)
    a.gone = True
    hold.gone(a)
    probes[-1].callback(False)
    clock.advance(1)
    assert len(probes) == 1  # nothing held: no more probes
    assert clock.getDelayedCalls() == []
    assert hold.status()["admitted"] == 0 and not a.refused_503 and a.sent == 0
