"""``collectstatic`` that syncs instead of copying file by file when the
``staticfiles`` storage is one of ours (any other storage: Django's command,
unchanged).

Django picks the command of the app listed *first* in ``INSTALLED_APPS``,
so ``"contrib_awsstorage"`` must come before ``"django.contrib.staticfiles"``.

Evennia's launcher runs ``collectstatic`` before every start and reload
(``call_command``, verbosity 0). If S3 cannot be reached then, this prints one
warning line and returns, so the game still starts; run directly, the command
fails with a non-zero exit. The launcher is recognised by public means only:
``sys.argv`` (the ``evennia`` program with an action such as ``reload``) and
Django's ``run_from_argv`` (called only when the command itself was typed).
"""

from __future__ import annotations

import socket
import sys
from pathlib import PureWindowsPath
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as DjangoCollectstatic,
)
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.core.management.base import CommandError

from contrib_awsstorage.management.commands.s3_migrate_static import (
    FrozenHeapMixin,
    add_invalidation_arguments,
    invalidation_failure,
)
from contrib_awsstorage.s3.errors import S3StorageError
from contrib_awsstorage.sync import check_sync_storage, is_sync_storage
from contrib_awsstorage.sync.collect import PostProcessError

LAUNCHER_MODULE = "evennia.server.evennia_launcher"
# The launcher's actions that run collectstatic first ("menu" offers start and reload).
LAUNCHER_ACTIONS = frozenset(
    {"start", "reload", "restart", "reboot", "istart", "sstart", "ipstart", "menu"}
)
PROBE_TIMEOUT = 3.0


def is_evennia_program(program: str) -> bool:
    """``evennia`` (any suffix: ``.exe``, ``-script.py``, ``evennia_launcher.py``)
    or ``python -m evennia`` (``.../evennia/__main__.py``)."""
    parts = PureWindowsPath(program).parts  # splits on "/" and on "\\"
    if not parts:
        return False
    if parts[-1] == "__main__.py":
        return parts[-2:-1] == ("evennia",)
    return parts[-1].startswith("evennia")


def launched_by_evennia(argv=None, modules=None) -> bool:
    """True when this process is Evennia's launcher doing start/reload/...: the
    program is ``evennia``, its launcher module is loaded, and the command line
    names one of those actions. (A user typing ``evennia collectstatic`` reaches
    the command through Django's ``run_from_argv``, which ``Command`` tells apart.)"""
    argv = sys.argv if argv is None else argv
    modules = sys.modules if modules is None else modules
    return (
        bool(argv)
        and LAUNCHER_MODULE in modules
        and is_evennia_program(argv[0])
        and bool(LAUNCHER_ACTIONS & set(argv[1:]))
    )


def first_hop(client) -> str:
    """The URL a request of ``client`` connects to first: the proxy botocore
    would use (the storage's ``proxies`` or ``HTTPS_PROXY``/``HTTP_PROXY``,
    minus ``NO_PROXY``), else the endpoint itself."""
    from botocore.utils import get_environ_proxies

    endpoint = client.meta.endpoint_url
    proxies = client.meta.config.proxies or get_environ_proxies(endpoint)
    return proxies.get(urlsplit(endpoint).scheme) or endpoint


