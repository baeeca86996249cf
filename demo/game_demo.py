"""The main job: a real Evennia game with its web side on S3.

Sets up (or reuses) ``demo_game/`` beside this repo, starts the embedded S3
server on loopback (or uses your real bucket when ``AWS_STORAGE_BUCKET_NAME``
is in the environment), configures the game with this contrib, migrates,
creates the admin account, starts Evennia and prints where everything is.
Runs until Ctrl-C, then stops Evennia and the S3 server.

``--check`` runs unattended instead: start, verify, reload, verify, stop;
exit status 0 when everything worked, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS, DEFAULT_REGION, EmbeddedS3  # noqa: E402
from demo.evennia_game import DemoGame, Ports, S3Target, admin_from_env  # noqa: E402
from demo.telnet_client import TelnetSession  # noqa: E402

DEMO_BUCKET = "evennia-demo"


def s3_target_from_env(embedded: EmbeddedS3 | None) -> S3Target:
    if embedded is None:
        return S3Target(
            endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL"),
            bucket=os.environ["AWS_STORAGE_BUCKET_NAME"],
            region=os.environ.get(
                "AWS_S3_REGION_NAME", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
            ),
            custom_domain=os.environ.get("AWS_S3_CUSTOM_DOMAIN"),
        )
    embedded.create_bucket(DEMO_BUCKET, public_read=True)
    return S3Target(
        endpoint_url=embedded.endpoint_url,
        bucket=DEMO_BUCKET,
        region=DEFAULT_REGION,
        access_key=DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_key=DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def static_urls_of(html: str) -> list[str]:
    return sorted(
        set(re.findall(r'(?:src|href)="([^"]+\.(?:css|js|svg|png|ico|jpg|woff2?))"', html))
    )


def game_asset_urls(html: str, s3: S3Target) -> list[str]:
    """The page's own assets: relative or S3 URLs (anything else is a
    third-party link, which ``verify`` reports)."""
    return [
        u
        for u in static_urls_of(html)
        if u.startswith(s3.public_base)
        or not re.match(r"^(https?:)?//", u)
        or re.match(r"^https?://(127\.0\.0\.1|localhost)[:/]", u)
    ]


def verify(game: DemoGame, s3: S3Target) -> list[str]:
    """What is wrong with the running game (empty list: all good)."""
    problems = []
    with urllib.request.urlopen(game.website_url, timeout=15) as resp:
        html = resp.read().decode()
    assets = game_asset_urls(html, s3)
    if not assets:
        problems.append("the home page references no static files")
    live_html = re.sub(r"<!--.*?-->", "", html, flags=re.S)  # commented-out links load nothing
    for url in sorted(set(static_urls_of(live_html)) - set(assets)):
        problems.append(f"{url} is linked from a third-party host, not the game's static files")
    for url in assets:
        if not url.startswith(s3.public_base):
            problems.append(f"{url} is not served from S3 ({s3.public_base})")
            continue
        try:
            with urllib.request.urlopen(url, timeout=15) as resp:
                if resp.status != 200:
                    problems.append(f"{url}: HTTP {resp.status}")
        except OSError as exc:
            problems.append(f"{url}: {exc}")
    try:
        with TelnetSession("127.0.0.1", game.ports.telnet) as tn:
            tn.login(game.admin_user, game.admin_password)
            out = tn.command("@awsstatus", until=r"(?s)Web server.*(pending|disabled)", timeout=30)
        if "reachable" not in out.lower():
            problems.append("@awsstatus did not report the bucket state:\n" + out[-800:])
    except (OSError, TimeoutError) as exc:
        problems.append(f"@awsstatus over telnet failed: {exc}")
    return problems


def admin_line(game: DemoGame, from_env: bool, db_existed: bool) -> str:
    if from_env:  # the user's own password: named, not printed
        line = f"{game.admin_user} / (EVENNIA_SUPERUSER_PASSWORD)"
    else:
        line = (
            f"{game.admin_user} / {game.admin_password}   (set EVENNIA_SUPERUSER_USERNAME and "
            "EVENNIA_SUPERUSER_PASSWORD to choose)"
        )
    if db_existed:
        line += f"\n                  (made on this game's first run; delete {game.game_dir.name}/ to make it anew)"
    return line


def banner(game: DemoGame, s3: S3Target, admin: str) -> str:
    return f"""
  contrib_awsstorage demo is running
  ----------------------------------
  Website:        {game.website_url}
  Webclient:      {game.webclient_url}
  Telnet:         telnet 127.0.0.1 {game.ports.telnet}
  Admin login:    {admin}
  Static files:   {s3.public_base}/static/   (bucket {s3.bucket!r}{", embedded S3" if s3.access_key else ""})
  Media files:    {s3.public_base}/media/
  Try in game:    @awsstatus    (and @awsstatus/check)
  Stop:           Ctrl-C
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="start, verify, reload, verify, stop; exit 0/1"
    )
    parser.add_argument("--game-dir", type=Path, default=ROOT / "demo_game")
    parser.add_argument(
        "--free-ports", action="store_true", help="use free ports instead of Evennia's defaults"
    )
    args = parser.parse_args(argv)
    # a pipe or a file gets each line as it is printed (the banner at once)
    sys.stdout.reconfigure(line_buffering=True)

    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops as cleanly as Ctrl-C
    use_real_aws = bool(os.environ.get("AWS_STORAGE_BUCKET_NAME"))
    embedded = (
        None
        if use_real_aws
        else EmbeddedS3("127.0.0.1", int(os.environ.get("DEMO_S3_PORT", "0"))).start()
    )
    ports = Ports.free() if (args.free_ports or args.check) else Ports()
    game = None
    try:
        s3 = s3_target_from_env(embedded)
        print(f"S3: {s3.endpoint_url or 'AWS'} bucket {s3.bucket!r}", flush=True)
        user, password, from_env = admin_from_env()
        game = DemoGame(args.game_dir, s3, ports=ports, admin_user=user, admin_password=password)
        db_existed = (game.game_dir / "server" / "evennia.db3").exists()
        if embedded is not None:  # the README's CORS rule, for the game's origins
            embedded.allow_browser_origins(DEMO_BUCKET, game.browser_origins)
        step("Creating the game directory", game.ensure_created)
        step("Configuring it for contrib_awsstorage", game.configure)
        game.stop()  # a leftover game from an interrupted run
        step("Migrating the database", game.migrate)
        step("Starting Evennia (collectstatic uploads to S3)", game.start)
        if args.check:
            return run_check(game, s3)
        print(banner(game, s3, admin_line(game, from_env, db_existed)), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            # one Ctrl-C is enough: let the clean stop below finish
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("\nStopping Evennia and the S3 server ...", flush=True)
        return 0
    finally:
        if game is not None:
            game.stop()
        if embedded is not None:
            embedded.stop()
        print("Stopped.", flush=True)


def _interrupt(*_):
    raise KeyboardInterrupt


def step(title: str, func) -> None:
    started = time.monotonic()
    print(f"- {title} ...", end="", flush=True)
    func()
    print(f" done ({time.monotonic() - started:.1f}s)", flush=True)


def run_check(game: DemoGame, s3: S3Target) -> int:
    problems = verify(game, s3)
    step("Reloading Evennia", game.reload)
    problems += verify(game, s3)
    for p in problems:
        print(f"FAIL {p}")
    print("demo check: " + ("OK" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
