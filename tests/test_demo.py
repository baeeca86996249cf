"""`make demo`: its storage-level job runs unattended and its URLs serve the
files; the game demo prints to a pipe at once and uses Evennia's admin
variables."""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from demo.evennia_game import DemoGame, S3Target
from demo.telnet_client import TelnetSession

ROOT = Path(__file__).resolve().parent.parent


def test_storage_demo_check_uploads_and_serves_every_file():
    result = subprocess.run(
        [sys.executable, str(ROOT / "demo" / "storage_demo.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ok_lines = [l for l in result.stdout.splitlines() if l.startswith("OK   200")]
    assert len(ok_lines) == 4, result.stdout
    assert "FAIL" not in result.stdout


# -- make demo: the real game, its output in a pipe ---------------------------------

ENV_ADMIN = ("pipe-admin", "Pipe-Pass-4821-not-the-default")


def _read_lines_into(stream, lines: "queue.Queue"):
    for line in iter(stream.readline, ""):
        lines.put((time.monotonic(), line.rstrip("\n")))
    lines.put((time.monotonic(), None))


def _until(lines, seen, pattern, deadline):
    """Read lines (kept in ``seen``) until one matches ``pattern``; returns the match."""
    while True:
        left = deadline - time.monotonic()
        try:
            at, line = lines.get(timeout=max(0.1, left))
        except queue.Empty:
            line = ""
        if line is None or left <= 0:
            raise AssertionError(
                f"no line matching {pattern!r} in time; output so far:\n" + "\n".join(seen)
            )
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return at, match


@pytest.mark.evennia
def test_game_demo_banner_reaches_a_pipe_at_once_and_uses_evennias_admin_variables(tmp_path):
    """``make demo`` with its output in a pipe (no PYTHONUNBUFFERED): each
    step and the banner arrive while it runs, and the admin account is the
    one EVENNIA_SUPERUSER_USERNAME/PASSWORD name (login over telnet)."""
    user, password = ENV_ADMIN
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONUNBUFFERED", "AWS_STORAGE_BUCKET_NAME")
    }
    env.update(EVENNIA_SUPERUSER_USERNAME=user, EVENNIA_SUPERUSER_PASSWORD=password)
    game_dir = tmp_path / "pipegame"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "demo" / "game_demo.py"),
            "--game-dir",
            str(game_dir),
            "--free-ports",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    lines, seen = queue.Queue(), []
    threading.Thread(target=_read_lines_into, args=(proc.stdout, lines), daemon=True).start()
    try:
        deadline = time.monotonic() + 300
        first_at, _ = _until(lines, seen, r"^S3: ", deadline)
        up_at, _ = _until(lines, seen, r"^- Starting Evennia .* done", deadline)
        _, telnet = _until(lines, seen, r"Telnet: +telnet 127\.0\.0\.1 (\d+)", deadline)
        _, admin = _until(lines, seen, r"Admin login: +(.*)$", deadline)
        _until(lines, seen, r"Stop: +Ctrl-C", deadline)
        assert proc.poll() is None, "the banner came only when the demo ended"
        assert first_at < up_at  # its first line came while the game was still being made
        assert admin[1] == f"{user} / (EVENNIA_SUPERUSER_PASSWORD)"
        assert password not in "\n".join(seen)  # named, never printed

        with TelnetSession("127.0.0.1", int(telnet[1])) as session:
            session.login(
                user, password
            )  # times out unless the env account exists with that password
            out = session.command(
                "@awsstatus", until=r"(?s)Web server.*(pending|disabled)", timeout=60
            )
        assert "reachable" in out.lower()

        proc.send_signal(signal.SIGTERM)  # as Ctrl-C: a clean stop
        assert proc.wait(timeout=150) == 0
        _until(lines, seen, r"^Stopped\.$", time.monotonic() + 10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        if (game_dir / "server" / "server.pid").exists() or (
            game_dir / "server" / "portal.pid"
        ).exists():
            DemoGame(game_dir, S3Target(None, "unused")).stop()  # never leave a game running
