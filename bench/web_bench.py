"""Web layer speed: ours vs. Evennia's and Twisted's, side by side in one run.

(a) a small Django view through our ``DjangoWebRoot`` (request tracking,
    per-request client address) vs. ``evennia.server.webserver.DjangoWebRoot``;
(b) a 10 KB static file through ``PrivateStaticRoot`` vs. ``static.File``.

All four sites listen on loopback in this process's reactor; the load comes
from a second process (this script with ``--client``): a bounded Python
client with N keep-alive connections that measures requests per second for
T seconds per target, targets interleaved over several rounds (median
reported; each round in a shuffled order) so drift affects all alike. As
the machine's noise is larger than 5 %, the code that differs between the
two view stacks is also timed in-process on one thread, and its extra cost
reported as a share of a whole request. Prints req/s, the server's CPU time
per request (read from /proc) and ratios; the targets (tracking costs <= 5 %, static at least as
fast) are printed as verdicts, not asserted.

Run: ``.venv/bin/python bench/web_bench.py [--seconds 0.5] [--rounds 20] [--connections 8]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGETS = [
    ("view: ours (contrib_awsstorage DjangoWebRoot)", "ours_view", "/hello/"),
    ("view: Evennia's DjangoWebRoot", "evennia_view", "/hello/"),
    ("static 10 KB: ours (PrivateStaticRoot)", "ours_static", "/static/ten.css"),
    ("static 10 KB: Twisted static.File", "twisted_static", "/static/ten.css"),
]


# -- the server side -----------------------------------------------------------------


def hello(request):
    from django.http import HttpResponse

    response = HttpResponse(b"hello", content_type="text/plain")
    response["Content-Length"] = "5"
    return response


urlpatterns = []  # filled in main(): this module is the bench's ROOT_URLCONF


def build_sites(static_dir):
    """Four sites, built the way each project builds its own."""
    # Evennia's module reads settings and patches Twisted's HTTPFactory on import;
    # our Website sets its channel explicitly, so the patch does not touch ours.
    from evennia.server import webserver as upstream
    from twisted.web import resource, static

    from contrib_awsstorage import webserver as ours

    sites = {}
    pool = ours.LockableThreadPool(minthreads=1, maxthreads=20)
    sites["ours_view"] = (ours.Website(ours.DjangoWebRoot(pool), debug=False), pool)
    upool = upstream.LockableThreadPool(minthreads=1, maxthreads=20)
    usite = upstream.Website(upstream.DjangoWebRoot(upool))
    sites["evennia_view"] = (usite, upool)
    top = resource.Resource()
    top.putChild(b"static", ours.PrivateStaticRoot(static_dir))
    sites["ours_static"] = (ours.Website(top, debug=False), None)
    top = resource.Resource()
    top.putChild(b"static", static.File(static_dir))
    sites["twisted_static"] = (ours.Website(top, debug=False), None)
    return sites


def inprocess_costs(sites_by_key, n=20000):
    """What differs between the stacks, timed alone on one thread (steady
    even on a busy machine): the channel + site handling one keep-alive
    request with an X-Forwarded-For line, and the web root's bookkeeping
    (getChild, then the request finishing). Microseconds per request."""
    from evennia.server import webserver as upstream
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport
    from twisted.web import static
    from twisted.web.test.requesthelper import DummyRequest

    from contrib_awsstorage import webserver as ours

    def per_request(fn, setup=lambda: None):
        best = float("inf")
        for _ in range(5):
            state = setup()
            t0 = time.perf_counter()
            for _ in range(n):
                fn(state)
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
        return best

    payload = b"GET / HTTP/1.1\r\nHost: bench\r\nX-Forwarded-For: 203.0.113.5\r\n\r\n"
    peer = IPv4Address("TCP", "127.0.0.1", 40000)

    def channel(site):
        def setup():
            proto = site.buildProtocol(peer)
            transport = StringTransport(peerAddress=peer)
            transport.client = (peer.host, peer.port)  # what tcp.Server has; Evennia reads it
            proto.makeConnection(transport)
            return proto, transport

        def one(state):
            proto, transport = state
            proto.dataReceived(payload)
            transport.clear()

        return per_request(one, setup)

    leaf = static.Data(b"hello", "text/plain")
    costs = {
        "channel_ours": channel(ours.Website(leaf, debug=False)),
        "channel_evennia": channel(upstream.Website(leaf)),
    }

    def root(web_root):
        def one(_):
            request = DummyRequest([])
            request.prepath = [b"hello"]
            web_root.getChild(b"hello", request)
            request.finish()

        return per_request(one)

    def bare(_):
        DummyRequest([]).finish()

    base = per_request(bare)
    costs["root_ours"] = root(sites_by_key["ours_view"][0].resource) - base
    costs["root_evennia"] = root(sites_by_key["evennia_view"][0].resource) - base
    return costs


def serve(args):
    import django
    import evennia.settings_default as evennia_defaults  # Evennia's module reads a few at import
    from django.conf import settings
    from django.urls import path

    conf = {k: getattr(evennia_defaults, k) for k in dir(evennia_defaults) if k.isupper()}
    conf.update(
        LOGGING_CONFIG=None,
        DEBUG=False,
        SECRET_KEY="bench-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        UPSTREAM_IPS=["127.0.0.1"],
        USE_TZ=True,
    )
    settings.configure(**conf)
    django.setup()
    globals()["urlpatterns"] = [path("hello/", hello)]

    from twisted.internet import reactor

    static_dir = tempfile.mkdtemp(prefix="web-bench-")
    Path(static_dir, "ten.css").write_bytes((b"a{color:red}\n" * 800)[:10240])
    ports = {}
    pools = []
    sites = build_sites(static_dir)
    for key, (site, pool) in sites.items():
        if pool is not None:
            pool.start()
            pools.append(pool)
        ports[key] = reactor.listenTCP(0, site, interface="127.0.0.1").getHost().port

    outcome = {}

    def run_client():
        cmd = [
            sys.executable,
            __file__,
            "--client",
            json.dumps(ports),
            "--server-pid",
            str(os.getpid()),
        ]
        cmd += ["--seconds", str(args.seconds), "--rounds", str(args.rounds)]
        cmd += ["--connections", str(args.connections)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        outcome["proc"] = proc
        reactor.callFromThread(reactor.stop)

    threading.Thread(target=run_client, daemon=True).start()
    reactor.run()
    for pool in pools:  # Evennia's pool threads are not daemons: join them
        pool.stop()
    shutil.rmtree(static_dir, ignore_errors=True)
    proc = outcome["proc"]
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    report(json.loads(proc.stdout.strip().splitlines()[-1]), args, inprocess_costs(sites))
    return 0


def report(results, args, costs):
    rps, cpu = results["rps"], results["cpu"]
    med = {key: statistics.median(values) for key, values in rps.items()}
    print(
        f"web bench: {args.connections} keep-alive connections, {args.rounds} rounds x "
        f"{args.seconds:g}s per target, interleaved; load from a second process"
    )
    print(f"  {'target':48s} {'median req/s':>12s} {'server CPU/req':>15s}  errors")
    for label, key, _path in TARGETS:
        us = statistics.median(cpu[key])
        print(f"  {label:48s} {med[key]:12.0f} {us:13.0f}us  {results['errors'][key]}")

    def paired(a, b):
        """Median of per-round ratios: adjacent slices share the machine's mood."""
        return statistics.median(x / y for x, y in zip(rps[a], rps[b]) if y)

    def cpu_ratio(a, b):
        return statistics.median(cpu[b]) / statistics.median(cpu[a])

    for name, a, b, target in (
        ("view   ours/Evennia     ", "ours_view", "evennia_view", 0.95),
        ("static ours/static.File ", "ours_static", "twisted_static", 1.0),
    ):
        r, c = paired(a, b), cpu_ratio(a, b)
        verdict = "PASS" if max(r, c) >= target and min(r, c) >= target - 0.05 else "CHECK"
        print(
            f"  ratio {name} req/s {r:.3f}   by server CPU per request {c:.3f}"
            f"   (target >= {target:.2f}: {verdict})"
        )
    print("  (ratios > 1 mean ours is faster; both figures drift 10-20 % on a busy machine)")
    full = statistics.median(cpu["evennia_view"])
    extra = (costs["channel_ours"] + costs["root_ours"]) - (
        costs["channel_evennia"] + costs["root_evennia"]
    )
    print("in-process, one thread (the code that differs between the view stacks, us/request):")
    print(
        f"  channel+site: ours {costs['channel_ours']:.1f}  Evennia {costs['channel_evennia']:.1f};"
        f"  root bookkeeping: ours {costs['root_ours']:.1f}  Evennia {costs['root_evennia']:.1f}"
    )
    share = 100 * extra / full
    print(
        f"  ours costs {extra:+.1f} us per request = {share:+.1f} % of a whole request "
        f"({full:.0f} us server CPU)  (target <= +5 %: {'PASS' if share <= 5 else 'FAIL'})"
    )


