"""``@awsstatus``: the in-game view of the storages, the bucket and the web server.

Add ``AwsStatusCmdSet`` to your ``CharacterCmdSet`` (see the README). The
bucket figures come from the diagnostics engine's bounded, cached
snapshot; it runs off the reactor thread, so a slow or dead S3 endpoint
never stalls the game, and the command always answers. The web server
figures are read live from the web root this server process built.
"""

from __future__ import annotations

import time

from .evennia_extra import require_evennia

require_evennia(__name__)

from django.conf import settings
from evennia.commands.cmdset import CmdSet
from evennia.utils.evtable import EvTable
from evennia.utils.utils import class_from_module

from .humanize import human_bytes, human_duration
from .web.offreactor import call_bounded

COMMAND_DEFAULT_CLASS = class_from_module(settings.COMMAND_DEFAULT_CLASS)

SNAPSHOT_BUDGET = 8.0  # seconds the bucket probe may take
CHECK_BUDGET = 60.0  # seconds the full diagnostics may take


def _ago(epoch) -> str:
    if not epoch:
        return "never"
    return f"{human_duration(max(0, time.time() - float(epoch)))} ago"


def _table(title: str, rows, width: int | None = None) -> str:
    """A two-column table; ``width`` (the client's screen width) wraps long values."""
    table = EvTable(title, "", border="header", header_line_char="-", maxwidth=width)
    for key, value in rows:
        table.add_row(key, "" if value is None else str(value))
    return str(table)


def _sync_line(record) -> str:
    if not record:
        return "no sync recorded yet"
    when = record.get("finished_at") or record.get("started_at")
    if isinstance(when, str):
        try:
            from datetime import datetime

            when = datetime.fromisoformat(when).timestamp()
        except ValueError:
            when = None
    counts = ", ".join(
        f"{record.get(k, 0)} {k}" for k in ("uploaded", "unchanged", "deleted", "failed")
    )
    source = record.get("command") or record.get("source") or "sync"
    return f"{_ago(when)} by {source}: {counts}"


def storage_sections(snapshot: dict, width: int | None = None) -> list[str]:
    """One table per STORAGES alias: what it is, and the bucket's state."""
    from .diagnostics.credentials import credential_rows

    sections = []
    for entry in snapshot.get("storages", []):
        alias = entry.get("alias")
        if not entry.get("ours"):
            sections.append(
                _table(
                    f"Storage '{alias}'",
                    [
                        (
                            "backend",
                            f"{entry.get('backend')} (not ours: files stay where it puts them)",
                        ),
                    ],
                    width,
                )
            )
            continue
        if entry.get("reachable"):
            objects = entry.get("objects")
            count = f"{objects}" if entry.get("complete", True) else f"at least {objects}"
            state = "reachable"
        else:
            count = "?"
            state = f"UNREACHABLE: {entry.get('reason') or 'no answer'}"
        rows = [
            ("backend", entry.get("backend")),
            ("bucket", entry.get("bucket")),
            ("region", entry.get("region") or "(default)"),
            ("endpoint", entry.get("endpoint") or "AWS"),
            ("location", entry.get("location") or "(bucket root)"),
            ("URL base", entry.get("url_base") or entry.get("custom_domain") or "signed URLs"),
            *credential_rows(entry.get("credentials")),
            ("bucket state", state),
            *([("fix", entry["fix"])] if not entry.get("reachable") and entry.get("fix") else []),
            ("objects", count),
            ("total size", human_bytes(entry.get("bytes")) if entry.get("reachable") else "?"),
            ("last sync", entry.get("last_sync_error") or _sync_line(entry.get("last_sync"))),
        ]
        failures = (entry.get("last_sync") or {}).get("failures") or []
        if failures:
            rows.append(("sync failures", "; ".join(str(f) for f in failures[:3])))
        if (entry.get("last_sync") or {}).get("invalidation"):
            from contrib_awsstorage.sync.invalidate import describe

            rows.append(("CDN invalidation", describe(entry["last_sync"]["invalidation"])))
        sections.append(_table(f"Storage '{alias}'", rows, width))
    return sections


def web_section(web_root, width: int | None = None) -> str:
    """Live counters of this process's web root, or why there are none."""
    if web_root is None:
        return _table(
            "Web server",
            [
                (
                    "state",
                    "not running in this process (WEBSERVER_ENABLED off, or another service class)",
                ),
                ("pending", "n/a (web server disabled)"),
            ],
            width,
        )
    status = web_root.status()
    pool = status.get("pool", {})
    oldest = status.get("oldest_pending_age")
    if status.get("draining"):
        state = "DRAINING (new requests get 503)"
    elif pool.get("locked"):
        state = "locked"
    else:
        state = "serving"
    return _table(
        "Web server",
        [
            ("state", state),
            ("pending requests", status.get("pending", 0)),
            ("oldest pending", "-" if oldest is None else f"{oldest:.1f} s"),
            (
                "pool threads",
                f"{pool.get('busy', 0)} busy / {pool.get('idle', 0)} idle / {pool.get('max', 0)} max",
            ),
            ("queued work", pool.get("queued", 0)),
        ],
        width,
    )


