"""``collectstatic`` as a sync: find the static files, post-process them
locally, then hand the result to the sync engine.

Django's own collectstatic asks the remote storage about every file (two
HEADs each) and, with a manifest storage, reads every file back from S3 to
hash it. Here the finders' files are staged in a temporary folder (symlinks,
no copies), a local twin of the target manifest storage hashes them and
writes ``staticfiles.json`` there, and one sync uploads what differs, the
manifest last. The hashed names are the same Django would have produced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.contrib.staticfiles.storage import HashedFilesMixin, ManifestStaticFilesStorage

from .engine import SyncOptions, SyncReport, sync
from .plan import walk_tree

__all__ = ["find_static_files", "collect", "CollectResult", "PostProcessError"]

# Settings of a manifest storage the local twin must share to hash the same way.
_MANIFEST_ATTRS = (
    "manifest_name",
    "manifest_strict",
    "keep_intermediate_files",
    "max_post_process_passes",
    "patterns",
    "support_js_module_import_aggregation",
)


class PostProcessError(ValueError):
    """A static file failed post-processing (say, a CSS file refers to an
    image that is not there). Names the file, and the referring line: Django
    6.1 notes it on the error, and the local twin does the same on 5.2/6.0."""

    def __init__(self, name: str, error: Exception):
        self.name = name
        notes = "\n".join(getattr(error, "__notes__", ()))
        super().__init__(
            f"post-processing '{name}' failed: {error}" + (f"\n{notes}" if notes else "")
        )


class _NotedReferences:
    """Like Django 6.1, note which file refers to a missing file, and on which
    line, on every Django version (6.1 notes it itself: noted only once)."""

    def url_converter(self, name, hashed_files, *args, **kwargs):
        convert = super().url_converter(name, hashed_files, *args, **kwargs)

        def converter(matchobj):
            try:
                return convert(matchobj)
            except ValueError as exc:
                if not getattr(exc, "__notes__", None):
                    line = _line_at(matchobj.string, matchobj.start())
                    exc.add_note(
                        f"{name!r} contains this reference {matchobj['matched']!r} on line {line}"
                    )
                raise

        return converter


def _line_at(content: str, position: int) -> str:
    """``"\\n<number>: <line>"`` (just the number when the line is long), as Django 6.1 puts it."""
    start = content.rfind("\n", 0, position) + 1
    end = content.find("\n", position)
    number = content.count("\n", 0, start) + 1
    text = f"\n{number}: {content[start : end if end != -1 else len(content)]}"
    return text if len(text) <= 79 else f"\n{number}"


@dataclass
class CollectResult:
    report: SyncReport
    post_processed: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def find_static_files(ignore_patterns) -> tuple[dict, list[str]]:
    """``({prefixed path: (finder storage, path)}, duplicates)``, first found wins (as Django)."""
    found, duplicates = {}, []
    for finder in get_finders():
        for path, storage in finder.list(ignore_patterns):
            prefix = getattr(storage, "prefix", None)
            prefixed = os.path.join(prefix, path) if prefix else path
            prefixed = prefixed.replace(os.sep, "/")
            if prefixed in found:
                duplicates.append(prefixed)
            else:
                found[prefixed] = (storage, path)
    return found, duplicates


def _stage(found: dict, folder: str) -> None:
    for prefixed, (storage, path) in found.items():
        target = os.path.join(folder, *prefixed.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.symlink(os.path.abspath(storage.path(path)), target)
        except (NotImplementedError, OSError):
            with storage.open(path) as source, open(target, "wb") as copy:
                shutil.copyfileobj(source, copy)


def _local_twin(target, folder: str):
    """A local manifest storage hashing exactly like ``target``."""
    attrs = {a: getattr(target, a) for a in _MANIFEST_ATTRS if hasattr(target, a)}
    # errors name the storage: name the user's, not this twin
    attrs["__repr__"] = lambda self: f"<{type(target).__name__} (hashed locally before the upload)>"
    twin_class = type(
        "LocalTwinManifestStorage", (_NotedReferences, ManifestStaticFilesStorage), attrs
    )
    return twin_class(location=folder, base_url=settings.STATIC_URL)


def _post_process(twin, names) -> list[str]:
    processed_names = []
    for original, _processed_path, processed in twin.post_process(
        {name: (twin, name) for name in names}, dry_run=False
    ):
        if isinstance(processed, Exception):
            raise PostProcessError(original, processed) from processed
        if processed:
            processed_names.append(original)
    return processed_names


def collect(
    storage,
    *,
    ignore_patterns=(),
    post_process: bool = True,
    dry_run: bool = False,
    clear: bool = False,
    workers=None,
    progress=None,
    invalidate: bool = True,
    wait: bool = False,
    options: SyncOptions | None = None,
) -> CollectResult:
    """Collect the finders' files into ``storage`` (one of ours) by syncing.

    ``clear`` (Django's --clear) re-uploads everything and deletes every
    other key under the prefix, but only after all uploads succeeded.
    ``options`` replaces the sync options those arguments make (another
    command, such as ``s3_migrate_static``, syncing the finders its own way).
    """
    found, duplicates = find_static_files(list(ignore_patterns))
    options = options or SyncOptions(
        delete=clear,
        force=clear,
        dry_run=dry_run,
        workers=workers,
        command="collectstatic",
        source="staticfiles finders",
        invalidate=invalidate,
        wait=wait,
    )
    if not (post_process and isinstance(storage, HashedFilesMixin)):
        files = {}
        folder = None
        for prefixed, (source, path) in found.items():
            try:
                files[prefixed] = source.path(path)
            except NotImplementedError:  # a finder storage without local paths: stage it
                folder = folder or tempfile.mkdtemp(prefix="collectstatic-")
                _stage({prefixed: (source, path)}, folder)
                files[prefixed] = os.path.join(folder, *prefixed.split("/"))
        try:
            report = sync(storage, files, options, progress)
        finally:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        post_processed = []
        if post_process and hasattr(storage, "post_process") and not dry_run and report.ok:
            # An unknown post-processor works on the remote files, as Django's would.
            for original, _path, processed in storage.post_process(found, dry_run=False):
                if isinstance(processed, Exception):
                    raise PostProcessError(original, processed) from processed
                if processed:
                    post_processed.append(original)
        return CollectResult(report, post_processed, duplicates)

    with tempfile.TemporaryDirectory(prefix="collectstatic-") as folder:
        _stage(found, folder)
        twin = _local_twin(storage, folder)
        post_processed = _post_process(twin, list(found))
        files = walk_tree(folder)
        hashed = set(twin.hashed_files.values()) & set(files)
        options = replace(options, last_names=(twin.manifest_name,), immutable_names=hashed)
        report = sync(storage, files, options, progress)
    return CollectResult(report, post_processed, duplicates)
