"""One real Evennia game for the end-to-end tests, on its own S3 server.

The game is made with ``evennia --init`` in a temp folder, configured like
the demo, migrated and started with the real launcher; its portal and
server are separate processes that talk HTTP to an embedded S3 server this
fixture owns (so a test may stop and restart it on the same port).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS, DEFAULT_REGION, EmbeddedS3
from demo.evennia_game import DemoGame, Ports, S3Target

E2E_BUCKET = "e2e-game"
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output"
# Debian's Chromium; CHROMIUM=/path picks another build
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def missing_for(item) -> str | None:
    """Why ``item`` cannot run here (an optional part is absent), or None."""
    if item.get_closest_marker("e2e") and importlib.util.find_spec("evennia") is None:
        return "needs Evennia: pip install 'contrib-awsstorage[evennia]'"
    if item.get_closest_marker("browser"):
        if importlib.util.find_spec("playwright") is None:
            return "needs Playwright: pip install 'contrib-awsstorage[test]'"
        if not Path(CHROMIUM).is_file():
            return f"needs Chromium at {CHROMIUM}: make debian-test-deps (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = missing_for(item)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


class RestartableS3:
    """An embedded S3 server that can be stopped and brought back on its port."""

    def __init__(self):
        self.server = EmbeddedS3("127.0.0.1", 0).start()
        self.port = self.server.port

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        if not self.server.running:
            self.server = EmbeddedS3("127.0.0.1", self.port).start()

    def client(self):
        return self.server.client()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture(scope="session")
def game_s3():
    s3 = RestartableS3()
    s3.server.create_bucket(E2E_BUCKET, public_read=True)
    yield s3
    s3.stop()


@pytest.fixture(scope="session")
def game(game_s3, tmp_path_factory):
    target = S3Target(
        endpoint_url=game_s3.endpoint_url,
        bucket=E2E_BUCKET,
        region=DEFAULT_REGION,
        access_key=DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_key=DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    game = DemoGame(
        tmp_path_factory.mktemp("e2e") / "e2egame", target, ports=Ports.free(), drain_timeout=8.0
    )
    # the README's CORS rule, for the game's origin only: a browser test then
    # fails if fonts or crossorigin scripts come without it
    game_s3.server.allow_browser_origins(E2E_BUCKET, game.browser_origins)
    game.ensure_created()
    game.configure()
    game.add_slow_view()
    game.migrate()
    try:
        game.start()
    except Exception:
        game.stop()
        raise
    yield game
    game.stop()
