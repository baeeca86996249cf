"""A throwaway Evennia game wired to this contrib, for the demo and e2e tests.

``DemoGame`` makes (or reuses) a game directory with ``evennia --init``,
writes ``server/conf/awsstorage_settings.py`` (static and media on S3, our
web service classes, loopback-only ports), puts the website's and
webclient's libraries in its static files (``webclient_vendor``) and
drives the real launcher: migrate, start, reload, stop. Nothing here is a stand-in: the launcher,
portal and server are Evennia's own processes.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from demo import webclient_vendor

EVENNIA = [sys.executable, "-m", "evennia"]
SETTINGS_MODULE_NAME = "awsstorage_settings"
_IMPORT_LINE = (
    f"\n# added by the contrib_awsstorage demo\nfrom server.conf.{SETTINGS_MODULE_NAME} import *  # noqa\n"
    "# our app first, so its fast collectstatic replaces Django's\n"
    'INSTALLED_APPS = ["contrib_awsstorage"] + [a for a in INSTALLED_APPS if a != "contrib_awsstorage"]\n'
)
_CMDSET_IMPORT = "from contrib_awsstorage.awsstatus import AwsStatusCmdSet\n"
_CMDSET_ADD = "        self.add(AwsStatusCmdSet)  # contrib_awsstorage: @awsstatus\n"


# Evennia's server log lines around the one restart after a new game's initial
# setup (evennia.server.initial_setup.reset_server).
_SETUP_RUNS = "Initial setup: "
_SETUP_DONE = "Initial setup complete. Restarting Server once."
_RESET_DONE = "successfully restarted in 'reset' mode"

DEFAULT_ADMIN_USER = "admin"
DEFAULT_ADMIN_PASSWORD = "demo-admin-pass"


def admin_from_env(environ=None) -> tuple[str, str, bool]:
    """``(user, password, from_env)``: Evennia's own ``EVENNIA_SUPERUSER_USERNAME``
    and ``EVENNIA_SUPERUSER_PASSWORD`` when set, else the demo's defaults."""
    environ = os.environ if environ is None else environ
    user = environ.get("EVENNIA_SUPERUSER_USERNAME") or DEFAULT_ADMIN_USER
    password = environ.get("EVENNIA_SUPERUSER_PASSWORD") or DEFAULT_ADMIN_PASSWORD
    from_env = any(
        environ.get(name) for name in ("EVENNIA_SUPERUSER_USERNAME", "EVENNIA_SUPERUSER_PASSWORD")
    )
    return user, password, from_env


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Ports:
    """The game's listening ports (all on loopback)."""

    telnet: int = 4000
    web: int = 4001
    websocket: int = 4002
    server_web: int = 4005
    amp: int = 4006

    @classmethod
    def free(cls) -> Ports:
        return cls(*(free_port() for _ in range(5)))


@dataclass
class S3Target:
    """Where the game's static and media files go."""

    endpoint_url: str | None  # None: real AWS
    bucket: str
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None
    custom_domain: str | None = None

    @property
    def public_base(self) -> str:
        if self.custom_domain:
            return f"http://{self.custom_domain}"
        if self.endpoint_url:
            return f"{self.endpoint_url}/{self.bucket}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com"


def loopback_settings(p) -> str:
    """Evennia's port settings for ports ``p`` (a ``Ports``), every one on loopback."""
    return f"""TELNET_PORTS = [{p.telnet}]
TELNET_INTERFACES = ["127.0.0.1"]
WEBSERVER_PORTS = [({p.web}, {p.server_web})]
WEBSERVER_INTERFACES = ["127.0.0.1"]
WEBSOCKET_CLIENT_PORT = {p.websocket}
WEBSOCKET_CLIENT_INTERFACE = "127.0.0.1"
WEBSOCKET_CLIENT_URL = "ws://127.0.0.1:{p.websocket}"
AMP_PORT = {p.amp}
"""


