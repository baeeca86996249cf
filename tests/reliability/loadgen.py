"""A bounded HTTP load generator (N keep-alive clients for T seconds) and
the web stack child process it is aimed at."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    """One request: when it started (monotonic), status or error, latency."""

    started: float
    latency: float
    status: int | None = None
    error: str | None = None
    retry_after: str | None = None


@dataclass
class LoadReport:
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def by_status(self) -> Counter:
        return Counter(r.status if r.status is not None else r.error for r in self.results)

    def percentile(self, p: float, status: int | None = 200) -> float:
        values = sorted(r.latency for r in self.results if status is None or r.status == status)
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    def figures(self) -> dict:
        return {
            "requests": len(self.results),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items(), key=str)},
            "rps": round(len(self.results) / self.seconds, 1) if self.seconds else 0,
            "p50_ms": round(self.percentile(50) * 1000, 2),
            "p99_ms": round(self.percentile(99) * 1000, 2),
            "max_ms": round(max((r.latency for r in self.results), default=0) * 1000, 2),
        }


def _classify(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "hang"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, (http.client.RemoteDisconnected, http.client.BadStatusLine)):
        return "closed-without-answer"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    return type(exc).__name__


def run_load(
    port: int,
    paths: list[str],
    clients: int,
    seconds: float,
    timeout: float = 15.0,
    max_requests: int = 200_000,
) -> LoadReport:
    """``clients`` threads, each on its own keep-alive connection, request
    ``paths`` round-robin for ``seconds`` (bounded by ``max_requests``)."""
    report = LoadReport()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    count = [0]

    def client(index: int) -> None:
        conn = None
        i = index
        while time.monotonic() < stop_at:
            with lock:
                if count[0] >= max_requests:
                    return
                count[0] += 1
            path = paths[i % len(paths)]
            i += 1
            # a path, or (method, path, body): a POST to /echo is checked byte for byte
            method, path, body = ("GET", path, None) if isinstance(path, str) else path
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            started = time.monotonic()
            try:
                conn.request(method, path, body=body)
                response = conn.getresponse()
                data = response.read()
                result = Result(
                    started,
                    time.monotonic() - started,
                    status=response.status,
                    retry_after=response.getheader("Retry-After"),
                )
                if body is not None and response.status == 200 and path.startswith("/echo"):
                    if json.loads(data).get("length") != len(body):
                        result.status, result.error = None, "wrong-body"
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                result = Result(started, time.monotonic() - started, error=_classify(exc))
                conn.close()
                conn = None
            with lock:
                report.results.append(result)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout + 10)
    report.seconds = time.monotonic() - began
    return report


class WebStack:
    """``tests.reliability.webstack`` in a child process."""

    def __init__(self, static_root: str | None = None, threads: int = 10, **env):
        self.args = [sys.executable, "-m", "tests.reliability.webstack", "--threads", str(threads)]
        if static_root:
            self.args += ["--static-root", str(static_root)]
        self.env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            DJANGO_SETTINGS_MODULE="tests.reliability.web_settings",
        )
        self.env.update({f"WEBSTACK_{k.upper()}": str(v) for k, v in env.items()})
        self.proc = None
        self.ports = {}

    def start(self) -> WebStack:
        self.proc = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(
                f"webstack did not start: {line!r} {self.proc.stderr.read()[-3000:]}"
            )
        self.ports = json.loads(line[6:])
        return self

    def stop(self) -> str:
        """Stop the process; return its stderr (tracebacks end up there)."""
        if self.proc is None:
            return ""
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.proc = None
        return err

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def portal(self) -> int:
        return self.ports["portal"]

    @property
    def server(self) -> int:
        return self.ports["server"]

    def status(self) -> dict:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.ports['control']}/status", timeout=10
        ) as r:
            return json.load(r)

    def reload(self, relisten: bool = False) -> dict:
        url = f"http://127.0.0.1:{self.ports['control']}/reload" + (
            "?relisten=1" if relisten else ""
        )
        request = urllib.request.Request(url, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.load(r)
