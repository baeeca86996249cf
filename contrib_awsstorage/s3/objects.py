"""What every object this contrib writes carries, so a later run can compare it.

The storage's ``save()`` and the sync write the same bytes with the same
headers for the same file. Each object records the MD5 of its *original*
bytes (before any gzip) in its metadata: an ETag alone cannot say whether a
gzipped or multipart object holds a given file.
"""

from __future__ import annotations

import gzip

from django.utils.encoding import force_bytes

__all__ = ["SOURCE_MD5_METADATA_KEY", "gzip_bytes"]

#: Object metadata key holding the MD5 (hex) of the original bytes.
SOURCE_MD5_METADATA_KEY = "source-md5"


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` deterministically (mtime 0, no file name, level 9).

    Same input, same output on every run and machine, so re-uploads and
    syncs can compare gzipped objects.
    """
    return gzip.compress(force_bytes(data), compresslevel=9, mtime=0)
