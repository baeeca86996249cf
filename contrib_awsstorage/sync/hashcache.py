"""MD5s of local files, remembered between runs by their stat data.

Hashing a game's static tree is most of a no-op sync's CPU (84 MB: about
0.36 s on one core). A file whose size, mtime, ctime, inode and device are
all unchanged since we hashed it has the same bytes, the rule git's index
uses: ``ctime`` cannot be set from user space, so a file rewritten and then
given its old mtime (``touch -d``, ``os.utime``) still shows up as changed.

"Racily clean" files (modified within ``RACY_SECONDS`` of being hashed, or
in the future) are never remembered: the filesystem's clock tick could
hide a second write in the same tick. (That test reads the local clock; a
network filesystem whose server clock is more than ``RACY_SECONDS`` behind
narrows it, which still needs two same-size writes inside one timestamp
tick to matter.) On Windows ``st_ctime`` is the creation time, which an
in-place rewrite does not move, so there the cache is off. The cache is a plain JSON file per
destination, rewritten atomically only when it changed; a missing,
damaged or unwritable cache only costs the hashing, never correctness.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time

__all__ = ["LocalHashes", "default_cache_dir", "md5_file"]

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
RACY_SECONDS = 3.0  # coarser than any filesystem timestamp tick in use (FAT: 2 s)


def md5_file(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/contrib_awsstorage`` (``~/.cache/...`` without it)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "contrib_awsstorage")


def _signature(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


class LocalHashes:
    """``md5(path)`` that reuses a checksum while the file's stat is unchanged.

    ``path`` of ``None`` disables the cache (every file is hashed). Thread-safe:
    the sync hashes from a pool.
    """

    def __init__(self, path: str | None):
        self.path = path if os.name != "nt" else None
        self.hits = self.misses = 0
        self._old: dict[str, list] = self._load() if path else {}
        self._new: dict[str, list] = {}
        self._lock = threading.Lock()
        self._racy_after_ns = time.time_ns() - int(RACY_SECONDS * 1e9)

    def _load(self) -> dict[str, list]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                document = json.load(handle)
            if document.get("version") == CACHE_VERSION and isinstance(
                document.get("entries"), dict
            ):
                return document["entries"]
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError) as exc:
            logger.debug("ignoring the local checksum cache %s: %s", self.path, exc)
        return {}

    def md5(self, path: str) -> str:
        stat = os.stat(path)
        signature = _signature(stat)
        known = self._old.get(path)
        if isinstance(known, list) and len(known) == len(signature) + 1 and known[:-1] == signature:
            with self._lock:
                self.hits += 1
                self._new[path] = known
            return known[-1]
        digest = md5_file(path)
        racy = max(stat.st_mtime_ns, stat.st_ctime_ns) >= self._racy_after_ns
        # A second stat: the file must not have changed while it was read.
        if not racy and _signature(os.stat(path)) == signature:
            with self._lock:
                self._new[path] = signature + [digest]
        with self._lock:
            self.misses += 1
        return digest

    def save(self) -> None:
        """Write the entries seen this run (others are dropped) if anything changed."""
        if not self.path or self._new == self._old:
            return
        folder = os.path.dirname(self.path)
        try:
            os.makedirs(folder, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".hashes-", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(
                        {"version": CACHE_VERSION, "entries": self._new}, out, separators=(",", ":")
                    )
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            logger.debug("could not write the local checksum cache %s: %s", self.path, exc)
