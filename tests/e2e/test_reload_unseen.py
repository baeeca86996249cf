"""End-to-end, as a player sees it: a real game, two real ``evennia reload``s
under load through the portal, and nobody notices.

Eight keep-alive clients poll the website through the portal (the home
page, and POSTs with a body that the game checks byte for byte) while the
launcher reloads the game twice. Every answer must be 2xx/3xx: no 503, no
502, no reset, no hang. The figures (per-status counts, p50/p99/max
latency, the reloads' durations) are printed. The webclient page and the
websocket keep working after the reloads.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import random
import socket
import threading
import time
from collections import Counter

import pytest

pytestmark = pytest.mark.e2e

CLIENTS = 8
REQUEST_TIMEOUT = 45.0  # a hang is any answer later than this

ECHO_VIEW = (
    "import hashlib\n"
    "from django.http import HttpResponse\n"
    "from django.views.decorators.csrf import csrf_exempt\n\n\n"
    "@csrf_exempt\n"
    "def echo(request):\n"
    "    body = request.body\n"
    "    return HttpResponse(f'{len(body)} {hashlib.md5(body).hexdigest()}',"
    " content_type='text/plain')\n"
)
ECHO_URLS = (
    "\nfrom django.urls import path as _path  # contrib_awsstorage e2e\n"
    "from web.awsstorage_echo import echo as _echo\n"
    "urlpatterns = [_path('_echo/', _echo)] + urlpatterns\n"
)


@pytest.fixture(scope="module")
def echo_game(game):
    """The session's game with a form-like POST view (``/_echo/``), loaded by one reload."""
    web = game.game_dir / "web"
    urls = web / "urls.py"
    if "awsstorage_echo" not in urls.read_text():
        (web / "awsstorage_echo.py").write_text(ECHO_VIEW)
        urls.write_text(urls.read_text() + ECHO_URLS)
        game.reload()
    conn = http.client.HTTPConnection("127.0.0.1", game.ports.web, timeout=30)
    try:
        conn.request("POST", "/_echo/", body=b"abc")
        response = conn.getresponse()
        assert (response.status, response.read()) == (
            200,
            f"3 {hashlib.md5(b'abc').hexdigest()}".encode(),
        )
    finally:
        conn.close()
    return game


class Poller:
    """``CLIENTS`` keep-alive clients polling GET / and POST /_echo/ until stopped."""

    def __init__(self, port):
        self.port = port
        self.results = []  # (started, latency, status or error)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(CLIENTS)
        ]

    def client(self, index):
        rng = random.Random(index)
        conn = None
        n = 0
        while not self.stop.is_set():
            n += 1
            if n % 2:
                method, path, body = "GET", "/", None
            else:
                method, path, body = "POST", "/_echo/", rng.randbytes(rng.randrange(1, 20_000))
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
            started = time.monotonic()
            try:
                headers = {"Content-Type": "application/octet-stream"} if body else {}
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                outcome = response.status
                if body is not None and outcome == 200:
                    if data != f"{len(body)} {hashlib.md5(body).hexdigest()}".encode():
                        outcome = "wrong-body"
                if response.will_close:
                    conn.close()
                    conn = None
            except TimeoutError:
                outcome = "hang"
            except ConnectionResetError:
                outcome = "reset"
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
            if not isinstance(outcome, int) and conn is not None:
                conn.close()  # a fresh connection after any failure
                conn = None
            with self.lock:
                self.results.append((started, time.monotonic() - started, method, outcome))
            time.sleep(0.02)
        if conn is not None:
            conn.close()

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(REQUEST_TIMEOUT + 10)
        assert not any(t.is_alive() for t in self.threads), "a client hung"


def _percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


def _websocket_handshake(port):
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            (
                f"GET /?{time.time()} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return head.split(b"\r\n", 1)[0]


def test_two_reloads_under_load_nobody_notices(echo_game, capsys):
    game = echo_game
    reloads = []
    with Poller(game.ports.web) as poller:
        time.sleep(2.0)
        for _ in range(2):
            started = time.monotonic()
            result = game.evennia("reload", timeout=180)
            launcher_done = time.monotonic()
            game.wait_until_up(timeout=90)
            reloads.append(
                {
                    "launcher_s": round(launcher_done - started, 2),
                    "until_up_s": round(time.monotonic() - started, 2),
                    "ok": "Traceback" not in result.stdout + result.stderr,
                }
            )
            time.sleep(2.0)
    results = poller.results
    by_status = Counter(str(outcome) for _, _, _, outcome in results)
    by_method = Counter(method for _, _, method, _ in results)
    latencies = [latency for _, latency, _, _ in results]
    figures = {
        "requests": len(results),
        "by_status": dict(sorted(by_status.items())),
        "by_method": dict(by_method),
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies, default=0) * 1000, 1),
        "reloads": reloads,
    }
    portal_log = (game.game_dir / "server" / "logs" / "portal.log").read_text(errors="replace")
    figures["portal_log_releases"] = portal_log.count("Webserver back: sending")
    with capsys.disabled():
        print("\nplayer-side reload check:", json.dumps(figures))
    assert "Traceback" not in portal_log, portal_log[-3000:]
    bad = {k: v for k, v in by_status.items() if not (k.isdigit() and 200 <= int(k) < 400)}
    assert bad == {}, figures
    assert by_method["POST"] > 50 and by_method["GET"] > 50, figures
    assert all(r["ok"] for r in reloads), reloads


def test_webclient_and_websocket_still_work_after_reloads(echo_game):
    game = echo_game
    conn = http.client.HTTPConnection("127.0.0.1", game.ports.web, timeout=30)
    try:
        conn.request("GET", "/webclient/")
        response = conn.getresponse()
        page = response.read()
        assert response.status == 200 and b"webclient" in page.lower()
    finally:
        conn.close()
    assert b" 101 " in _websocket_handshake(game.ports.websocket) + b" "