def check_lines(results) -> str:
    """``s3_check``'s lines, with the fix under anything not OK."""
    lines = ["Diagnostics (as evennia s3_check):"]
    for result in results:
        lines.append(result.line())
        if result.fix and result.status != "OK":
            lines.append(f"      fix: {result.fix}")
    return "\n".join(lines)


class CmdAwsStatus(COMMAND_DEFAULT_CLASS):
    """
    Show the S3 storage, bucket and web server status.

    Usage:
      @awsstatus
      @awsstatus/refresh
      @awsstatus/check
      @awsstatus/check/write

    Switches:
      refresh - probe the bucket now instead of using the result of the
                last 30 seconds.
      check   - run the full diagnostics of 'evennia s3_check' and show
                each line with its fix (read-only).
      write   - with /check: also write, read and delete a probe object.

    Shows, for the staticfiles and default storages, whether they use this
    contrib, the bucket, region, endpoint, prefix and URL base; whether the
    bucket is reachable, how many objects and bytes it holds under the
    prefix and what the last sync did; and the web server's pending
    requests, their oldest age and the thread pool's load. S3 is asked off
    the game loop with a time bound, so the command answers even when S3
    is down.
    """

    key = "@awsstatus"
    aliases = ["awsstatus"]
    switch_options = ("refresh", "check", "write")
    locks = "cmd:perm(awsstatus) or perm(Admin)"
    help_category = "System"

    def func(self):
        if "check" in self.switches:
            self._run_check(write="write" in self.switches)
            return
        if "write" in self.switches:
            self.caller.msg("Use /write together with /check: @awsstatus/check/write")
            return
        self._show_status(refresh="refresh" in self.switches)

    # -- status -------------------------------------------------------------
    def _show_status(self, refresh: bool) -> None:
        from . import diagnostics

        def take():
            return diagnostics.snapshot(refresh=refresh, budget=SNAPSHOT_BUDGET)

        call_bounded(take, SNAPSHOT_BUDGET + 2, self._send_status, self._send_status_error)

    def _send_status(self, snapshot: dict) -> None:
        header = "|wAWS storage status|n"
        if snapshot.get("cached"):
            header += f" (bucket figures {snapshot.get('age', 0):.0f} s old; /refresh for new)"
        if snapshot.get("timed_out"):
            header += " (S3 did not answer in time)"
        width = self._width()
        self.caller.msg(
            "\n".join(
                [header, *storage_sections(snapshot, width), web_section(self._web_root(), width)]
            )
        )

    def _send_status_error(self, exc) -> None:
        from .s3.errors import scrub

        reason = scrub(f"{type(exc).__name__}: {exc}")
        self.caller.msg(
            "\n".join(
                [
                    "|wAWS storage status|n",
                    _table("Storages", [("bucket state", f"UNREACHABLE: {reason}")], self._width()),
                    web_section(self._web_root(), self._width()),
                ]
            )
        )

    def _width(self) -> int:
        """The caller's screen width (Evennia's default when run without a session)."""
        try:
            return self.client_width()
        except AttributeError:
            return settings.CLIENT_DEFAULT_WIDTH

    @staticmethod
    def _web_root():
        try:
            from .webserver import get_active_web_root
        except ImportError:  # pragma: no cover - Twisted is always there in a game
            return None
        return get_active_web_root()

    # -- diagnostics --------------------------------------------------------
    def _run_check(self, write: bool) -> None:
        from . import diagnostics

        self.caller.msg(
            "Running the S3 diagnostics%s ..." % (" (with a probe object)" if write else "")
        )
        call_bounded(
            lambda: diagnostics.run(write=write, budget=CHECK_BUDGET - 5),
            CHECK_BUDGET,
            lambda results: self.caller.msg(check_lines(results)),
            self._send_check_error,
        )

    def _send_check_error(self, exc) -> None:
        from .s3.errors import scrub

        self.caller.msg(f"The diagnostics did not finish: {scrub(f'{type(exc).__name__}: {exc}')}")


class AwsStatusCmdSet(CmdSet):
    """Holds ``@awsstatus``; add it to your CharacterCmdSet (or AccountCmdSet)."""

    key = "AwsStatusCmdSet"

    def at_cmdset_creation(self):
        self.add(CmdAwsStatus())
