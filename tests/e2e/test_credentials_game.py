"""End-to-end: a real Evennia game on an assumed role keeps using S3 past
the expiry of its first credentials, without a reload.

The game's storages name an AWS profile with ``role_arn`` + ``source_profile``;
STS and S3 are moto behind ``tools.sts_gate``, so the role's credentials
live ``LIFETIME`` seconds and expired ones are refused with
``ExpiredToken``. The launcher's collectstatic, the server's
``default_storage`` (a view writes and reads an upload) and ``@awsstatus``
all run on those credentials.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from demo.evennia_game import DemoGame, Ports, S3Target
from demo.telnet_client import TelnetSession
from tests.short_lived import ShortLivedAws

pytestmark = pytest.mark.e2e

LIFETIME = 8.0
_VIEW = """import os
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import JsonResponse


def stored(request, n):
    name = f"note-{n}.txt"
    default_storage.save(name, ContentFile(name.encode()))
    with default_storage.open(name) as handle:
        content = handle.read().decode()
    return JsonResponse({"content": content, "pid": os.getpid(),
                         "client": id(default_storage.connection)})
"""


def _add_stored_view(game: DemoGame) -> None:
    web = game.game_dir / "web"
    (web / "awsstorage_stored.py").write_text(_VIEW)
    urls = web / "urls.py"
    urls.write_text(
        urls.read_text() + "\nfrom django.urls import path as _path  # credentials e2e test\n"
        "from web.awsstorage_stored import stored as _stored\n"
        "urlpatterns = [_path('_stored/<int:n>/', _stored)] + urlpatterns\n"
    )


@pytest.fixture
def role_game(s3_server, tmp_path, monkeypatch):
    aws = ShortLivedAws(s3_server, tmp_path, monkeypatch, lifetime=LIFETIME)
    s3_server.create_bucket("e2e-role-game", public_read=True)
    target = S3Target(endpoint_url=aws.endpoint_url, bucket="e2e-role-game")  # no keys
    game = DemoGame(
        tmp_path / "rolegame",
        target,
        ports=Ports.free(),
        drain_timeout=5.0,
        extra_settings='AWS_S3_SESSION_PROFILE = "game-role"\n',
    )
    game.ensure_created()
    game.configure()
    _add_stored_view(game)
    game.migrate()
    try:
        game.start()
        yield game, aws
    finally:
        game.stop()
        aws.stop()


def _stored(game, n):
    url = f"http://127.0.0.1:{game.ports.web}/_stored/{n}/"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.load(answer)


def test_game_on_an_assumed_role_keeps_working_past_the_first_expiry(role_game):
    game, aws = role_game
    assert aws.gate.s3_keys, "collectstatic did not sign with the role's credentials"
    first = _stored(game, 1)
    first_key = aws.gate.s3_keys[-1]
    aws.wait_past(aws.gate.expiry_of(first_key))
    second = _stored(game, 2)
    assert (first["content"], second["content"]) == ("note-1.txt", "note-2.txt")
    assert first["pid"] == second["pid"] and first["client"] == second["client"]
    assert aws.gate.is_expired(first_key) and aws.gate.s3_keys[-1] != first_key
    with TelnetSession("127.0.0.1", game.ports.telnet) as tn:
        tn.login(game.admin_user, game.admin_password)
        out = tn.command(
            "@awsstatus/refresh", until=r"(?s)Web server.*(pending|disabled)", timeout=40
        )
    flat = " ".join(out.split())
    assert re.search(r"access key ASIA\S+ from profile 'game-role' \(an assumed role\)", flat), out
    assert "boto3 renews them before then" in flat, out
    assert "UNREACHABLE" not in out
    assert aws.gate.rejected == [], aws.gate.rejected