def probe_endpoint(client, timeout: float = PROBE_TIMEOUT) -> None:
    """Fail in seconds, not minutes of retries, when the endpoint (or the proxy
    in front of it) is unreachable."""
    url = first_hop(client)
    what = "the S3 endpoint" if url == client.meta.endpoint_url else "the proxy for the S3 endpoint"
    parts = urlsplit(url if "://" in url else f"http://{url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(
            f"cannot connect to {what} {parts.hostname}:{port} "
            f"({exc.strerror or exc}); check AWS_S3_ENDPOINT_URL, "
            "AWS_S3_REGION_NAME, the proxy settings (AWS_S3_PROXIES, HTTPS_PROXY) and the network"
        ) from exc


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class Command(FrozenHeapMixin, DjangoCollectstatic):
    help = (
        DjangoCollectstatic.help
        + " With an S3 storage of contrib_awsstorage: an incremental, parallel sync."
    )

    # Set by Django's run_from_argv: the command was typed, so failures fail.
    typed_on_command_line = False

    def add_arguments(self, parser):
        super().add_arguments(parser)
        add_invalidation_arguments(parser)

    def run_from_argv(self, argv):
        self.typed_on_command_line = True
        return super().run_from_argv(argv)

    def handle(self, **options):
        soft = not self.typed_on_command_line and launched_by_evennia()
        self._cdn = {
            "invalidate": not options.pop("no_invalidate", False),
            "wait": options.pop("wait", False),
        }
        try:
            storage = storages["staticfiles"]
        except ImproperlyConfigured as exc:
            if not soft:
                raise
            self.stderr.write(
                f"WARNING: static files were not collected: {one_line(exc)} "
                "The game starts anyway; fix this and run 'evennia collectstatic'."
            )
            return None
        if not is_sync_storage(storage):
            return super().handle(**options)  # not ours: Django's collectstatic, untouched
        self.set_options(**options)
        if self.symlink:
            raise CommandError(
                "--link cannot be used with an S3 storage (there is nothing local to "
                "link to). Fix: run collectstatic without --link."
            )
        target = f"s3://{storage.bucket_name}/{storage.location or ''}".rstrip("/")
        if self.interactive:
            self._confirm(target)
        try:
            check_sync_storage(storage)
            if soft:
                probe_endpoint(storage.connection)
            result = self._collect(storage)
        except (
            S3StorageError,
            ImproperlyConfigured,
            ClientError,
            BotoCoreError,
            OSError,
            PostProcessError,
        ) as exc:
            message = f"static files were not synced to {target}: {one_line(exc)}"
            if soft:
                self.stderr.write(
                    f"WARNING: {message} The game starts anyway; fix this and "
                    "run 'evennia collectstatic'."
                )
                return
            raise CommandError(message) from exc
        report = result.report
        for name in result.duplicates:
            self.log(
                f"Found another file with the destination path '{name}'. It will be ignored "
                "since only the first encountered file is collected.",
                level=1,
            )
        if report.failures:
            detail = "; ".join(f"{name}: {error}" for name, error in report.failures[:3])
            message = (
                f"{len(report.failures)} static file(s) failed to upload to {target}, so "
                f"nothing was deleted: {one_line(detail)}"
            )
            if soft:
                self.stderr.write(
                    f"WARNING: {message} The game starts anyway; fix this and run "
                    "'evennia collectstatic'."
                )
                return
            raise CommandError(message)
        failed = invalidation_failure(report)
        if failed:
            if soft:
                self.stderr.write(f"WARNING: {failed} The game starts anyway.")
                return
            raise CommandError(failed, returncode=1)
        return self._summary(result, target)

    def _collect(self, storage):
        from contrib_awsstorage.sync.collect import collect

        def progress(name, outcome):
            if outcome in ("uploaded", "deleted"):
                self.log(f"{'Copying' if outcome == 'uploaded' else 'Deleting'} '{name}'", level=2)

        return collect(
            storage,
            ignore_patterns=self.ignore_patterns,
            post_process=self.post_process,
            dry_run=self.dry_run,
            clear=self.clear,
            progress=progress,
            **self._cdn,
        )

    def _confirm(self, target):
        message = ["\n"]
        if self.dry_run:
            message.append(
                "You have activated the --dry-run option so no files will be modified.\n\n"
            )
        message.append(f"You have requested to collect static files to {target}.\n\n")
        message.append(
            "This will DELETE ALL OTHER FILES under that prefix!\n"
            if self.clear
            else "This will overwrite existing files!\n"
        )
        message.append(
            "Are you sure you want to do this?\n\nType 'yes' to continue, or 'no' to cancel: "
        )
        if input("".join(message)) != "yes":
            raise CommandError("Collecting static files cancelled.")

    def _summary(self, result, target):
        report = result.report
        if self.dry_run:
            for name in sorted(report.uploaded):
                self.log(f"Pretending to copy '{name}'", level=1)
        if self.verbosity < 1:
            return None
        action = "would be copied" if self.dry_run else "copied"
        parts = [
            f"{len(report.uploaded)} static file{'s' if len(report.uploaded) != 1 else ''} "
            f"{action} to '{target}'",
            f"{report.unchanged} unmodified",
        ]
        if report.deleted:
            parts.append(f"{len(report.deleted)} {'would be ' if self.dry_run else ''}deleted")
        if result.post_processed:
            parts.append(f"{len(result.post_processed)} post-processed")
        if report.kept:
            parts.append(f"{len(report.kept)} older hashed kept for cached pages")
        if report.invalidation:
            parts.append(
                f"CloudFront: {len(report.invalidation['paths'])} path(s) "
                f"{report.invalidation['status']}"
            )
        return "\n" + ", ".join(parts) + f" ({report.seconds:.2f} s, {report.requests} requests)."
