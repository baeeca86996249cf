"""Our Evennia service classes build the site and proxy from our classes.

Runs Evennia's real service classes (through the settings Evennia reads,
``EVENNIA_*_SERVICE_CLASS``) in a subprocess without a game directory.
Not proven here (needs a real game, issue 5): the AMP-driven
``evennia reload`` calling ``shutdown()`` and the launcher's process restarts.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.evennia  # Evennia's own service classes


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tmp_path, **extra_env):
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.web.evennia_settings",
        PYTHONPATH=str(REPO),
        WEB_TEST_TMP=str(tmp_path),
        WEB_TEST_PROXY_PORT=str(_free_port()),
        WEB_TEST_SERVER_PORT=str(_free_port()),
        **extra_env,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tests.web.services_process"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout + proc.stderr
    return env, json.loads(lines[-1][len("RESULT ") :])


def test_services_build_and_drain_with_our_classes(tmp_path):
    env, r = _run(tmp_path)
    c = r["classes"]
    assert c["server_service"] == "AWSStorageServerService"
    assert c["portal_service"] == "AWSStoragePortalService"
    assert c["active_root_is_service_root"] is True
    assert c["root"] == "contrib_awsstorage.webserver.DjangoWebRoot"
    assert (c["pool"], c["static"], c["site"]) == (
        "LockableThreadPool",
        "PrivateStaticRoot",
        "Website",
    )
    assert c["site_channel"] == "HTTPChannelWithXForwardedFor"
    assert c["portal_root"] == "EvenniaReverseProxyResource" and c["portal_is_portal"] is True
    server_port = env["WEB_TEST_SERVER_PORT"]
    proxy_port = env["WEB_TEST_PROXY_PORT"]
    assert f"EvenniaWebServer{server_port}" in c["children"]
    assert f"EvenniaWebProxy-127.0.0.1:{proxy_port}" in c["children"]
    assert r["global_protocol_untouched"] == "_genericHTTPChannelProtocolFactory"
    assert r["upstream_webserver_imported"] is False
    assert r["echo"] == [200, "127.0.0.2"]
    assert r["server_plugin"] == "server plugin"
    assert r["portal_plugin"] == "portal plugin"
    assert r["static"] == [200, "body{}", True, "text/css; charset=utf-8"]
    assert r["listing"] == 403
    assert r["server_during_drain"][0] == 503 and int(r["server_during_drain"][1]) > 0
    assert r["server_during_drain"][2] == "?1"  # refused unseen
    assert r["held_while_draining"] is True
    assert r["during_drain"] == [200, "hello"]  # held by the portal, then served
    assert c["amp_protocol"] == "HoldingAMPServerProtocol"
    assert r["up_after_stop_server"] is False  # holding as soon as the portal stops the server
    assert r["after_stop_server"] == 200  # the probe found a server that accepts
    assert r["slow"] == [200, "slept"]
    assert r["drained"] is True and r["drain_result"] == []
    assert r["active_root_after_stop"] is True
    assert r["portal_errors"] == ""  # the AMP protocol is ours: no warning
    # the reactor stopped (as on Ctrl-C or SIGTERM) while Django was still
    # answering: the server's stopService drained before the listener went
    assert r["in_flight_at_stop"] == [200, "slept"]
    assert [m for m in r["drain_logs_at_stop"] if "1 request(s)" in m], r["drain_logs_at_stop"]


def test_remote_static_url_redirects_static_and_the_stock_amp_protocol_is_named(tmp_path):
    """STATIC_URL on S3/a CDN: the game's /static answers with a redirect there.
    With Evennia's own AMP protocol the portal still works, and its startup
    info says which setting to change."""
    _, r = _run(
        tmp_path, WEB_TEST_STATIC_URL="https://cdn.example.com/static/", WEB_TEST_STOCK_AMP="1"
    )
    assert "AMP_SERVER_PROTOCOL_CLASS" in r["portal_errors"]
    assert "contrib_awsstorage.services.HoldingAMPServerProtocol" in r["portal_errors"]
    assert r["classes"]["amp_protocol"] == "AMPServerProtocol"
    assert r["after_stop_server"] == 200
    assert r["classes"]["static"] == "StaticRedirect"
    assert r["static"][0] == 302
    assert r["static_location"] == "https://cdn.example.com/static/app.css"
    assert r["echo"] == [200, "127.0.0.2"] and r["slow"] == [200, "slept"]
