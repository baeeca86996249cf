"""``evennia reload`` wall time: a game with the contrib's storages on S3
against a vanilla game with local static files, side by side.

What a game admin feels: the launcher runs ``collectstatic`` before every
reload, so with S3 storages a reload that changes no static file still asks
the bucket. This bench makes two real games with ``evennia --init`` (the same
database and the same static files: Evennia's and the webclient libraries of
``demo/webclient_vendor``), on free loopback ports:

- **vanilla**: Evennia's stock settings, static files collected to the local
  ``STATIC_ROOT`` (Django's own ``collectstatic``);
- **contrib**: the demo's settings (``demo/evennia_game.py``): static and
  media on the embedded S3 server (moto, in this process, no added latency),
  the contrib's web service classes.

Each game is started once (its first collectstatic uploads everything), then
reloaded ``--reloads`` times, the two games in turns. Each reload is timed
twice: until ``evennia reload`` returns, and until the website answers 200
through the portal again. Medians side by side, and contrib / vanilla.

    python bench/reload_bench.py [--reloads 5]

Needs Evennia (``make bench`` installs it) and the webclient libraries
(``make webclient-assets``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contrib_awsstorage.embedded_s3 import DEFAULT_CREDENTIALS, DEFAULT_REGION, EmbeddedS3  # noqa: E402
from demo import webclient_vendor  # noqa: E402
from demo.evennia_game import DemoGame, Ports, S3Target, loopback_settings  # noqa: E402

BUCKET = "reload-bench"
_VANILLA_MARK = "# added by bench/reload_bench.py"


class VanillaGame(DemoGame):
    """The same game without the contrib: stock storages, services and apps;
    only loopback ports and the webclient libraries are added."""

    def configure(self) -> None:
        settings_py = self.game_dir / "server" / "conf" / "settings.py"
        text = settings_py.read_text()
        if _VANILLA_MARK not in text:
            settings_py.write_text(text + self.settings_text())
        webclient_vendor.install(self.game_dir)

    def settings_text(self) -> str:
        p = self.ports
        return f"""
{_VANILLA_MARK}: loopback ports only
{loopback_settings(p)}"""


def timed_reload(game: DemoGame) -> tuple[float, float]:
    """Seconds until ``evennia reload`` returns, and until the website answers."""
    started = time.perf_counter()
    game.evennia("reload", timeout=180)
    returned = time.perf_counter() - started
    game.wait_until_up()
    return returned, time.perf_counter() - started


def make_games(workdir: Path, s3: EmbeddedS3) -> dict[str, DemoGame]:
    target = S3Target(
        endpoint_url=s3.endpoint_url,
        bucket=BUCKET,
        region=DEFAULT_REGION,
        access_key=DEFAULT_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_key=DEFAULT_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    vanilla = VanillaGame(workdir / "vanilla", target, ports=Ports.free())
    vanilla.ensure_created()
    vanilla.migrate()  # once: the contrib game starts from a copy of this database
    shutil.copytree(vanilla.game_dir, workdir / "contrib", symlinks=True)
    contrib = DemoGame(workdir / "contrib", target, ports=Ports.free())
    games = {"vanilla (local static files)": vanilla, "contrib (S3 storages)": contrib}
    for game in games.values():
        game.configure()
    return games


def report(times: dict[str, list[tuple[float, float]]]) -> None:
    medians = {}
    print(f"{'':30} {'reload returns':>16} {'website answers':>16}   (median, min .. max s)")
    for name, runs in times.items():
        cols = []
        for i in (0, 1):
            values = [run[i] for run in runs]
            medians[name, i] = statistics.median(values)
            cols.append(f"{medians[name, i]:6.2f} ({min(values):.2f}..{max(values):.2f})")
        print(f"{name:30} {cols[0]:>16} {cols[1]:>16}")
    vanilla, contrib = list(times)
    for i, what in ((0, "reload returns"), (1, "website answers")):
        ratio = medians[contrib, i] / medians[vanilla, i]
        print(f"contrib / vanilla, {what}: x{ratio:.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reloads", type=int, default=5, help="reloads per game (medians)")
    args = parser.parse_args(argv)
    if args.reloads < 1:
        parser.error("--reloads must be at least 1")
    webclient_vendor.ensure_node_modules()
    workdir = Path(tempfile.mkdtemp(prefix="reload-bench-"))
    s3 = EmbeddedS3("127.0.0.1", 0).start()
    games: dict[str, DemoGame] = {}
    try:
        s3.create_bucket(BUCKET, public_read=True)
        games = make_games(workdir, s3)
        for game in games.values():
            game.start()  # the contrib game's first collectstatic uploads everything
        print(
            f"{args.reloads} reloads per game, in turns; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a busy machine widens the spread)"
        )
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in games}
        for round_no in range(args.reloads):
            order = list(games) if round_no % 2 == 0 else list(reversed(games))
            for name in order:
                times[name].append(timed_reload(games[name]))
        report(times)
    finally:
        for game in games.values():
            game.stop()
        s3.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
