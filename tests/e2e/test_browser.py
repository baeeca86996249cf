"""End-to-end in a real browser: headless Chromium uses the game's website
and plays in its webclient.

Every request must succeed (third-party hosts included: the game now serves
jQuery, Bootstrap, popper and golden-layout from its own static files), the
console must stay free of errors, and every script, stylesheet and font must
come from the S3 endpoint, so the bucket's CORS rule is exercised by the
``crossorigin`` tags and the web font. Screenshots go to ``test-output/``.
Chromium is Debian's (``make test`` installs it); Playwright drives it.
Requests to non-loopback hosts are refused before they leave the machine,
and counted as failures.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.evennia, pytest.mark.browser]

ASSET_TYPES = {"stylesheet", "script", "font"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# one key/value row of an EvTable as the webclient shows it
_ROW = re.compile(r"^\s*(\S(?:.*?\S)?)\s{2,}(\S.*?)\s*$")


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in LOOPBACK


@dataclass
class BrowserLog:
    """Everything the page asked for and said, for the assertions."""

    requests: list = field(default_factory=list)  # Playwright Request objects
    failed: list = field(default_factory=list)
    bad_status: list = field(default_factory=list)
    third_party: list = field(default_factory=list)
    console_errors: list = field(default_factory=list)
    responses: list = field(default_factory=list)  # (resource type, url, headers)
    websockets: list = field(default_factory=list)
    frames_sent: list = field(default_factory=list)  # what the client sent over its websocket
    frames_received: int = 0
    durations_ms: list = field(default_factory=list)  # request start to response end, per request

    def attach(self, page) -> None:
        def only_loopback(route):
            if is_loopback(route.request.url):
                route.continue_()
            else:
                self.third_party.append(route.request.url)
                route.abort()

        page.route("**/*", only_loopback)
        page.on("request", lambda r: self.requests.append(r))
        page.on(
            "requestfinished", lambda r: self.durations_ms.append(r.timing.get("responseEnd", -1))
        )
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        page.on("response", self._on_response)
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and self.console_errors.append(
                    f"{m.text} ({m.location.get('url')}:{m.location.get('lineNumber')})"
                )
            ),
        )
        page.on("pageerror", lambda exc: self.console_errors.append(f"uncaught: {exc}"))
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws) -> None:
        self.websockets.append(ws)
        ws.on("framesent", lambda payload: self.frames_sent.append(str(payload)))
        ws.on("framereceived", lambda payload: self._count_received())
        ws.on("socketerror", lambda error: self.console_errors.append(f"websocket error: {error}"))

    def _count_received(self) -> None:
        self.frames_received += 1

    def _on_response(self, resp) -> None:
        self.responses.append((resp.request.resource_type, resp.url, resp.headers))
        if resp.status >= 400:
            self.bad_status.append(f"{resp.status} {resp.url}")

    def assets(self, types=ASSET_TYPES) -> list[str]:
        return [url for kind, url, _ in self.responses if kind in types]

    def problems(self) -> str:
        return (
            f"third-party: {self.third_party}\nfailed: {self.failed}\n"
            f"bad status: {self.bad_status}\nconsole errors: {self.console_errors}"
        )

    def assert_clean(self) -> None:
        assert self.third_party == [], f"requests to third-party hosts: {self.third_party}"
        assert self.failed == [], self.failed
        assert self.bad_status == [], self.bad_status
        assert self.console_errors == [], self.console_errors


def launch(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def test_website_and_webclient_load_every_asset_from_s3(game, output_dir):
    from playwright.sync_api import sync_playwright

    log = BrowserLog()
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            log.attach(page)
            for name, url in (("website", game.website_url), ("webclient", game.webclient_url)):
                page.goto(url, wait_until="networkidle", timeout=60_000)
                page.screenshot(path=str(output_dir / f"{name}.png"), full_page=True)
        finally:
            browser.close()

    log.assert_clean()
    assets = log.assets()
    assert len(assets) >= 20, f"the pages loaded too few of their own assets: {assets}"
    assert any("/webclient/js/" in u for u in assets), assets
    assert any("/vendor/jquery-3.2.1/" in u for u in assets), assets
    base = game.s3.public_base + "/"
    not_s3 = [u for u in assets if not u.startswith(base)]
    assert not_s3 == [], f"assets not from S3: {not_s3}"


class Webclient:
    """The webclient page, driven the way a player does: type, press Enter."""

    def __init__(self, page):
        self.page = page

    def text(self) -> str:
        return self.page.inner_text("#messagewindow").replace("\xa0", " ")

    def send(self, line: str) -> None:
        field = self.page.locator("textarea.inputfield").first
        field.click()
        field.fill(line)
        field.press("Enter")

    def wait_for(self, pattern: str, after: int = 0, timeout: float = 40.0) -> str:
        """The message window's text from ``after`` once ``pattern`` shows there."""
        deadline = time.monotonic() + timeout
        while True:
            new = self.text()[after:]
            if re.search(pattern, new, re.S):
                return new
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{pattern!r} did not show in the webclient in {timeout}s:\n{new[-1500:]}"
                )
            self.page.wait_for_timeout(100)


