"""Portal speed: our proxy vs. Evennia's own, in front of a real server site.

Three processes, as in a game: the *server* (this script with
``--serve``) runs both server sites - ours (``DjangoWebRoot`` on a
``LockableThreadPool``, our ``Website``) and upstream Evennia 5's
(``evennia.server.webserver.DjangoWebRoot`` and ``Website``) - and counts
the TCP connections each accepts. The *portal* (this process) runs both
proxies: ours (``EvenniaReverseProxyResource`` on Agent + a persistent
HTTP/1.1 pool) and upstream's (``twisted.web.proxy``: HTTP/1.0, one
connection per request), each in front of its own server site. The
*load* (``--client``) is a bounded Python client with N keep-alive
connections to a portal, timing every request; targets interleave over
several rounds (median req/s, pooled p50/p99).

Prints req/s, p50/p99 latency, backend connections opened per 1,000
requests, and the ratios; the targets (>= 1.5x upstream's req/s, < 20
backend connections per 1,000 requests) are printed as verdicts, not asserted.

Run: ``.venv/bin/python bench/portal_bench.py [--seconds 1] [--rounds 10] [--connections 8]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGETS = [
    ("ours: EvenniaReverseProxyResource (Agent, pool) -> DjangoWebRoot", "ours"),
    ("Evennia 5: EvenniaReverseProxyResource (twisted.web.proxy) -> DjangoWebRoot", "evennia"),
]
PATH = "/hello/"


def hello(request):
    from django.http import HttpResponse

    response = HttpResponse(b"hello from django", content_type="text/plain")
    response["Content-Length"] = "17"
    return response


urlpatterns = []  # filled by configure(): this module is the bench's ROOT_URLCONF


def configure():
    import django
    from django.conf import settings
    from django.urls import path

    import evennia.settings_default as evennia_defaults  # Evennia's module reads a few at import

    conf = {k: getattr(evennia_defaults, k) for k in dir(evennia_defaults) if k.isupper()}
    conf.update(
        LOGGING_CONFIG=None, DEBUG=False, SECRET_KEY="bench-only", ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__, INSTALLED_APPS=[], MIDDLEWARE=[], UPSTREAM_IPS=["127.0.0.1"],
        USE_TZ=True, WEBSERVER_THREADPOOL_LIMITS=(1, 20),
    )
    settings.configure(**conf)
    django.setup()
    globals()["urlpatterns"] = [path("hello/", hello)]
    warnings.simplefilter("ignore", DeprecationWarning)  # upstream's twisted.web.proxy


# -- the server process ----------------------------------------------------------------


def serve():
    """Both server sites, counting accepted connections; a control port reports them."""
    configure()
    from twisted.internet import reactor
    from twisted.web import resource

    from contrib_awsstorage import webserver as ours
    from evennia.server import webserver as upstream

    counts = {"ours": 0, "evennia": 0}
    pools = [ours.LockableThreadPool(1, 20), upstream.LockableThreadPool(1, 20)]
    sites = {
        "ours": ours.Website(ours.DjangoWebRoot(pools[0]), debug=False),
        "evennia": upstream.Website(upstream.DjangoWebRoot(pools[1])),
    }
    ports = {}
    for key, site in sites.items():
        build = site.buildProtocol

        def counting(addr, key=key, build=build):
            counts[key] += 1
            return build(addr)

        site.buildProtocol = counting
        ports[key] = reactor.listenTCP(0, site, interface="127.0.0.1").getHost().port

    class Counts(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            return json.dumps(counts).encode()

    ports["control"] = reactor.listenTCP(0, ours.Website(Counts(), debug=False),
                                         interface="127.0.0.1").getHost().port
    for pool in pools:
        pool.start()
    ports["pid"] = os.getpid()
    print("READY " + json.dumps(ports), flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", lambda: [p.stop() for p in pools])
    reactor.run()
    return 0


# -- the load client (a third process) -------------------------------------------------


def load(port, seconds, connections):
    """Keep-alive GETs on ``connections`` sockets for ``seconds``: (latencies, errors)."""
    request = f"GET {PATH} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        state = {"sock": s, "buf": b"", "sent": time.perf_counter()}
        conns.append(state)
        sel.register(s, selectors.EVENT_READ, state)
        s.sendall(request)
    latencies, errors = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            st = key.data
            chunk = st["sock"].recv(262144)
            if not chunk:
                raise RuntimeError("the portal closed a keep-alive connection")
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
                    raise RuntimeError(f"answer without Content-Length: {head[:300]!r}")
                j = lower.find(b"\r\n", i)
                end = head_end + 4 + int(head[i + 15 : j if j > 0 else None])
                if len(buf) < end:
                    break
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
                now = time.perf_counter()
                latencies.append(now - st["sent"])
                st["buf"] = buf[end:]
                st["sent"] = now
                st["sock"].sendall(request)
    # let the answers in flight arrive: closing mid-request would cost the
    # portal its backend connection and count as one more opened next round
    outstanding = {id(st) for st in conns}
    drain_until = time.monotonic() + 5
    while outstanding and time.monotonic() < drain_until:
        for key, _ in sel.select(timeout=0.5):
            st = key.data
            chunk = st["sock"].recv(262144)
            st["buf"] += chunk
            head_end = st["buf"].find(b"\r\n\r\n")
            if not chunk or (head_end >= 0 and st["buf"].endswith(b"hello from django")):
                outstanding.discard(id(st))
                sel.unregister(st["sock"])
    for st in conns:
        st["sock"].close()
    return latencies, errors


def cpu_seconds(pid):
    """User+system CPU time a process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(args):
    ports = json.loads(args.client)
    pids = ports.pop("pids")
    out = {key: {"rps": [], "latencies": [], "errors": 0, "requests": 0, "cpu": {"portal": 0.0, "server": 0.0}}
           for _, key in TARGETS}
    for _, key in TARGETS:  # warm up: threads, caches, pooled connections
        load(ports[key], 0.3, args.connections)
    shuffle = random.Random(20261201).shuffle
    for _ in range(args.rounds):
        order = list(TARGETS)
        shuffle(order)
        for _, key in order:
            before = counts(args.control)[key]
            cpu_before = {role: cpu_seconds(pid) for role, pid in pids.items()}
            latencies, errors = load(ports[key], args.seconds, args.connections)
            row = out[key]
            for role, pid in pids.items():
                row["cpu"][role] += cpu_seconds(pid) - cpu_before[role]
            opened = counts(args.control)[key] - before
            row["rps"].append(len(latencies) / args.seconds)
            row["latencies"].extend(latencies)
            row["errors"] += errors
            row["requests"] += len(latencies)
            row.setdefault("opened", 0)
            row["opened"] += opened
    print(json.dumps(out))
    return 0


