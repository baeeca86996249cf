"""End-to-end in a real browser: headless Chromium loads the game's website.

Every stylesheet, script and image must load (no failed request, no 4xx/5xx)
and come from the S3 endpoint; a screenshot goes to ``test-output/``.
Chromium is Debian's (``make test`` installs it); Playwright drives it.

Evennia's stock templates also link bootstrap and jquery from public CDNs.
Those are not the game's files, and this test machine has no Internet, so
requests to non-loopback hosts are refused up front and listed apart; every
request to the game or the S3 endpoint must succeed.
"""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.evennia]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ASSET_TYPES = {"stylesheet", "script", "image", "font"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in LOOPBACK


def test_website_and_webclient_load_every_asset_from_s3(game, output_dir):
    from playwright.sync_api import sync_playwright

    failed, bad_status, assets, third_party = [], [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            page = browser.new_page()

            def only_loopback(route):
                if is_loopback(route.request.url):
                    route.continue_()
                else:
                    third_party.append(route.request.url)
                    route.abort()

            page.route("**/*", only_loopback)
            page.on("requestfailed",
                    lambda r: is_loopback(r.url) and failed.append(f"{r.url}: {r.failure}"))

            def on_response(resp):
                if resp.request.resource_type in ASSET_TYPES and is_loopback(resp.url):
                    assets.append(resp.url)
                if resp.status >= 400:
                    bad_status.append(f"{resp.status} {resp.url}")

            page.on("response", on_response)
            for name, url in (("website", game.website_url), ("webclient", game.webclient_url)):
                page.goto(url, wait_until="networkidle", timeout=60_000)
                page.screenshot(path=str(output_dir / f"{name}.png"), full_page=True)
        finally:
            browser.close()

    print(f"third-party CDN requests refused (not the game's files): {third_party}")
    assert failed == [], failed
    assert bad_status == [], bad_status
    assert len(assets) >= 10, f"the pages loaded too few of their own assets: {assets}"
    assert any("/webclient/js/" in u for u in assets), assets
    base = game.s3.public_base + "/"
    not_s3 = [u for u in assets if not u.startswith(base)]
    assert not_s3 == [], f"assets not from S3: {not_s3}"
