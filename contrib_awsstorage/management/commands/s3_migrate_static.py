"""``s3_migrate_static``: a fast, incremental, parallel sync of local static files to S3.

A thin shell over :mod:`contrib_awsstorage.sync`: it picks the source and the
storage, shows progress, prints the summary and maps the outcome to an exit
status (0 success, 1 some file failed, 2 bad configuration).

A game whose ``collectstatic`` goes straight to S3 never writes
``STATIC_ROOT``; without ``--source`` the command then syncs what
``collectstatic`` would collect (Django's staticfiles finders, through
:func:`contrib_awsstorage.sync.collect.collect`, the same code path).
"""

from __future__ import annotations

import gc
import json
import os
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError

from contrib_awsstorage.humanize import human_bytes
from contrib_awsstorage.s3.errors import S3AccessDenied, S3ConfigurationError, S3StorageError
from contrib_awsstorage.sync import SyncOptions, check_sync_storage, sync_directory
from contrib_awsstorage.sync.collect import PostProcessError, collect, find_static_files
from contrib_awsstorage.sync.timings import process_age

EXIT_FAILED, EXIT_CONFIG = 1, 2
FINDERS = "finders"


@dataclass(frozen=True)
class Source:
    """Where the files come from: a local ``folder``, or the staticfiles
    finders when ``folder`` is None; ``alias`` is the storage they go to and
    ``label`` says which source was used, for the output."""

    folder: str | None
    alias: str
    label: str


def add_invalidation_arguments(parser):
    parser.add_argument(
        "--no-invalidate",
        action="store_true",
        help="Do not invalidate changed files at the CloudFront distribution "
        "(AWS_CLOUDFRONT_DISTRIBUTION_ID).",
    )
    parser.add_argument(
        "--wait", action="store_true", help="Wait until the CloudFront invalidation has completed."
    )


def invalidation_failure(report) -> str | None:
    """One line for a failed invalidation (the upload stays; the next run retries)."""
    invalidation = report.invalidation or {}
    if invalidation.get("error") or invalidation.get("status") == "failed":
        return (
            f"the files were uploaded, but invalidating {len(invalidation.get('paths') or ())} "
            f"CloudFront path(s) failed: {invalidation.get('error')}"
        )
    return None


class BarStream:
    """A command's output wrapper as tqdm's ``file``: what tqdm writes goes out
    as is (an OutputWrapper would end each redraw with a newline and colour it)."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, style_func=lambda plain: plain, ending="")

    def flush(self) -> None:
        self.wrapper.flush()

    def fileno(self) -> int:
        """The terminal's descriptor (OutputWrapper forwards it): tqdm reads its width."""
        return self.wrapper.fileno()


def progress_bar(total: int, wrapper, enabled: bool):
    """A tqdm bar on the command's ``wrapper`` (its stderr) when ``enabled``
    (a terminal), else ``None``."""
    if not enabled or not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, file=BarStream(wrapper), unit="file", dynamic_ncols=True, leave=False)


class FrozenHeapMixin:
    """Run as a program (``manage.py``/``evennia``, not ``call_command``), the
    command freezes the heap it starts with (Django, boto3 models) so the
    garbage collector neither rescans it during the sync nor at exit: that
    rescan is about half a second of a no-op run's wall time. Only then is
    the process's age its start-up (``start_up()``, for the sync's timings)."""

    as_program = False

    def start_up(self) -> float | None:
        """Seconds from the process start to now, when run as a program."""
        return process_age() if self.as_program else None

    def run_from_argv(self, argv):
        self.as_program = True
        gc.freeze()
        try:
            return super().run_from_argv(argv)
        finally:
            gc.freeze()


