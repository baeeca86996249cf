"""Storage names: how a name given to the storage is cleaned and kept inside
the storage's location, and the small helpers the original contrib offered.

``safe_join`` is the guard: a name that would leave the location (``..``
past it, an absolute path, a backslash, a NUL) is refused, so no upload can
land outside the folder a storage owns.
"""

from __future__ import annotations

import os
import posixpath

from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.utils.encoding import force_str

__all__ = [
    "setting",
    "safe_join",
    "clean_name",
    "check_location",
    "lookup_env",
    "get_available_overwrite_name",
    "key_for",
    "name_for",
]


def setting(name, default=None):
    """
    Helper function to get a Django setting by name. If setting doesn't exist
    it will return a default.

    Args:
        name (str): A Django setting name

    Returns:
        The value of the setting variable by that name

    """
    from django.conf import settings

    return getattr(settings, name, default)


def safe_join(base, *paths):
    """
    Helper function, a version of django.utils._os.safe_join for S3 paths.
    Joins one or more path components to the base path component
    intelligently. Returns a normalized version of the final path.
    The final path must be located inside of the base path component
    (otherwise a ValueError is raised). Paths outside the base path
    indicate a possible security sensitive operation.

    Raises ValueError for any escape from ``base`` (``..`` past it), for
    absolute paths, backslashes and NUL characters.

    Args:
        base (str): A path string to the base of the staticfiles
        *paths (list): A list of paths as referenced from the base path

    Returns:
        final_path (str): A joined path, base + filepath

    """
    base_path = force_str(base).strip("/")
    for part in (base_path,) + tuple(force_str(p) for p in paths):
        if "\x00" in part:
            raise ValueError("the path contains a NUL character")
        if "\\" in part:
            raise ValueError("the path contains a backslash; use '/' as separator")
    segments = [s for s in base_path.split("/") if s not in ("", ".")]
    floor = len(segments)
    trailing = False
    for path in paths:
        path = force_str(path)
        if path.startswith("/"):
            raise ValueError("the joined path is absolute; give a path relative to the base")
        for seg in path.split("/"):
            if seg in ("", "."):
                continue
            if seg == "..":
                if len(segments) <= floor:
                    raise ValueError(
                        "the joined path is located outside of the base path component"
                    )
                segments.pop()
            else:
                segments.append(seg)
        trailing = path.endswith("/") or (path in ("", ".") and trailing)
    final = "/".join(segments)
    if final and (trailing or len(segments) == floor):
        final += "/"
    return final


def clean_name(name):
    """Normalise a storage name: Windows separators, ``a/../b``, keep a trailing slash."""
    name = force_str(name).replace("\\", "/")
    cleaned = posixpath.normpath(name) if name else ""
    if cleaned == ".":
        cleaned = ""
    if name.endswith("/") and not cleaned.endswith("/") and cleaned:
        cleaned += "/"
    return cleaned


def check_location(storage):
    """
    Helper function to make sure that the storage location is configured correctly.

    Args:
        storage (Storage): A Storage object (Django)

    Raises:
        ImproperlyConfigured: If the storage location is not configured correctly,
            this is raised.

    """
    if storage.location.startswith("/"):
        correct = storage.location.lstrip("/")
        raise ImproperlyConfigured(
            f"{storage.__class__.__name__}.location cannot begin with a leading slash. Found '{storage.location}'. Use '{correct}' instead."
        )


def lookup_env(names):
    """
    Helper function for looking up names in env vars. Returns the first element found.

    Args:
        names (str): A list of environment variables

    Returns:
        value (str): The value of the found environment variable.

    """
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def get_available_overwrite_name(name, max_length):
    """
    The name an overwriting storage saves ``name`` under: ``name`` itself,
    or, when it is longer than ``max_length``, ``name`` with the end of its
    file root cut off (directory and extension kept), as Django does.

    Args:
        name (str): The name of the file
        max_length (int): The maximum length of a filename

    Returns:
        joined (path): A joined path including directory, file, and extension
    """
    if max_length is None or len(name) <= max_length:
        return name

    dir_name, file_name = os.path.split(name)
    file_root, file_ext = os.path.splitext(file_name)
    truncation = len(name) - max_length

    file_root = file_root[:-truncation]
    if not file_root:
        raise SuspiciousFileOperation(
            'aws-s3-cdn tried to truncate away entire filename "%s". '
            "Please make sure that the corresponding file field "
            'allows sufficient "max_length".' % name
        )
    return os.path.join(dir_name, f"{file_root}{file_ext}")


def _is_plain(name) -> bool:
    """True if ``name`` needs no cleaning: relative, no ``.``/``..`` segment,
    no backslash, doubled slash or NUL (every ``{% static %}`` name)."""
    return (
        type(name) is str
        and bool(name)
        and name[0] != "/"
        and "/." not in "/" + name
        and "\\" not in name
        and "//" not in name
        and "\x00" not in name
    )


def key_for(location, name) -> str:
    """The S3 key of storage name ``name`` under ``location``; ``ValueError``
    (from ``safe_join``) if it would land outside it."""
    if _is_plain(name):
        location = (location or "").strip("/")
        return f"{location}/{name}" if location else name
    return safe_join(location, clean_name(name))


def name_for(location, key) -> str:
    """The storage name of S3 key ``key`` (the inverse of ``key_for``)."""
    key = force_str(key)
    location = (location or "").strip("/")
    if not location:
        return key
    if key.startswith(location + "/"):
        return key[len(location) + 1 :]
    if key == location:
        return ""
    raise ValueError(f"key {key!r} is outside this storage's location {location!r}")
