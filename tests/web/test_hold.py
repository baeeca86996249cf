"""The portal's hold: requests the server has not seen wait for it, then go
out in order, byte-exact; the limits answer 503 + Retry-After; nothing the
server did see is ever sent twice; nothing leaks when it never comes back."""

from __future__ import annotations

import gc
import hashlib
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import override_settings
from twisted.internet import reactor, task
from twisted.web import resource, server

from contrib_awsstorage.web import proxy as proxy_module
from contrib_awsstorage.web.hold import HoldLimits
from contrib_awsstorage.webserver import EvenniaReverseProxyResource, Website

from .harness import Listener, free_port, get, in_reactor, wait_for


def _listen(port, site):
    return in_reactor(reactor.listenTCP, port, site, interface="127.0.0.1")


class Recorder(resource.Resource):
    """A backend that records what reaches it (and how many at once), and
    answers after ``delay`` seconds; the probe is answered at once."""

    isLeaf = True

    def __init__(self, delay=0.05):
        super().__init__()
        self.delay = delay
        self.seen = []
        self.now = self.most = 0

    def render(self, request):
        if request.method == b"OPTIONS":
            request.setResponseCode(204)
            return b""
        self.seen.append((request.method, request.path, request.content.read()))
        self.now += 1
        self.most = max(self.most, self.now)

        def answer():
            self.now -= 1
            request.write(b"ok " + request.path)
            request.finish()

        reactor.callLater(self.delay, answer)
        return server.NOT_DONE_YET


