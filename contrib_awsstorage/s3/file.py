"""The file object ``S3Boto3Storage.open()`` returns.

It lives apart from the storage because it is the only per-object, stateful
piece: one storage is shared by every thread, a file object is not.

Reading downloads the object once, into a spooled temporary file (gunzipped
if it was stored gzipped), and never keeps a partial download. Text mode
(``"r"``) decodes UTF-8 with universal newlines, as Python's ``open()``
does; ``"rb"`` gives the stored bytes. Writing buffers: a small file goes up
at ``close()`` exactly as ``save()`` would send it; a big one streams as a
multipart upload, one buffer per part. A failure, or an exception inside
``with``, aborts the multipart upload, so the bucket never keeps half a file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from tempfile import SpooledTemporaryFile

from botocore.exceptions import BotoCoreError
from django.conf import settings
from django.core.files.base import File
from django.utils.deconstruct import deconstructible
from django.utils.encoding import force_bytes, force_str

from .errors import S3StorageError
from .multipart import MIN_PART_SIZE, StreamedUpload

__all__ = ["S3Boto3StorageFile"]

_DOWNLOAD_CHUNK = 1024 * 1024


def _stream_length(stream):
    """Length of a seekable stream, leaving its position where it was."""
    pos = stream.tell()
    stream.seek(0, os.SEEK_END)
    length = stream.tell()
    stream.seek(pos)
    return length


# Migrations and the original contrib's documentation name the class by its historic
# path; ``aws_s3_cdn`` re-exports it, so keep that path.
@deconstructible(path="contrib_awsstorage.aws_s3_cdn.S3Boto3StorageFile")
class S3Boto3StorageFile(File):
    """
    One object of an ``S3Boto3Storage``, open for reading or for writing
    (a Django ``File``, so templates, forms and ``storage.save()`` take it).

    The bytes live in a local buffer, not in ``.file``'s S3 object: read
    and write through this class, and ``close()`` it (or use ``with``), since
    that is when a written file reaches S3. Leaving ``with`` on an exception
    aborts the upload instead of storing a fragment.

    Writes that stay under ``buffer_size`` go up at close as ``save()``
    sends them (gzip, headers, source MD5). Bigger writes stream as a
    multipart upload, a part per buffer, stored as written: not gzipped and
    without the source-MD5 metadata, which S3 needs before the first part,
    when the content is not known yet.
    """

    buffer_size = MIN_PART_SIZE

    def __init__(self, name, mode, storage, buffer_size=None):
        """
        Open S3 key ``name`` (location included) of ``storage`` in ``mode``
        (``'r'``, ``'rb'``, ``'w'`` or ``'wb'``). ``buffer_size`` is the part
        size of a streamed write (default: the storage's ``file_buffer_size``;
        S3 takes parts of 5 MiB or more, at most 10,000 of them). Opening for
        reading asks S3 for the object at once, so a missing file fails here,
        not at the first read.
        """
        if "r" in mode and "w" in mode:
            raise ValueError("Can't combine 'r' and 'w' in mode.")
        if not set(mode) <= set("rwb") or not ("r" in mode or "w" in mode):
            raise ValueError(
                f"Unsupported mode {mode!r} for an S3 file: use 'r', 'rb', 'w' or 'wb'."
            )
        self._storage = storage
        self.key = name
        self.name = storage.name_for(name)
        self._mode = mode
        self._force_mode = (lambda b: b) if "b" in mode else force_str
        self._is_dirty = False
        self._raw_bytes_written = 0
        self._file = None
        self._binary = None  # the downloaded bytes under a text-mode reader
        self._upload = None  # the StreamedUpload, once the buffer first fills
        self._closed = False
        self._failed = False  # a part failed: the upload was aborted, further writes refused
        self._md5 = hashlib.md5()
        self._head = {}
        if buffer_size is not None:
            self.buffer_size = buffer_size
        elif getattr(storage, "file_buffer_size", None):
            self.buffer_size = storage.file_buffer_size
        if "w" not in mode:
            self._head = storage._call("HeadObject", key=name, Key=name)

    @property
    def mode(self):
        return self._mode

    @property
    def closed(self):
        return self._closed

    @property
    def size(self):
        """Bytes written so far, or the object's size (decoded, if stored gzipped)."""
        if "w" in self._mode:
            return self._raw_bytes_written
        if self._head.get("ContentEncoding") == "gzip":
            self._get_file()
            return _stream_length(self._binary)
        return self._head.get("ContentLength", 0)

    def _require_mode(self, letter, word):
        if letter not in self._mode:
            raise AttributeError(f"File was not opened in {word} mode.")

    # -- reading -------------------------------------------------------------------
    def _get_file(self):
        """The local buffer: on first use for reading, the downloaded (and
        gunzipped) object; for writing, the bytes not yet sent."""
        if self._file is None:
            self._file = SpooledTemporaryFile(
                max_size=self._storage.max_memory_size,
                suffix=".S3Boto3StorageFile",
                dir=getattr(settings, "FILE_UPLOAD_TEMP_DIR", None),
            )
            if "r" in self._mode:
                self._is_dirty = False
                try:
                    self._download(self._file)
                except BaseException:
                    # never keep a partial download: a later read would return it silently
                    self._file.close()
                    self._file = None
                    raise
                self._binary = self._file
                if "b" not in self._mode:
                    # as open(name, "r"): \r\n and \r read as \n, lines split on all three
                    self._file = io.TextIOWrapper(self._file, encoding="utf-8", newline=None)
        return self._file

    def _download(self, target):
        storage = self._storage
        response = storage._call("GetObject", key=self.key, Key=self.key)
        body = response["Body"]
        expected = response.get("ContentLength")
        received = 0
        try:
            for chunk in iter(lambda: body.read(_DOWNLOAD_CHUNK), b""):
                received += len(chunk)
                target.write(chunk)
        except (BotoCoreError, OSError) as exc:
            raise storage._translate(exc, "GetObject", self.key) from None
        finally:
            body.close()
        if expected is not None and received != expected:
            raise S3StorageError(
                f"S3 GetObject on s3://{storage.bucket_name}/{self.key} failed: the download was cut "
                f"off ({received} of {expected} bytes).",
                code="IncompleteRead",
                operation="GetObject",
                bucket=storage.bucket_name,
                key=self.key,
                fix="retry; if it keeps happening check the network, proxy or AWS_S3_ENDPOINT_URL.",
            )
        target.seek(0)
        if response.get("ContentEncoding") == "gzip":
            self._file = gzip.GzipFile(mode="rb", fileobj=target)

    def _set_file(self, value):
        self._file = value

    file = property(_get_file, _set_file)

    def read(self, *args, **kwargs):
        """Read from the downloaded object (``str`` in text mode)."""
        self._require_mode("r", "read")
        return self._force_mode(super().read(*args, **kwargs))

    def readline(self, *args, **kwargs):
        """One line of the downloaded object (``str`` in text mode)."""
        self._require_mode("r", "read")
        return self._force_mode(super().readline(*args, **kwargs))

    def readlines(self):
        return list(self)

    def __iter__(self):
        """Lines as Python's ``open()`` gives them: in text mode split on
        ``\n``, ``\r\n`` and ``\r`` (and nothing else), in binary mode as
        Django's ``File`` splits bytes."""
        self._require_mode("r", "read")
        if "b" in self._mode:
            return super().__iter__()
        return iter(self.file)

    # -- writing -------------------------------------------------------------------
    def write(self, content):
        """Buffer ``content``; each time the buffer reaches ``buffer_size``, send it as a part."""
        self._require_mode("w", "write")
        if self._failed:
            raise ValueError(
                f"Cannot write to {self.name!r}: an earlier part failed and the upload was aborted "
                "(nothing was stored). Open the file again and rewrite it from the start."
            )
        bstr = force_bytes(content)
        self._is_dirty = True
        self._md5.update(bstr)
        self._raw_bytes_written += len(bstr)
        written = self.file.write(bstr)
        if self._buffer_file_size >= self.buffer_size:
            self._flush_write_buffer()
        return written

    @property
    def _buffer_file_size(self):
        return _stream_length(self.file)

    def _flush_write_buffer(self):
        """Send the buffer as the next part of the multipart upload (started on the first)."""
        if not self._buffer_file_size:
            return
        storage = self._storage
        try:
            if self._upload is None:
                storage._ensure_bucket()
                self._upload = StreamedUpload(
                    lambda operation, **kw: storage._call(operation, key=self.key, **kw),
                    self.key,
                    storage.upload_params(self.name),
                )
            self.file.seek(0)
            self._upload.send_part(self.file.read())
            self.file.seek(0)
            self.file.truncate()
        except BaseException:
            self._fail()
            raise

    def _create_empty_on_close(self):
        """Opened for writing and closed without a byte: store an empty object,
        unless one is already there, as ``open(name, "w")`` creates the file
        on a local disk (Django's ``FileSystemStorage`` does the same)."""
        if not self._storage.exists(self.name):
            self._storage._upload(self.name, self.key, b"")

    # -- ending ---------------------------------------------------------------------
    def abort(self):
        """Abort a started multipart upload (nothing is left behind in the bucket)."""
        upload, self._upload = self._upload, None
        self._is_dirty = False
        if upload is not None:
            upload.abort()
        self._close_buffer()

    def _fail(self):
        """Abort, and refuse further writes: what is stored must never be a fragment."""
        self.abort()
        self._failed = True

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and "w" in self._mode:
            self.abort()
            self._closed = True
        else:
            self.close()

    def _close_buffer(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._binary is not None:
            self._binary.close()
            self._binary = None

    def close(self):
        """Finish: a written file goes up now (or its multipart upload completes)."""
        if self._closed:
            return
        try:
            if "w" in self._mode and not self._failed:
                if self._upload is not None:
                    self._complete_multipart()
                elif self._is_dirty:
                    self.file.seek(0)
                    self._storage._upload(self.name, self.key, self.file.read())
                elif self._raw_bytes_written == 0:
                    self._create_empty_on_close()
                self._is_dirty = False
        finally:
            self._close_buffer()
            self._closed = True

    def _complete_multipart(self):
        """Send the last part and complete the upload (or abort it)."""
        self._flush_write_buffer()
        try:
            response = self._upload.complete()
        except BaseException:
            self._fail()
            raise
        self._upload = None
        self._storage._remember(self.key, self._raw_bytes_written, response.get("ETag"), response)
