"""End-to-end: a real Evennia game, its web side on S3, reloaded under load."""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request

import pytest

from demo.game_demo import game_asset_urls
from demo.telnet_client import TelnetSession

pytestmark = [pytest.mark.e2e, pytest.mark.evennia]

EXPECTED_TYPES = {
    ".css": ("text/css",),
    ".js": ("application/javascript", "text/javascript"),
    ".svg": ("image/svg+xml",),
    ".png": ("image/png",),
    ".ico": ("image/x-icon", "image/vnd.microsoft.icon"),
}


def get(url: str, timeout: float = 15.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()  # headers: case-insensitive
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def home_assets(game) -> list[str]:
    status, _, body = get(game.website_url)
    assert status == 200
    return game_asset_urls(body.decode(), game.s3)


def awsstatus(game, switch: str = "") -> str:
    with TelnetSession("127.0.0.1", game.ports.telnet) as tn:
        tn.login(game.admin_user, game.admin_password)
        return tn.command(
            f"@awsstatus{switch}", until=r"(?s)Web server.*(pending|disabled)", timeout=40
        )


def test_home_page_static_files_come_from_s3(game):
    assets = home_assets(game)
    assert len(assets) >= 3, assets
    base = game.s3.public_base + "/static/"
    for url in assets:
        assert url.startswith(base), f"{url} not served from the S3 endpoint {base}"
        status, headers, body = get(url)
        assert status == 200, url
        ext = "." + url.rsplit(".", 1)[-1]
        if ext in EXPECTED_TYPES:
            ctype = headers.get("Content-Type", "").split(";")[0]
            assert ctype in EXPECTED_TYPES[ext], f"{url}: {ctype}"


def test_nothing_is_served_from_the_games_own_static(game):
    _, _, body = get(game.website_url)
    html = body.decode()
    local_refs = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert local_refs == []
    game_origin = f"http://127.0.0.1:{game.ports.web}/static/"
    assert game_origin not in html


def test_awsstatus_over_telnet_shows_bucket_and_pool(game):
    out = awsstatus(game)
    low = out.lower()
    assert "e2e-game" in out
    assert "reachable" in low and "unreachable" not in low, out
    assert "pending" in low and "busy" in low, out
    assert "embedded-s3-demo-secret" not in out


def test_reload_drains_slow_request_and_comes_back(game):
    results = {}

    def slow():
        results["slow"] = get(f"{game.website_url}_slow/3/", timeout=60)[0]

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.7)  # the slow request is in flight on the server now
    started = time.monotonic()
    reload_result = {}
    reloader = threading.Thread(
        target=lambda: reload_result.update(r=game.evennia("reload", timeout=120))
    )
    reloader.start()
    during = []
    while reloader.is_alive() and time.monotonic() - started < 60:
        try:
            during.append(get(game.website_url, timeout=20)[0])
        except OSError as exc:  # the portal stays up: a connection error is a failure
            during.append(repr(exc))
        time.sleep(0.2)
    reloader.join(120)
    thread.join(60)
    assert not thread.is_alive(), "the slow request hung"
    assert results["slow"] == 200, results
    # the portal holds what the restarting server has not seen: no 502, no 503
    assert during and all(s == 200 for s in during), during
    game.wait_until_up(timeout=60)
    assert get(game.website_url)[0] == 200


def test_reload_with_s3_down_warns_once_and_reloads(game, game_s3):
    game_s3.stop()
    try:
        result = game.evennia("reload", timeout=180)
        output = result.stdout + result.stderr
        assert "Traceback" not in output, output
        warnings = [
            l
            for l in output.splitlines()
            if "S3" in l
            and ("warn" in l.lower() or "unreachable" in l.lower() or "could not" in l.lower())
        ]
        assert len(warnings) == 1, output
        game.wait_until_up(timeout=90)
        out = awsstatus(game, "/refresh")
        assert "unreachable" in out.lower(), out
    finally:
        game_s3.start()
