"""Portal speed: our proxy vs. Evennia's own, in front of a real server site.

Three processes, as in a game: the *server* (this script with
``--serve``) runs both server sites - ours (``DjangoWebRoot`` on a
``LockableThreadPool``, our ``Website``) and upstream Evennia 5's
(``evennia.server.webserver.DjangoWebRoot`` and ``Website``) - and counts
the TCP connections each accepts. The *portal* (this process) runs both
proxies: ours (``EvenniaReverseProxyResource`` on Agent + a persistent
HTTP/1.1 pool) and upstream's (``twisted.web.proxy``: HTTP/1.0, one
connection per request), each in front of its own server site. The
*load* is wrk (Debian's package), one thread with N keep-alive
connections to a portal, so that the load's own cost stays out of the
two processes measured; targets interleave over several rounds (medians
of the rounds' req/s, p50 and p99).

Prints req/s, p50/p99 latency, backend connections opened per 1,000
requests, and the ratios; the targets (>= 1.5x upstream's req/s, < 20
backend connections per 1,000 requests) are printed as verdicts, not asserted.

Run: ``.venv/bin/python bench/portal_bench.py [--seconds 2] [--rounds 10] [--connections 8]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
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
        WEBSERVER_THREADPOOL_LIMITS=(1, 20),
    )
    settings.configure(**conf)
    django.setup()
    globals()["urlpatterns"] = [path("hello/", hello)]
    warnings.simplefilter("ignore", DeprecationWarning)  # upstream's twisted.web.proxy


# -- the server process ----------------------------------------------------------------


def serve():
    """Both server sites, counting accepted connections; a control port reports them."""
    configure()
    from evennia.server import webserver as upstream
    from twisted.internet import reactor
    from twisted.web import resource

    from contrib_awsstorage import webserver as ours

    counts = {"ours": 0, "evennia": 0}

    def counting(site_class, key):
        """``site_class``, counting the connections it accepts under ``key``."""

        class Counting(site_class):
            def buildProtocol(self, addr):
                counts[key] += 1
                return super().buildProtocol(addr)

        return Counting

    pools = [ours.LockableThreadPool(1, 20), upstream.LockableThreadPool(1, 20)]
    sites = {
        "ours": counting(ours.Website, "ours")(ours.DjangoWebRoot(pools[0]), debug=False),
        "evennia": counting(upstream.Website, "evennia")(upstream.DjangoWebRoot(pools[1])),
    }
    ports = {}
    for key, site in sites.items():
        ports[key] = reactor.listenTCP(0, site, interface="127.0.0.1").getHost().port

    class Counts(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            return json.dumps(counts).encode()

    ports["control"] = (
        reactor.listenTCP(0, ours.Website(Counts(), debug=False), interface="127.0.0.1")
        .getHost()
        .port
    )
    for pool in pools:
        pool.start()
    ports["pid"] = os.getpid()
    print("READY " + json.dumps(ports), flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", lambda: [p.stop() for p in pools])
    reactor.run()
    return 0


# -- the load (wrk, a third process) ----------------------------------------------------

#: wrk's report of one run, for this script: requests, microseconds, p50 and
#: p99 latency in microseconds, non-2xx/3xx answers, socket errors.
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def wrk(port, seconds, connections, script):
    """One wrk run (one thread, ``connections`` keep-alive connections)."""
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "-s",
        script,
        f"http://127.0.0.1:{port}{PATH}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    line = next((l for l in out.splitlines() if l.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no report: {out[-500:]!r}")
    requests, micros, p50, p99, status_errors, socket_errors = map(int, line.split()[1:])
    return {
        "requests": requests,
        "rps": requests / (micros / 1e6),
        "p50": p50 / 1e3,
        "p99": p99 / 1e3,
        "errors": status_errors + socket_errors,
    }


def cpu_seconds(pid):
    """User+system CPU time a process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks():
    """(busy, total) CPU ticks of the whole machine so far (Linux /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def rounds(ports, pids, control, args):
    """Every round runs each target once, in a shuffled order."""
    script = Path(tempfile.mkdtemp()) / "report.lua"
    script.write_text(WRK_REPORT)
    out = {
        key: {"runs": [], "opened": 0, "cpu": {"portal": 0.0, "server": 0.0}, "machine": [0, 0]}
        for _, key in TARGETS
    }
    for _, key in TARGETS:  # warm up: threads, caches, pooled connections
        wrk(ports[key], 1, args.connections, script)
    shuffle = random.Random(20261201).shuffle
    for _ in range(args.rounds):
        order = list(TARGETS)
        shuffle(order)
        for _, key in order:
            before = counts(control)[key]
            cpu_before = {role: cpu_seconds(pid) for role, pid in pids.items()}
            busy_before, total_before = machine_ticks()
            run = wrk(ports[key], args.seconds, args.connections, script)
            busy_after, total_after = machine_ticks()
            row = out[key]
            row["machine"][0] += busy_after - busy_before
            row["machine"][1] += total_after - total_before
            for role, pid in pids.items():
                row["cpu"][role] += cpu_seconds(pid) - cpu_before[role]
            row["opened"] += counts(control)[key] - before
            row["runs"].append(run)
    return out


def counts(control_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{control_port}/", timeout=10) as r:
        return json.load(r)


# -- the portal (this process) ------------------------------------------------------------


def portal(args):
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = server.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"server did not start: {line!r}")
        backends = json.loads(line[6:])
        configure()
        from evennia.server import webserver as upstream
        from twisted.internet import reactor
        from twisted.logger import globalLogBeginner

        from tests.web.harness import portal_site

        up_proxy = upstream.EvenniaReverseProxyResource("127.0.0.1", backends["evennia"], "")
        up_site = upstream.Website(up_proxy)
        up_site.is_portal = True
        sites = {"ours": portal_site(backends["ours"], debug=False), "evennia": up_site}
        ports = {
            k: reactor.listenTCP(0, s, interface="127.0.0.1").getHost().port
            for k, s in sites.items()
        }
        pids = {"portal": os.getpid(), "server": backends["pid"]}
        errors = []
        globalLogBeginner.beginLoggingTo(
            [lambda event: errors.append(event) if event.get("isError") else None],
            redirectStandardIO=False,
        )
        outcome = {}

        def run_rounds():
            try:
                outcome["results"] = rounds(ports, pids, backends["control"], args)
            finally:
                reactor.callFromThread(reactor.stop)

        threading.Thread(target=run_rounds, daemon=True).start()
        reactor.run()
    finally:
        server.terminate()
        server.wait(10)
    if "results" not in outcome:
        return 1
    report(outcome["results"], args, len(errors))
    return 0


def report(results, args, logged_errors):
    print(
        f"portal bench: wrk, 1 thread, {args.connections} keep-alive connections, {args.rounds} "
        f"rounds x {args.seconds}s per target, interleaved; GET {PATH} through the portal to a "
        "real Django site; server, portal and wrk in three processes"
    )
    print(
        f"  {'target':78s} {'req/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'conn/1000':>9s} errors"
        "  CPU us/req portal, server"
    )
    figures = {}
    for label, key in TARGETS:
        row = results[key]
        runs = row["runs"]
        requests = sum(r["requests"] for r in runs)
        figures[key] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "p50": statistics.median(r["p50"] for r in runs),
            "p99": statistics.median(r["p99"] for r in runs),
            "per_k": 1000 * row["opened"] / max(1, requests),
            "cpu": sum(row["cpu"].values()) / max(1, requests),
        }
        f = figures[key]
        print(
            f"  {label:78s} {f['rps']:7.0f} {f['p50']:7.2f} {f['p99']:7.2f} {f['per_k']:9.1f} "
            f"{sum(r['errors'] for r in runs):6d}  {1e6 * row['cpu']['portal'] / max(1, requests):.0f}, "
            f"{1e6 * row['cpu']['server'] / max(1, requests):.0f}"
        )
    ours, up = figures["ours"], figures["evennia"]
    ratio = statistics.median(
        a["rps"] / b["rps"] for a, b in zip(results["ours"]["runs"], results["evennia"]["runs"])
    )
    print(
        f"  ratio CPU per request (portal + server) Evennia/ours {up['cpu'] / ours['cpu']:.2f}"
        " (> 1: ours costs less)"
    )
    busy = {
        key: 100 * results[key]["machine"][0] / max(1, results[key]["machine"][1])
        for _, key in TARGETS
    }
    print(
        f"  machine busy during the rounds: ours {busy['ours']:.0f} %, Evennia "
        f"{busy['evennia']:.0f} % of {os.cpu_count()} cores (below 100 %: req/s is set by "
        "the round trip through three processes, not by CPU)"
    )
    print(
        f"  ratio req/s ours/Evennia {ratio:.2f} (median of the rounds' ratios; target >= 1.5: "
        f"{'PASS' if ratio >= 1.5 else 'FAIL'})"
    )
    print(
        f"  ratio latency Evennia/ours: p50 {up['p50'] / ours['p50']:.2f}, "
        f"p99 {up['p99'] / ours['p99']:.2f} (> 1: ours answers sooner)"
    )
    print(
        f"  backend connections per 1,000 requests: ours {ours['per_k']:.1f}, Evennia "
        f"{up['per_k']:.1f} (target ours < 20: {'PASS' if ours['per_k'] < 20 else 'FAIL'})"
    )
    print(
        f"  errors the portal logged: {logged_errors} (wrk stops with requests in flight; "
        "upstream's proxy then calls finish() on a request whose client is gone)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seconds", type=int, default=2, help="per target and round (wrk: whole seconds)"
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    if shutil.which("wrk") is None:
        print(
            "portal bench needs wrk (Debian package wrk; `make bench` installs it)", file=sys.stderr
        )
        return 2
    return portal(args)


if __name__ == "__main__":
    sys.exit(main())