def counts(control_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{control_port}/", timeout=10) as r:
        return json.load(r)


# -- the portal (this process) ------------------------------------------------------------


def portal(args):
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE,
                              text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"server did not start: {line!r}")
        backends = json.loads(line[6:])
        configure()
        from twisted.internet import reactor

        from contrib_awsstorage import webserver as ours
        from evennia.server import webserver as upstream

        ours_proxy = ours.EvenniaReverseProxyResource("127.0.0.1", backends["ours"], "")
        up_proxy = upstream.EvenniaReverseProxyResource("127.0.0.1", backends["evennia"], "")
        up_site = upstream.Website(up_proxy)
        up_site.is_portal = True
        sites = {"ours": ours.Website(ours_proxy, is_portal=True, debug=False),
                 "evennia": up_site}
        ports = {k: reactor.listenTCP(0, s, interface="127.0.0.1").getHost().port
                 for k, s in sites.items()}
        ports["pids"] = {"portal": os.getpid(), "server": backends["pid"]}
        outcome = {}

        def run_client():
            cmd = [sys.executable, __file__, "--client", json.dumps(ports),
                   "--control", str(backends["control"]), "--seconds", str(args.seconds),
                   "--rounds", str(args.rounds), "--connections", str(args.connections)]
            outcome["proc"] = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            reactor.callFromThread(reactor.stop)

        import threading

        threading.Thread(target=run_client, daemon=True).start()
        reactor.run()
    finally:
        server.terminate()
        server.wait(10)
    proc = outcome["proc"]
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    report(json.loads(proc.stdout.strip().splitlines()[-1]), args)
    return 0


def _pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


def report(results, args):
    print(f"portal bench: {args.connections} keep-alive client connections, {args.rounds} rounds x "
          f"{args.seconds:g}s per target, interleaved; GET {PATH} through the portal to a real "
          "Django site; server, portal and load in three processes")
    print(f"  {'target':78s} {'req/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'conn/1000':>9s} errors"
          "  CPU us/req portal, server")
    figures = {}
    for label, key in TARGETS:
        row = results[key]
        rps = statistics.median(row["rps"])
        per_k = 1000 * row["opened"] / max(1, row["requests"])
        figures[key] = (rps, per_k)
        print(f"  {label:78s} {rps:7.0f} {_pct(row['latencies'], 50) * 1e3:7.2f} "
              f"{_pct(row['latencies'], 99) * 1e3:7.2f} {per_k:9.1f} {row['errors']:6d}"
              f"  {1e6 * row['cpu']['portal'] / max(1, row['requests']):.0f}, "
              f"{1e6 * row['cpu']['server'] / max(1, row['requests']):.0f}")
    ratio = statistics.median(
        a / b for a, b in zip(results["ours"]["rps"], results["evennia"]["rps"]) if b
    )
    p50 = _pct(results["evennia"]["latencies"], 50) / max(1e-9, _pct(results["ours"]["latencies"], 50))
    p99 = _pct(results["evennia"]["latencies"], 99) / max(1e-9, _pct(results["ours"]["latencies"], 99))
    cpu = {key: sum(results[key]["cpu"].values()) / max(1, results[key]["requests"])
           for _, key in TARGETS}
    print(f"  ratio CPU per request (portal + server) Evennia/ours {cpu['evennia'] / cpu['ours']:.2f}"
          " (> 1: ours costs less; what req/s follows on a CPU-bound machine)")
    conns = figures["ours"][1]
    print(f"  ratio req/s ours/Evennia {ratio:.2f} (target >= 1.5: {'PASS' if ratio >= 1.5 else 'FAIL'})")
    print(f"  ratio latency Evennia/ours: p50 {p50:.2f}, p99 {p99:.2f} (> 1: ours answers sooner)")
    print(f"  backend connections per 1,000 requests: ours {conns:.1f}, Evennia "
          f"{figures['evennia'][1]:.1f} (target ours < 20: {'PASS' if conns < 20 else 'FAIL'})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--control", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    if args.client:
        return client(args)
    return portal(args)


if __name__ == "__main__":
    sys.exit(main())