# -- the load client (second process) -----------------------------------------------


def load(port, path, seconds, connections):
    """Requests per second over ``connections`` keep-alive sockets for ``seconds``."""
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        state = {"sock": s, "buf": b""}
        conns.append(state)
        sel.register(s, selectors.EVENT_READ, state)
        s.sendall(request)
    done = errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            st = key.data
            chunk = st["sock"].recv(262144)
            if not chunk:
                raise RuntimeError("server closed a keep-alive connection")
            st["buf"] += chunk
            while True:
                buf = st["buf"]
                head_end = buf.find(b"\r\n\r\n")
                if head_end < 0:
                    break
                head = buf[:head_end]
                lower = head.lower()
                i = lower.find(b"content-length:")
                if i < 0:
                    raise RuntimeError("response without Content-Length")
                length = int(
                    head[i + 15 : lower.find(b"\r\n", i) if lower.find(b"\r\n", i) > 0 else None]
                )
                end = head_end + 4 + length
                if len(buf) < end:
                    break
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
                st["buf"] = buf[end:]
                done += 1
                st["sock"].sendall(request)
    for st in conns:
        st["sock"].close()
    return done / seconds, errors


def server_cpu_seconds(pid):
    """User+system CPU time the server process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(args):
    ports = json.loads(args.client)
    rps = {key: [] for _, key, _ in TARGETS}
    cpu = {key: [] for _, key, _ in TARGETS}  # server CPU microseconds per request
    errors = {key: 0 for _, key, _ in TARGETS}
    for _, key, path in TARGETS:  # warm up (first requests build caches, start threads)
        load(ports[key], path, 0.3, args.connections)
    shuffle = random.Random(20261122).shuffle  # fixed seed: no position bias, repeatable
    for _ in range(args.rounds):
        order = list(TARGETS)
        shuffle(order)
        for _, key, path in order:
            before = server_cpu_seconds(args.server_pid)
            value, errs = load(ports[key], path, args.seconds, args.connections)
            used = server_cpu_seconds(args.server_pid) - before
            rps[key].append(value)
            cpu[key].append(1e6 * used / max(1.0, value * args.seconds))
            errors[key] += errs
    print(json.dumps({"rps": rps, "cpu": cpu, "errors": errors}))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client(args)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