@dataclass
class DemoGame:
    game_dir: Path
    s3: S3Target
    ports: Ports = field(default_factory=Ports)
    admin_user: str = DEFAULT_ADMIN_USER
    admin_password: str = DEFAULT_ADMIN_PASSWORD
    extra_settings: str = ""
    drain_timeout: float = 10.0

    # -- set-up -----------------------------------------------------------
    def ensure_created(self) -> None:
        """``evennia --init`` the game directory if it is not there yet."""
        if (self.game_dir / "server" / "conf" / "settings.py").exists():
            return
        self.game_dir.parent.mkdir(parents=True, exist_ok=True)
        self._run([*EVENNIA, "--init", self.game_dir.name], cwd=self.game_dir.parent)

    def configure(self) -> None:
        """Write our settings module and hook it and the cmdset into the game."""
        conf = self.game_dir / "server" / "conf"
        (conf / f"{SETTINGS_MODULE_NAME}.py").write_text(self.settings_text())
        settings_py = conf / "settings.py"
        text = settings_py.read_text()
        if SETTINGS_MODULE_NAME not in text:
            settings_py.write_text(text + _IMPORT_LINE)
        self._add_cmdset()
        webclient_vendor.install(self.game_dir)

    def settings_text(self) -> str:
        s3, p = self.s3, self.ports
        common = {
            "bucket_name": s3.bucket,
            "region_name": s3.region,
        }
        if s3.endpoint_url:
            common.update(endpoint_url=s3.endpoint_url, addressing_style="path")
        if s3.custom_domain:
            common["custom_domain"] = s3.custom_domain
        static_opts = {**common, "location": "static"}
        media_opts = {**common, "location": "media"}
        creds = ""
        if s3.access_key:
            creds = f"AWS_ACCESS_KEY_ID = {s3.access_key!r}\nAWS_SECRET_ACCESS_KEY = {s3.secret_key!r}\n"
        return f'''"""contrib_awsstorage settings, written by the demo (rewritten every run)."""
STORAGES = {{
    "default": {{
        "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage",
        "OPTIONS": {media_opts!r},
    }},
    "staticfiles": {{
        "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
        "OPTIONS": {static_opts!r},
    }},
}}
STATIC_URL = {s3.public_base + "/static/"!r}
MEDIA_URL = {s3.public_base + "/media/"!r}
AWS_QUERYSTRING_AUTH = False
{creds}
# The reload-safe web layer.
EVENNIA_SERVER_SERVICE_CLASS = "contrib_awsstorage.services.AWSStorageServerService"
EVENNIA_PORTAL_SERVICE_CLASS = "contrib_awsstorage.services.AWSStoragePortalService"
AMP_SERVER_PROTOCOL_CLASS = "contrib_awsstorage.services.HoldingAMPServerProtocol"
AWSSTORAGE_WEB_DRAIN_TIMEOUT = {self.drain_timeout!r}

# Loopback only: this is a demo.
{loopback_settings(p)}SERVERNAME = "contrib_awsstorage demo"
{self.extra_settings}
'''

    def add_slow_view(self) -> None:
        """A ``/_slow/<seconds>/`` page, to have a request in flight during a reload."""
        web = self.game_dir / "web"
        (web / "awsstorage_slow.py").write_text(
            "import time\nfrom django.http import HttpResponse\n\n\n"
            "def slow(request, seconds):\n"
            "    time.sleep(float(seconds))\n"
            "    return HttpResponse(f'slept {seconds}', content_type='text/plain')\n"
        )
        urls = web / "urls.py"
        text = urls.read_text()
        line = (
            "\nfrom django.urls import re_path as _re_path  # contrib_awsstorage demo\n"
            "from web.awsstorage_slow import slow as _slow\n"
            "urlpatterns = [_re_path(r'^_slow/(?P<seconds>[0-9.]+)/$', _slow)] + urlpatterns\n"
        )
        if "awsstorage_slow" not in text:
            urls.write_text(text + line)

    def _add_cmdset(self) -> None:
        path = self.game_dir / "commands" / "default_cmdsets.py"
        text = path.read_text()
        if _CMDSET_IMPORT in text:
            return
        marker = "class CharacterCmdSet"
        head, sep, tail = text.partition(marker)
        # add after the first super().at_cmdset_creation() inside CharacterCmdSet
        tail = re.sub(r"(super\(\)\.at_cmdset_creation\(\)\n)", r"\1" + _CMDSET_ADD, tail, count=1)
        path.write_text(_CMDSET_IMPORT + head + sep + tail)

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            EVENNIA_SUPERUSER_USERNAME=self.admin_user,
            EVENNIA_SUPERUSER_PASSWORD=self.admin_password,
            EVENNIA_SUPERUSER_EMAIL="admin@example.com",
            PYTHONUNBUFFERED="1",
            # the launcher starts `twistd` by name: the venv's must be on PATH
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        )
        return env

    # -- launcher ---------------------------------------------------------
    def _run(self, cmd, cwd=None, timeout=180, check=True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            cmd,
            cwd=cwd or self.game_dir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(map(str, cmd[2:]))} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def evennia(self, *args, timeout=180, check=True) -> subprocess.CompletedProcess:
        return self._run([*EVENNIA, *args], timeout=timeout, check=check)

    def migrate(self) -> None:
        result = self.evennia("migrate")
        if not (self.game_dir / "server" / "evennia.db3").exists():
            raise RuntimeError(
                f"evennia migrate made no database:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
            )

    def start(self) -> subprocess.CompletedProcess:
        log_before = len(self._server_log())
        result = self.evennia("start")
        try:
            self.wait_until_up()
        except TimeoutError:
            # On a loaded machine the launcher can give up on a slow portal
            # before it starts the server; asking again starts what is missing.
            result = self.evennia("start")
            self.wait_until_up()
        if _SETUP_RUNS in self._server_log()[log_before:]:
            self.wait_for_setup_restart(log_before)
        return result

    def wait_for_setup_restart(self, log_from: int = 0, timeout: float = 90) -> None:
        """A new game's server restarts once right after its initial setup; the
        website may answer just before, and a login then is cut ("Server
        restarted"). Up means up after that restart."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self._server_log()[log_from:]
            if _SETUP_DONE in log and _RESET_DONE in log.split(_SETUP_DONE, 1)[1]:
                self.wait_until_up(max(5.0, deadline - time.monotonic()))
                return
            time.sleep(0.3)
        raise TimeoutError(
            f"the game's server did not restart after its initial setup in {timeout}s:\n"
            f"{self.log_tail()}"
        )

    def _server_log(self) -> str:
        log = self.game_dir / "server" / "logs" / "server.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def reload(self, timeout: float = 120) -> subprocess.CompletedProcess:
        result = self.evennia("reload", timeout=timeout)
        self.wait_until_up()
        return result

    def stop(self) -> None:
        self.evennia("stop", check=False, timeout=120)

    def wait_until_up(self, timeout: float = 90) -> None:
        """Until the website answers 200 through the portal (server is up).

        A server error (500) that lasts is reported at once with the logs,
        instead of waiting out the whole timeout."""
        deadline = time.monotonic() + timeout
        last, first_500 = None, None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.website_url, timeout=5) as resp:
                    if resp.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = exc
                if exc.code == 500:
                    first_500 = first_500 or time.monotonic()
                    if time.monotonic() - first_500 > 10:
                        raise RuntimeError(
                            f"the game answers 500 at {self.website_url}:\n{self.log_tail()}"
                        ) from exc
            except OSError as exc:
                last = exc
            time.sleep(0.3)
        raise TimeoutError(
            f"game did not come up at {self.website_url} in {timeout}s: {last}\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name in ("server.log", "portal.log"):
            log = self.game_dir / "server" / "logs" / name
            if log.exists():
                out.append(
                    f"--- {name}\n"
                    + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                )
        return "\n".join(out)

    # -- addresses --------------------------------------------------------
    @property
    def website_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}/"

    @property
    def webclient_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}/webclient/"

    @property
    def browser_origins(self) -> list[str]:
        """The origins browsers see the game at (what the bucket's CORS rule allows)."""
        return [f"http://127.0.0.1:{self.ports.web}", f"http://localhost:{self.ports.web}"]

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.game_dir, ignore_errors=True)