class Command(FrozenHeapMixin, BaseCommand):
    help = (
        "Sync static files (STATIC_ROOT, or what collectstatic would collect when there is "
        "no STATIC_ROOT folder) or uploads (MEDIA_ROOT) to S3: only changed files are "
        "uploaded, in parallel; prints a summary."
    )
    # The sync validates what it needs itself and exits 2 with the fix; other
    # apps' system check errors must not turn a bad setting into exit 1.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            default=None,
            metavar="static|finders|media|PATH",
            help="'static' (STATIC_ROOT → the staticfiles storage), 'finders' (what "
            "collectstatic would collect → the staticfiles storage), 'media' (MEDIA_ROOT → "
            "the default storage) or a folder (→ the staticfiles storage). Default: "
            "STATIC_ROOT if it is an existing folder, else the finders.",
        )
        parser.add_argument(
            "-i",
            "--ignore",
            action="append",
            default=[],
            dest="ignore_patterns",
            metavar="PATTERN",
            help="With the finders: ignore files, directories or paths matching this "
            "glob-style pattern (as collectstatic). Use multiple times to ignore more.",
        )
        parser.add_argument(
            "--no-default-ignore",
            action="store_false",
            dest="use_default_ignore_patterns",
            help="With the finders: don't ignore the common private glob-style patterns "
            "(as collectstatic).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Plan only; change nothing.")
        parser.add_argument(
            "--delete",
            action="store_true",
            help="Delete remote files under the storage's prefix that are not in "
            "the source (only after every upload succeeded).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Upload every file even if unchanged (headers changed in the settings need no --force: the sync re-tags them in place).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Parallel uploads (default: AWS_S3_SYNC_WORKERS or 16).",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the summary as one JSON object (no progress bar).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        add_invalidation_arguments(parser)

    def _source(self, source: str | None) -> Source:
        """The :class:`Source` for --source, or CommandError(2) naming the setting and the fix."""
        if source is None:
            root = getattr(settings, "STATIC_ROOT", None)
            if root and os.path.isdir(os.fspath(root)):
                return Source(os.fspath(root), "staticfiles", f"STATIC_ROOT ({os.fspath(root)})")
            why = f"STATIC_ROOT ({os.fspath(root)}) is not a folder" if root else "no STATIC_ROOT"
            return Source(None, "staticfiles", f"the staticfiles finders ({why})")
        if source == FINDERS:
            return Source(None, "staticfiles", "the staticfiles finders")
        if source in ("static", "media"):
            setting, alias = (
                ("STATIC_ROOT", "staticfiles") if source == "static" else ("MEDIA_ROOT", "default")
            )
            root = getattr(settings, setting, None)
            if not root:
                raise CommandError(
                    f"{setting} is not set, so --source {source} has no folder to sync. "
                    f"Fix: set {setting} in your settings, or pass --source PATH"
                    + (
                        " (or leave --source out to sync the finders)."
                        if alias != "default"
                        else "."
                    ),
                    returncode=EXIT_CONFIG,
                )
        else:
            root, setting, alias = source, None, "staticfiles"
        root = os.fspath(root)
        if not os.path.isdir(root):
            what = f"{setting} ({root})" if setting else f"--source {root}"
            fix = {
                "STATIC_ROOT": "leave --source out (or pass --source finders) to sync what "
                "collectstatic would collect, or point STATIC_ROOT at your files",
                "MEDIA_ROOT": "point MEDIA_ROOT at your uploads",
            }.get(setting, "give an existing folder, or 'static', 'finders' or 'media'")
            raise CommandError(
                f"{what} is not an existing folder. Fix: {fix}.", returncode=EXIT_CONFIG
            )
        return Source(root, alias, f"{setting} ({root})" if setting else root)

    def _ignore_patterns(self, options, source: Source) -> list[str]:
        """collectstatic's ignore patterns (its defaults unless --no-default-ignore)."""
        if source.folder is not None:
            if options["ignore_patterns"] or not options["use_default_ignore_patterns"]:
                raise CommandError(
                    f"--ignore and --no-default-ignore apply to the finders only, not to "
                    f"{source.label}. Fix: drop them, or pass --source finders.",
                    returncode=EXIT_CONFIG,
                )
            return []
        patterns = list(options["ignore_patterns"])
        if options["use_default_ignore_patterns"]:
            patterns += apps.get_app_config("staticfiles").ignore_patterns
        return sorted({os.path.normpath(p) for p in patterns})

    def handle(self, *args, **options):
        if options["workers"] is not None and options["workers"] < 1:
            raise CommandError("--workers must be at least 1.", returncode=EXIT_CONFIG)
        source = self._source(options["source"])
        ignore_patterns = self._ignore_patterns(options, source)
        try:
            storage = check_sync_storage(storages[source.alias], source.alias)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc), returncode=EXIT_CONFIG) from exc

        show_bar = not (options["json"] or options["no_progress"]) and self.stderr.isatty()
        state = {"bar": None}

        def on_plan(uploads, deletes):
            state["bar"] = progress_bar(uploads + deletes, self.stderr, show_bar)

        def progress(name, outcome):
            if state["bar"] is not None:
                state["bar"].update(1)

        sync_options = SyncOptions(
            delete=options["delete"],
            dry_run=options["dry_run"],
            force=options["force"],
            workers=options["workers"],
            on_plan=on_plan,
            command="s3_migrate_static",
            source=options["source"] or ("static" if source.folder else FINDERS),
            invalidate=not options["no_invalidate"],
            wait=options["wait"],
            start_up=self.start_up(),
        )
        duplicates = []
        try:
            if source.folder is not None:
                report = sync_directory(storage, source.folder, sync_options, progress)
            else:
                report, duplicates = self._sync_finders(
                    storage, ignore_patterns, sync_options, progress
                )
        except (S3ConfigurationError, S3AccessDenied, ImproperlyConfigured) as exc:
            raise CommandError(str(exc), returncode=EXIT_CONFIG) from exc
        except (S3StorageError, PostProcessError) as exc:
            raise CommandError(str(exc), returncode=EXIT_FAILED) from exc
        finally:
            if state["bar"] is not None:
                state["bar"].close()

        if options["json"]:
            summary = {**report.summary(), "source": source.label}
            self.stdout.write(json.dumps(summary, sort_keys=True))
        else:
            self.stdout.write(f"Source: {source.label}.")
            if options["verbosity"] >= 2:
                for name in duplicates:
                    self.stdout.write(f"ignored {name}: an earlier finder has the same path")
            self._print_summary(report, storage, options)
        if report.failures:
            raise CommandError(
                f"{len(report.failures)} file(s) failed; nothing was deleted. "
                "Fix the cause above and run the command again.",
                returncode=EXIT_FAILED,
            )
        failed = invalidation_failure(report)
        if failed:
            raise CommandError(failed, returncode=EXIT_FAILED)

    def _sync_finders(self, storage, ignore_patterns, sync_options, progress):
        """Sync what collectstatic would collect, through collectstatic's own
        :func:`collect` (a manifest storage is hashed locally, as there)."""
        if sync_options.delete and not find_static_files(ignore_patterns)[0]:
            raise CommandError(
                "the staticfiles finders found no files, so --delete would remove every "
                "static file in the bucket. Fix: check STATICFILES_DIRS, STATICFILES_FINDERS "
                "and INSTALLED_APPS, or pass --source PATH.",
                returncode=EXIT_CONFIG,
            )
        result = collect(
            storage,
            ignore_patterns=ignore_patterns,
            dry_run=sync_options.dry_run,
            progress=progress,
            options=sync_options,
        )
        return result.report, result.duplicates

    def _print_summary(self, report, storage, options):
        for name, error in report.failures:
            self.stderr.write(f"FAILED {name}: {error}")
        for warning in report.warnings:
            self.stderr.write(f"WARNING: {warning}")
        if options["verbosity"] >= 2:
            for name in sorted(report.uploaded):
                self.stdout.write(f"{'would upload' if report.dry_run else 'uploaded'} {name}")
            for key in report.deleted:
                self.stdout.write(f"{'would delete' if report.dry_run else 'deleted'} {key}")
        verb = "Dry run, would have" if report.dry_run else "Done:"
        target = f"s3://{storage.bucket_name}/{storage.location or ''}".rstrip("/")
        self.stdout.write(
            f"{verb} uploaded {len(report.uploaded)}, unchanged {report.unchanged}, "
            f"{f'metadata updated {n}, ' if (n := len(report.metadata_updated)) else ''}"
            f"deleted {len(report.deleted)}, failed {len(report.failures)} "
            f"({human_bytes(report.bytes)}, {report.seconds:.2f} s, {report.requests} requests) "
            f"to {target}."
        )
        if report.kept:
            self.stdout.write(
                f"{len(report.kept)} older hashed file(s) kept for cached pages "
                "(AWS_S3_SYNC_KEEP_GENERATIONS / AWS_S3_SYNC_KEEP_SECONDS)."
            )
        if report.invalidation:
            inv = report.invalidation
            self.stdout.write(
                f"CloudFront invalidation {inv['id'] or '-'}: {len(inv['paths'])} "
                f"path(s), {inv['status']}."
            )
        if report.stale and not options["delete"]:
            self.stdout.write(
                f"{len(report.stale)} remote file(s) are not in the source; --delete removes them."
            )