def test_draining_server_requests_are_held_and_replayed_byte_exact(django_site, portals):
    site = django_site(maxthreads=4)
    portal = portals(site.listener.number)
    assert get(portal, "/hello/")[2] == b"hello"  # a pooled connection exists
    in_reactor(site.root.empty_threadpool)  # nothing pending: draining from now on
    small = bytes(range(256)) * 4 + b"\r\n\x00end"
    big = hashlib.sha256(b"seed").digest() * (4 * 1024 * 1024 // 32)  # 4 MiB, on disk
    with ThreadPoolExecutor(4) as ex:
        futures = [
            ex.submit(get, portal, "/size/", method="POST", body=small),
            ex.submit(get, portal, "/size/", method="POST", body=big),
            ex.submit(get, portal, "/echo/p?q=1", method="PUT", body=small),
            ex.submit(get, portal, "/echo/g?q=2"),
        ]
        portal.wait_held(4)
        probes = portal.status()["probes"]
        # still draining: the server refuses probe after probe, the four stay held
        wait_for(lambda: portal.status()["probes"] >= probes + 3, what="three more probes")
        assert portal.status()["held"] == 4 and not any(f.done() for f in futures)
        assert portal.status()["up"] is False
        in_reactor(site.root.resume)  # the new server accepts
        results = [f.result(timeout=15) for f in futures]
    assert [code for code, _, _ in results] == [200] * 4
    assert results[0][2].decode() == f"{len(small)} {hashlib.md5(small).hexdigest()}"
    assert results[1][2].decode() == f"{len(big)} {hashlib.md5(big).hexdigest()}"
    echoed = json.loads(results[2][2])
    assert (echoed["method"], echoed["query"]) == ("PUT", "q=1")
    assert echoed["body"].encode("latin-1") == small
    assert json.loads(results[3][2])["method"] == "GET"
    status = portal.status()
    assert (status["up"], status["held"], status["admitted"], status["held_bytes"]) == (
        True,
        0,
        0,
        0,
    )


def test_held_requests_go_out_in_arrival_order_at_most_pool_size(portals):
    port = free_port()
    portal = portals(port, pool_size=2)
    recorder = Recorder(delay=0.05)
    methods = ["GET", "POST", "DELETE", "PATCH", "GET", "POST", "PUT", "GET"]
    with ThreadPoolExecutor(len(methods)) as ex:
        futures = []
        for n, method in enumerate(methods):  # one by one: arrival order is known
            body = None if method in ("GET", "DELETE") else b"body %d" % n
            futures.append(ex.submit(get, portal, f"/n/{n}", method=method, body=body))
            portal.wait_held(n + 1)
        listening = _listen(port, Website(recorder))
        try:
            results = [f.result(timeout=15) for f in futures]
        finally:
            in_reactor(listening.stopListening)
    assert [code for code, _, _ in results] == [200] * len(methods)
    assert [path for _, path, _ in recorder.seen] == [b"/n/%d" % n for n in range(len(methods))]
    assert [m.decode() for m, _, _ in recorder.seen] == methods
    assert recorder.seen[1][2] == b"body 1" and recorder.seen[0][2] == b""
    assert recorder.most <= 2  # no more than the pool's size at once


def test_hold_time_limit_answers_503_with_retry_after(portals):
    portal = portals(free_port(), hold={"timeout": 0.4}, clock=task.Clock())
    with ThreadPoolExecutor(3) as ex:
        futures = [
            ex.submit(get, portal, "/a", method="POST", body=b"x" * n) for n in (0, 10, 200_000)
        ]
        portal.wait_held(3)
        portal.advance(0.39)
        assert portal.status()["held"] == 3 and not any(f.done() for f in futures)
        portal.advance(0.01)  # the time limit
        results = [f.result(timeout=10) for f in futures]
    for code, headers, _ in results:
        assert code == 503 and int(headers["retry-after"]) > 0
    assert portal.status()["admitted"] == 0


def test_hold_count_limit_answers_503_at_once_and_keeps_the_held(portals):
    port = free_port()
    portal = portals(port, hold={"max_requests": 2})
    with ThreadPoolExecutor(3) as ex:
        held = []
        for n in range(2):  # one after the other: arrival order is then known
            held.append(ex.submit(get, portal, f"/held/{n}"))
            portal.wait_held(n + 1)
        code, headers, _ = get(portal, "/third")
        assert code == 503 and int(headers["retry-after"]) > 0
        # not the time limit: that would have ended the two older ones first
        assert portal.status()["held"] == 2 and not any(f.done() for f in held)
        recorder = Recorder(delay=0)
        listening = _listen(port, Website(recorder))
        try:
            assert [f.result(timeout=10)[0] for f in held] == [200, 200]
        finally:
            in_reactor(listening.stopListening)
    assert [path for _, path, _ in recorder.seen] == [b"/held/0", b"/held/1"]


def test_hold_byte_limit_answers_503_and_counts_bodies(portals):
    port = free_port()
    portal = portals(port, hold={"max_bytes": 1000})
    with ThreadPoolExecutor(3) as ex:
        first = ex.submit(get, portal, "/b/1", method="POST", body=b"1" * 600)
        portal.wait_held(1)
        assert portal.status()["held_bytes"] == 600
        code, headers, _ = get(portal, "/b/2", method="POST", body=b"2" * 600)
        assert code == 503 and int(headers["retry-after"]) > 0
        empty = ex.submit(get, portal, "/b/3")  # no body: still fits
        portal.wait_held(2)
        recorder = Recorder(delay=0)
        listening = _listen(port, Website(recorder))
        try:
            assert first.result(timeout=10)[0] == 200 and empty.result(timeout=10)[0] == 200
        finally:
            in_reactor(listening.stopListening)
    assert [(p, b) for _, p, b in recorder.seen] == [(b"/b/1", b"1" * 600), (b"/b/3", b"")]
    assert portal.status()["held_bytes"] == 0


def test_held_client_that_hangs_up_is_dropped_quietly(portals, log_capture):
    port = free_port()
    portal = portals(port)
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", portal.number))
        sock.sendall(b"POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        portal.wait_held(1)
        sock.close()
        wait_for(lambda: portal.status()["admitted"] == 0, what="the held request dropped")
    recorder = Recorder(delay=0)
    listening = _listen(port, Website(recorder))
    try:
        assert get(portal, "/after")[0] == 200
    finally:
        in_reactor(listening.stopListening)
    assert [p for _, p, _ in recorder.seen] == [b"/after"]  # the gone ones never sent
    assert log_capture.failures() == []


class Dropper(resource.Resource):
    """Reads the request (as Django would get it), then loses the connection."""

    isLeaf = True

    def __init__(self):
        super().__init__()
        self.seen = []

    def render(self, request):
        self.seen.append(request.method)
        request.channel.transport.abortConnection()
        return server.NOT_DONE_YET


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_request_that_reached_the_server_then_lost_is_502_not_replayed(portals, method):
    dropper = Dropper()
    backend = Listener(Website(dropper))
    portal = portals(backend.number)
    try:
        code, _, body = get(
            portal, "/x", method=method, body=b"payload" if method == "POST" else None
        )
        assert code == 502 and b"502" in body
        portal.wait_idle()  # the attempt is over: a second send could only come before the 502
        assert dropper.seen == [method.encode()]  # once, never again
        assert portal.status()["up"] is True  # a lost request is not a restart
    finally:
        backend.close()


def test_a_view_cannot_claim_unseen(django_site, portals):
    """Django's own 503 with the marker is passed on, not replayed."""
    site = django_site(maxthreads=2)
    portal = portals(site.listener.number)
    code, headers, body = get(portal, "/claims-unseen/")
    assert (code, body) == (503, b"from django")
    assert "awsstorage-refused-unseen" not in headers
    assert portal.status()["up"] is True


def _expire_until_answered(portal, futures, limit):
    """Move the clock past the hold's time limit until every request is
    answered (a client pool reaches the hold a batch at a time)."""

    def answered():
        return all(f.done() for f in futures)

    while not answered():
        wait_for(lambda: portal.status()["held"] or answered(), what="held requests")
        portal.advance(limit)


def test_memory_stays_bounded_when_the_backend_never_returns(portals):
    clock = task.Clock()
    portal = portals(free_port(), hold={"timeout": 0.3}, clock=clock)
    baseline_calls = in_reactor(lambda: len(reactor.getDelayedCalls()))
    for _round in range(3):
        with ThreadPoolExecutor(50) as ex:
            futures = [
                ex.submit(get, portal, f"/r/{n}", method="POST", body=b"z" * 2000)
                for n in range(150)
            ]
            _expire_until_answered(portal, futures, 0.3)
            results = [f.result(timeout=20) for f in futures]
        assert {code for code, _, _ in results} == {503}
        assert all(int(h["retry-after"]) > 0 for _, h, _ in results)
    wait_for(lambda: not portal.status()["probing"], what="probing stops with nothing held")
    assert in_reactor(clock.getDelayedCalls) == []
    status = portal.status()
    assert (status["held"], status["admitted"], status["held_bytes"], status["timers"]) == (
        0,
        0,
        0,
        0,
    )
    assert status["refused"] == 450
    assert in_reactor(lambda: len(reactor.getDelayedCalls())) <= baseline_calls + 2
    gc.collect()
    assert (
        in_reactor(lambda: sum(isinstance(o, proxy_module._Forward) for o in gc.get_objects())) == 0
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("AWSSTORAGE_WEB_HOLD_TIMEOUT", 0),
        ("AWSSTORAGE_WEB_HOLD_TIMEOUT", "soon"),
        ("AWSSTORAGE_WEB_HOLD_MAX_REQUESTS", -1),
        ("AWSSTORAGE_WEB_HOLD_MAX_REQUESTS", 2.5),
        ("AWSSTORAGE_WEB_HOLD_MAX_BYTES", True),
        ("AWSSTORAGE_WEB_HOLD_MAX_BYTES", "1M"),
    ],
)
def test_bad_hold_settings_name_the_setting(name, value):
    with override_settings(**{name: value}):
        with pytest.raises(ValueError, match=name):
            HoldLimits()
        with pytest.raises(ValueError, match=name):
            EvenniaReverseProxyResource("127.0.0.1", 1, "", reactor=reactor)


def test_hold_settings_are_read_when_built():
    with override_settings(
        AWSSTORAGE_WEB_HOLD_TIMEOUT=7,
        AWSSTORAGE_WEB_HOLD_MAX_REQUESTS=3,
        AWSSTORAGE_WEB_HOLD_MAX_BYTES=4096,
    ):
        limits = HoldLimits()
    assert (limits.timeout, limits.max_requests, limits.max_bytes) == (7.0, 3, 4096)
    defaults = HoldLimits()
    assert (defaults.timeout, defaults.max_requests, defaults.max_bytes) == (
        30.0,
        1000,
        256 * 1024 * 1024,
    )


def test_the_root_answers_the_probe_itself_and_refuses_unseen_while_draining(django_site):
    site = django_site(maxthreads=2)
    probe = [("AWSStorage-Probe", "?1")]
    code, headers, body = get(site.listener, "/", method="OPTIONS", headers=probe)
    assert (code, body) == (204, b"")
    assert in_reactor(site.root.status)["pending"] == 0  # not a Django request
    in_reactor(site.root.empty_threadpool)
    for method, path, extra in (("OPTIONS", "/", probe), ("POST", "/size/", [])):
        code, headers, _ = get(site.listener, path, method=method, headers=extra, body=b"x")
        assert code == 503 and int(headers["retry-after"]) > 0
        assert headers["awsstorage-refused-unseen"] == "?1"
        assert headers["connection"] == "close"
