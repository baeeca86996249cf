"""
The file object ``S3Boto3Storage.open()`` returns.

Reads download the object once into a spooled temporary file (gunzipped if
it was stored gzipped) and refuse to keep a partial download. Text mode
(``"r"``) decodes UTF-8 with universal newlines, exactly as Python's
``open()`` does; ``"rb"`` returns the stored bytes untouched. Writes are
buffered: a small file is sent at ``close()`` through the storage's
``prepare_upload`` (gzip, metadata, source MD5 exactly as ``save``), a big
one streams as a multipart upload, part by part. Any failure, or an
exception inside ``with``, aborts the multipart upload so the bucket never
keeps half a file.

It lives apart from the storage because it is the only stateful,
per-object piece: the storage is shared by threads, a file is not.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from tempfile import SpooledTemporaryFile

from botocore.exceptions import BotoCoreError  # aws_s3_cdn explains a missing boto3
from django.conf import settings
from django.core.files.base import File
from django.utils.deconstruct import deconstructible
from django.utils.encoding import force_bytes, force_str

from .errors import S3StorageError
from .multipart import MIN_PART_SIZE

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
    The default file object used by the S3Boto3Storage backend.
    This file implements file streaming using boto's multipart
    uploading functionality. The file can be opened in read or
    write mode.
    This class extends Django's File class. However, the contained
    data is only the data contained in the current buffer. So you
    should not access the contained file object directly. You should
    access the data via this class.
    Warning: This file *must* be closed using the close() method in
    order to properly write the file to S3. Be sure to close the file
    in your application. Leaving a ``with`` block with an exception
    aborts the upload instead of completing it.

    Writes that stay under ``buffer_size`` are sent at close through
    ``storage.prepare_upload`` (gzip, metadata and source MD5 exactly as
    ``save``). Bigger writes stream as a multipart upload, stored as
    written: not gzipped, and without the source-MD5 metadata (S3 needs the
    metadata before the content is known).
    """

    buffer_size = MIN_PART_SIZE

    def __init__(self, name, mode, storage, buffer_size=None):
        """
        Initializes the File object.

        Args:
            name (str): The name of the file (the S3 key, location included)
            mode (str): The access mode ('r', 'rb', 'w' or 'wb')
            storage (Storage): The Django Storage object
            buffer_size (int): The buffer size, for multipart uploads
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
        self._multipart = None  # UploadId
        self._parts = []
        self._closed = False
        self._failed = False  # a part failed: the upload was aborted, further writes refused
        self._md5 = hashlib.md5()
        self._head = {}
        # 5 MB is the minimum part size (if there is more than one part).
        # Amazon allows up to 10,000 parts.
        if buffer_size is not None:
            self.buffer_size = buffer_size
        elif getattr(storage, "file_buffer_size", None):
            self.buffer_size = storage.file_buffer_size
        self._write_counter = 0
        if "w" not in mode:
            # Force early RAII-style exception if object does not exist
            self._head = storage._call("HeadObject", key=name, Key=name)

    @property
    def mode(self):
        return self._mode

    @property
    def closed(self):
        return self._closed

    @property
    def size(self):
        """
        Helper property to return filesize (the decoded size for gzip-encoded objects)
        """
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
        """
        Helper function to manage zipping and temporary files
        """
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
        """
        Checks if file is in read mode; then continues to boto3 operation
        """
        self._require_mode("r", "read")
        return self._force_mode(super().read(*args, **kwargs))

    def readline(self, *args, **kwargs):
        """
        Checks if file is in read mode; then continues to boto3 operation
        """
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
        """
        Checks if file is in write mode or needs multipart handling,
        then continues to boto3 operation.
        """
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
        """
        Flushes the write buffer as one part of the multipart upload.
        """
        if not self._buffer_file_size:
            return
        storage = self._storage
        try:
            if self._multipart is None:
                storage._ensure_bucket()
                params = storage.upload_params(self.name)
                response = storage._call(
                    "CreateMultipartUpload", key=self.key, Key=self.key, **params
                )
                self._multipart = response["UploadId"]
            self._write_counter += 1
            self.file.seek(0)
            self._parts.append(
                storage._upload_part(
                    self.key, self._multipart, self._write_counter, self.file.read()
                )
            )
            self.file.seek(0)
            self.file.truncate()
        except BaseException:
            self._fail()
            raise

    def _create_empty_on_close(self):
        """
        Attempt to create an empty file for this key when this File is closed if no bytes
        have been written and no object already exists on S3 for this key.
        This behavior is meant to mimic the behavior of Django's builtin FileSystemStorage,
        where files are always created after they are opened in write mode:
            f = storage.open("file.txt", mode="w")
            f.close()
        """
        assert "w" in self._mode
        assert self._raw_bytes_written == 0
        if not self._storage.exists(self.name):
            self._storage._upload(self.name, self.key, b"")

    # -- ending ---------------------------------------------------------------------
    def abort(self):
        """Abort a started multipart upload (nothing is left behind in the bucket)."""
        upload_id, self._multipart = self._multipart, None
        self._is_dirty = False
        if upload_id is not None:
            self._storage._abort_multipart(self.key, upload_id)
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
        """
        Manages file closing after multipart uploads
        """
        if self._closed:
            return
        try:
            if "w" in self._mode and not self._failed:
                if self._multipart is not None:
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
            response = self._storage._call(
                "CompleteMultipartUpload",
                key=self.key,
                Key=self.key,
                UploadId=self._multipart,
                MultipartUpload={"Parts": self._parts},
            )
        except BaseException:
            self._fail()
            raise
        self._multipart = None
        self._storage._remember(self.key, self._raw_bytes_written, response.get("ETag"), response)