def tables(text: str) -> dict[str, dict[str, str]]:
    """The @awsstatus tables as the page shows them: {title: {key: value}}.
    A title is the line above a rule of dashes; a wrapped value's second
    line (no key) is joined to its row."""
    found, rows, key = {}, None, None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if set(line.strip()) == {"-"}:
            continue
        if i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            rows = found.setdefault(line.strip(), {})
            continue
        match = _ROW.match(line)
        if rows is None or not line.strip():
            continue
        if match and not line.startswith(" " * 4):
            key = match.group(1)
            rows[key] = match.group(2)
        elif key:
            rows[key] += " " + line.strip()
    return found


def test_webclient_logs_in_over_websocket_and_plays(game, game_s3, output_dir):
    from playwright.sync_api import sync_playwright

    log = BrowserLog()
    timings = {}
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            log.attach(page)
            started = time.monotonic()
            page.goto(game.webclient_url, wait_until="networkidle", timeout=60_000)
            timings["page load (network idle)"] = time.monotonic() - started
            client = Webclient(page)
            try:
                client.wait_for(r"connect")  # the connection screen came over the websocket
            except AssertionError as exc:  # say why: a library or the socket failed
                raise AssertionError(f"{exc}\n{log.problems()}") from None
            timings["connection screen"] = time.monotonic() - started
            assert page.evaluate("window.jQuery && window.jQuery.fn.jquery") == "3.2.1"
            assert page.evaluate("typeof window.GoldenLayout") == "function"
            assert page.evaluate("typeof window.Favico") == "function"
            # Evennia's template writes its "library not found" notes as .err
            errors = page.locator(".err").all_inner_texts()
            assert errors == [], errors
            page.screenshot(path=str(output_dir / "webclient-connect.png"))

            mark = time.monotonic()
            seen = len(client.text())
            client.send(f"connect {game.admin_user} {game.admin_password}")
            client.wait_for(r"Limbo", after=seen)
            timings["login (connect to Limbo)"] = time.monotonic() - mark

            mark = time.monotonic()
            seen = len(client.text())
            client.send("@awsstatus")
            status = client.wait_for(r"Web server.*(pending requests)\s+\d+", after=seen)
            timings["@awsstatus"] = time.monotonic() - mark
            page.screenshot(path=str(output_dir / "webclient-awsstatus.png"))

            mark = time.monotonic()
            seen = len(client.text())
            client.send("look")
            looked = client.wait_for(r"Limbo.*\n\s*\S", after=seen)
            timings["look"] = time.monotonic() - mark
            page.screenshot(path=str(output_dir / "webclient-look.png"))
            sockets = [
                (urlsplit(ws.url)._replace(path="", query="").geturl(), ws.is_closed())
                for ws in log.websockets
            ]
        finally:
            browser.close()
    timings["total"] = time.monotonic() - started

    report = {
        "requests": len(log.requests),
        "assets": len(log.assets()),
        "websocket frames": {"sent": len(log.frames_sent), "received": log.frames_received},
        "request ms (median, max)": [
            round(statistics.median(log.durations_ms), 1),
            round(max(log.durations_ms), 1),
        ]
        if log.durations_ms
        else None,
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }
    (output_dir / "webclient-timings.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"webclient: {report}")

    log.assert_clean()
    # the client talked to the game over its websocket, and kept it open
    assert sockets == [(f"ws://127.0.0.1:{game.ports.websocket}", False)], sockets
    commands = [json.loads(f)[1][0] for f in log.frames_sent if f.startswith('["text"')]
    assert [c.split()[0] for c in commands] == ["connect", "@awsstatus", "look"], len(commands)
    assert not any("/webclientdata" in r.url for r in log.requests), "the client fell back to AJAX"

    shown = tables(status)
    static = shown.get("Storage 'staticfiles'", {})
    assert static.get("bucket") == "e2e-game", status
    assert static.get("bucket state") == "reachable", status
    assert static.get("URL base") == game.s3.public_base + "/static/", status
    # the game's files in the bucket (the contrib's own state folder aside)
    pages = (
        game_s3.client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=game.s3.bucket, Prefix="static/")
    )
    files = [
        o["Key"]
        for p in pages
        for o in p.get("Contents", [])
        if not o["Key"].startswith("static/.contrib_awsstorage/")
    ]
    assert static.get("objects") == str(len(files)), status
    assert static.get("last sync", "").endswith("0 failed"), status
    assert shown.get("Web server", {}).get("state") == "serving", status
    assert "embedded-s3-demo-secret" not in status
    # look shows the room the account's character stands in, with its description
    room, _, description = looked.strip().partition("\n")
    assert room.startswith("Limbo") and description.strip(), looked

    base = game.s3.public_base + "/"
    assets = log.assets()
    not_s3 = [u for u in assets if not u.startswith(base)]
    assert not_s3 == [], f"scripts, styles or fonts not from S3: {not_s3}"
    for kind, name in (
        ("script", "/vendor/jquery-3.2.1/"),
        ("script", "/vendor/golden-layout-1.5.9/"),
        ("stylesheet", "/vendor/bootstrap-4.0.0-beta/"),
        ("font", "DejaVuSansMono"),
    ):
        assert any(name in u for u in log.assets({kind})), f"no {kind} {name} loaded: {assets}"
    # fonts and the crossorigin (SRI-checked) tags are CORS fetches: the
    # bucket's rule answered them for the game's origin
    origin = f"http://127.0.0.1:{game.ports.web}"
    cors = [
        (url, headers.get("access-control-allow-origin"))
        for kind, url, headers in log.responses
        if kind == "font" or re.search(r"/vendor/(jquery|popper\.js|bootstrap)-", url)
    ]
    assert len(cors) >= 5 and all(allowed == origin for _, allowed in cors), cors
