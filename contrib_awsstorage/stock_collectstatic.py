"""Our storages under Django's *own* ``collectstatic``.

When ``contrib_awsstorage`` is listed after ``django.contrib.staticfiles``
(Evennia's ``INSTALLED_APPS += [...]`` idiom), Django's command runs, not
ours. For every file it asks the storage ``exists()`` and
``get_modified_time()`` (two HEADs), and copies the file when the source
is newer than the object: a fresh checkout re-uploads every file, and a
file edited with an older mtime is never sent.

While that command runs (its ``collect`` is on the call stack), the storage
asks this module instead, and:

- answers ``exists``, ``get_modified_time``, ``size`` and ``listdir`` from
  one listing of its prefix, taken at the first question and kept for the
  life of that command object (plus, when a sync left one, the sync's state
  object, which knows the source MD5 of gzipped or multipart objects);
- when the command's ``delete_file`` asks ``get_modified_time``, compares
  the *content*: the answer is "not older than the source" exactly when the
  object already holds the source's bytes, so Django skips identical files
  and copies changed ones, whatever their mtimes;
- holds back a delete that Django makes just before writing the same name
  again (``delete_file``, the manifest's post-processing, ``save_manifest``)
  until that write, and skips the write when the bytes are identical: the
  object never vanishes in between, and nothing is sent;
- with a manifest storage, keeps the *new* rewritten CSS/JS files of the
  post-processing in memory until ``save_manifest``: Django's multi-pass
  hashing writes an intermediate copy of a file whose references need a
  second pass and deletes it in that pass, so such a copy is never sent,
  and the manifest still goes up last.

Django is not patched: the storage only recognises who is calling it, by
the code objects of Django's own functions. If a Django version renames
them, the storage simply answers as it always did.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import weakref
from datetime import timedelta
from types import SimpleNamespace

from botocore.exceptions import BotoCoreError, ClientError

from .s3.errors import S3ObjectNotFound, S3StorageError
from .s3.keys import STATE_DIR, prefix_of
from .s3.objects import SOURCE_MD5_METADATA_KEY

__all__ = ["session_for", "StockCollectSession"]

#: How far up the stack the storage looks for Django's command (its
#: ``collect`` is a handful of frames above any storage call it makes).
_MAX_DEPTH = 48
_ATTR = "_stock_collect_session"


class _Callers:
    """The code objects of the Django functions the storage recognises."""

    def __init__(self):
        from django.contrib.staticfiles.management.commands import collectstatic
        from django.contrib.staticfiles.storage import HashedFilesMixin, ManifestFilesMixin

        command = collectstatic.Command
        self.collect = command.collect.__code__
        self.delete_file = command.delete_file.__code__
        self.clear_dir = command.clear_dir.__code__
        self.post_process = HashedFilesMixin._post_process.__code__
        self.save_manifest = ManifestFilesMixin.save_manifest.__code__
        #: callers whose delete is always followed by a write of a name
        self.replacing = {self.delete_file, self.post_process, self.save_manifest}
        self.known = self.replacing | {self.clear_dir}


_callers = None


def _get_callers():
    global _callers
    if _callers is None:
        _callers = _Callers()
    return _callers


def session_for(storage, depth: int = 2):
    """``(session, caller frame)`` when Django's collectstatic is running
    this call, else ``(None, None)``. The caller frame is the nearest frame
    of a Django function we recognise (``delete_file``...), or None."""
    try:
        callers = _get_callers()
        frame = sys._getframe(depth)
    except (ImportError, AttributeError, ValueError):  # no staticfiles command to recognise
        return None, None
    caller = None
    for _ in range(_MAX_DEPTH):
        if frame is None:
            return None, None
        code = frame.f_code
        if code is callers.collect:
            command = frame.f_locals.get("self")
            break
        if caller is None and code in callers.known:
            caller = frame
        frame = frame.f_back
    else:
        return None, None
    session = storage.__dict__.get(_ATTR)
    if session is None or session.command() is not command:
        session = StockCollectSession(storage, command)
        storage.__dict__[_ATTR] = session
    return session, caller


def _read_state(storage, prefix: str) -> dict:
    from .sync.plan import read_state

    dest = SimpleNamespace(client=storage.connection, bucket=storage.bucket_name, prefix=prefix)
    try:
        return read_state(dest)
    except (ClientError, BotoCoreError):
        return {}  # unreadable: objects are compared by their ETag instead


class StockCollectSession:
    """What one run of Django's collectstatic knows about the bucket."""

    def __init__(self, storage, command):
        self.storage = storage
        self.callers = _get_callers()
        self.command = weakref.ref(command) if command is not None else (lambda: None)
        self.prefix = prefix_of(storage)
        self._lock = threading.RLock()
        self._entries = None  # key -> {"size", "last_modified", "etag"}
        self._folders = None
        self._state = {}
        self._source_md5 = {}  # key -> source MD5 read from the object's metadata (or None)
        self._pending = None  # (key, entry): a delete waiting for the write that replaces it
        self._sources = {}  # key -> (finder storage, path) of the local file the object now equals
        self._held = {}  # key -> (name, bytes, content type): new post-processed files, sent before the manifest

    # -- the listing -----------------------------------------------------------------
    @property
    def entries(self) -> dict:
        with self._lock:
            if self._entries is None:
                self._entries = self.storage._list_entries()
                from .sync.plan import MANIFEST_NAME

                if self.prefix + MANIFEST_NAME in self._entries:
                    self._state = _read_state(self.storage, self.prefix)
            return self._entries

    def _folder_set(self) -> set:
        if self._folders is None:
            folders = set()
            for key in self.entries:
                self._add_folders(folders, key)
            self._folders = folders
        return self._folders

    @staticmethod
    def _add_folders(folders: set, key: str) -> None:
        cut = key.rfind("/")
        while cut >= 0:
            folder = key[: cut + 1]
            if folder in folders:
                return
            folders.add(folder)
            cut = key.rfind("/", 0, cut)

    def entry(self, key: str):
        return self.entries.get(key)

    def exists(self, key: str, caller=None) -> bool:
        """A file, or a "folder" with files under it (Django's ``--clear``
        asks ``exists("")`` before listing)."""
        with self._lock:
            if key in self.entries or key in self._held:
                return True
            if caller is not None and caller.f_code is _get_callers().delete_file:
                self._source_of(key, caller)  # a new file: Django copies it next
            if not key:  # the whole bucket is the storage's
                return bool(self.entries)
            folder = key if key.endswith("/") else key + "/"
            return folder in self._folder_set()

    def listdir(self, key: str) -> tuple[list, list]:
        """``(folders, files)`` directly under ``key``; the sync's own state
        folder is left out (``--clear`` keeps it, as our command does)."""
        path = key if key.endswith("/") or not key else key + "/"
        folders, files = set(), []
        with self._lock:
            for name in self.entries:
                if not name.startswith(path) or name == path:
                    continue
                rest = name[len(path) :]
                if "/" in rest:
                    folders.add(rest.split("/", 1)[0])
                else:
                    files.append(rest)
        if path == self.prefix:
            folders.discard(STATE_DIR.rstrip("/"))
        return sorted(folders), sorted(files)

    # -- content ---------------------------------------------------------------------
    def holds(self, name: str, key: str, data: bytes, content_type=None, entry=None):
        """True if the object at ``key`` holds exactly ``data`` (as ``name``
        would be uploaded), False if not, None if that cannot be told."""
        entry = entry if entry is not None else self.entry(key)
        if entry is None:
            return False
        storage = self.storage
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        known = self._state.get(key)
        if known is not None and known.etag == entry["etag"] and known.size == entry["size"]:
            return known.md5 == md5
        from .sync.plan import body_etag

        body, params = storage.prepare_upload(name, data, content_type)
        part = storage.file_buffer_size
        if len(body) == entry["size"] and body_etag(body, part, part) == entry["etag"]:
            return True
        if "-" not in entry["etag"] and not params.get("ContentEncoding"):
            return False  # a plain object's ETag is the MD5 of its bytes
        source_md5 = self._metadata_md5(key)
        return None if source_md5 is None else source_md5 == md5

    def _metadata_md5(self, key: str):
        """The source MD5 the object records in its metadata (one HEAD, once)."""
        if key not in self._source_md5:
            try:
                head = self.storage._call("HeadObject", key=key, Key=key)
                self._source_md5[key] = (head.get("Metadata") or {}).get(SOURCE_MD5_METADATA_KEY)
            except S3StorageError:
                self._source_md5[key] = None
        return self._source_md5[key]

    def modified_time(self, key: str, name: str, caller, convert):
        """What ``get_modified_time`` answers Django's command (``convert``
        turns an aware UTC datetime into the storage's convention).

        Asked by ``delete_file``: not older than the source when the object
        holds the source's bytes, older when it does not, the object's own
        time when that cannot be told (Django then decides by mtime, as it
        always did)."""
        entry = self.entry(key)
        if entry is None:
            return None
        ours = convert(entry["last_modified"])
        if caller is None or caller.f_code is not _get_callers().delete_file:
            return ours
        scope = caller.f_locals
        source_storage, path = scope.get("source_storage"), scope.get("path")
        if source_storage is None or path is None:
            return ours
        try:
            source_time = source_storage.get_modified_time(path)
            with source_storage.open(path) as source:
                data = source.read()
        except (OSError, NotImplementedError):
            return ours
        same = self.holds(name, key, data, entry=entry)
        if same is not None:  # identical, or copied next: either way the object equals the source
            self._sources[key] = (source_storage, path)
        try:
            if same is True:
                return max(ours, source_time)
            if same is False:
                return min(ours, source_time.replace(microsecond=0) - timedelta(seconds=1))
        except TypeError:  # one aware, one naive: leave the decision to Django
            pass
        return ours

    def _source_of(self, key: str, caller) -> None:
        scope = caller.f_locals
        if scope.get("source_storage") is not None and scope.get("path") is not None:
            self._sources[key] = (scope["source_storage"], scope["path"])

    def open_source(self, key: str, mode: str):
        """The local file the object at ``key`` is known to equal (so the
        manifest's post-processing hashes it without a download), or None."""
        if "w" in mode:
            return None
        held = self._held.get(key)
        if held is not None:
            from django.core.files.base import ContentFile

            return ContentFile(held[1] if "b" in mode else held[1].decode(), name=held[0])
        found = self._sources.get(key)
        if found is None:
            return None
        try:
            return found[0].open(found[1], mode)
        except OSError:
            return None

    # -- writes ------------------------------------------------------------------------
    def delete(self, key: str, caller) -> bool:
        """Take a delete; True if it is held back for the write that follows."""
        with self._lock:
            if (
                key in self._held
                and caller is not None
                and caller.f_code is _get_callers().post_process
            ):
                del self._held[key]  # an intermediate copy: never sent, nothing to delete
                return True
            self.flush()
            if (
                caller is not None
                and caller.f_code in _get_callers().replacing
                and key in self.entries
            ):
                self._pending = (key, self.entries.pop(key))
                return True
            return False

    def flush(self) -> None:
        """Send a held-back delete whose name was not written again."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            try:
                self.storage._call("DeleteObject", key=pending[0], Key=pending[0])
            except S3ObjectNotFound:
                pass

    def hold(self, name: str, key: str, data: bytes, content_type, content, caller) -> bool:
        """Keep a new file of the manifest's post-processing (its rewritten
        CSS/JS, in memory already) until ``save_manifest``; True if kept."""
        from django.contrib.staticfiles.storage import ManifestFilesMixin
        from django.core.files.base import ContentFile

        with self._lock:
            if (
                caller is None
                or caller.f_code is not _get_callers().post_process
                or not isinstance(self.storage, ManifestFilesMixin)
                or getattr(self.storage, "manifest_storage", None)
                is not self.storage  # its save_manifest sends them
                or not isinstance(content, ContentFile)
                or key in self.entries
                or (self._pending is not None and self._pending[0] == key)
            ):
                return False
            self._held[key] = (name, data, content_type)
            return True

    def send_held(self) -> None:
        """Upload the held post-processed files (before the manifest)."""
        with self._lock:
            held, self._held = self._held, {}
        for key, (name, data, content_type) in sorted(held.items()):
            self.storage._upload(name, key, data, content_type)

    def unchanged(self, name: str, key: str, data: bytes, content_type=None) -> bool:
        """Before writing ``key``: True (write nothing) if the object already
        holds ``data``; otherwise a held-back delete of another name goes out."""
        with self._lock:
            entry = None
            if self._pending is not None and self._pending[0] == key:
                entry, self._pending = self._pending[1], None
            else:
                self.flush()
                entry = self.entries.get(key)
            if entry is not None and self.holds(name, key, data, content_type, entry=entry) is True:
                self.entries[key] = entry
                return True
            return False

    def forget(self, key: str) -> None:
        with self._lock:
            self._sources.pop(key, None)
            if self._entries is not None:
                self._entries.pop(key, None)
            self._state.pop(key, None)
            self._source_md5.pop(key, None)

    def remember(self, key: str, entry: dict) -> None:
        with self._lock:
            if self._entries is not None:
                self._entries[key] = entry
                if self._folders is not None:
                    self._add_folders(self._folders, key)
            self._state.pop(key, None)
            self._source_md5.pop(key, None)
