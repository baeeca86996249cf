"""The probe object (put / get / delete) and the anonymous GET of a public URL.

A mixin of ``TargetProbe``: these steps write to the bucket, so they live
apart from the read-only ones and guarantee clean-up: the probe object is
deleted (and checked gone) even when reading it back fails, and one that
cannot be deleted is named in the output so the admin can remove it.
"""

from __future__ import annotations

import uuid

from ..s3.keys import STATE_DIR as PROBE_DIR
from .errors import client_error_types, error_code
from .http import request
from .results import FAIL, OK, RUN_S3_SETUP, SKIP, CheckResult

RAW_TIMEOUT = 3.0  # the unsigned reachability / anonymous GET requests


class ProbeObjectSteps:
    """Steps ``write`` (with ``read`` and ``delete``) and ``public``; needs
    ``client``, ``storage``, ``bucket``, ``prefix``, ``write``, ``public``,
    ``sample_key``, ``public_result``, ``results``, ``_add`` and ``_fail_from``."""

    def _probe_key(self) -> str:
        # 16 hex digits: unique enough, and short of what scrub() takes for a secret.
        return self.storage.key_for(f"{PROBE_DIR}s3-check-{uuid.uuid4().hex[:16]}.txt")

    def _put_args(self) -> dict:
        acl = getattr(self.storage, "default_acl", None)
        return {"ACL": acl} if acl else {}

    def _delete(self, key) -> Exception | None:
        """Delete ``key`` and make sure it is gone; the error if not."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
            self.client.head_object(Bucket=self.bucket, Key=key)
        except client_error_types() as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            return exc
        return RuntimeError("the object is still there after DeleteObject")

    def check_write(self):
        if not self.write:
            self._add("write", SKIP, "probe object (put/get/delete) skipped: --no-write.")
            return
        key = self._probe_key()
        token = uuid.uuid4().hex.encode()
        written = False
        try:
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=token,
                    ContentType="text/plain",
                    **self._put_args(),
                )
                written = True
                self._add("write", OK, f"put s3://{self.bucket}/{key} ({len(token)} bytes).")
            except client_error_types() as exc:
                self._fail_from("write", exc, "PutObject", key)
            self._check_read(key, token, written)
            if written and self.public and self.sample_key is None:
                # No real file to fetch: fetch the probe object as a browser would.
                mark = len(self.results)
                self._fetch_anonymously(key)
                self.public_result = self.results.pop(mark)
        finally:
            self._check_delete(key, written)

    def _check_read(self, key, token, written):
        if not written:
            self._add("read", SKIP, "not checked: the probe object could not be written.")
            return
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except client_error_types() as exc:
            self._fail_from("read", exc, "GetObject", key)
            return
        if body != token:
            self._add(
                "read",
                FAIL,
                f"read back {len(body)} bytes that differ from what was written.",
                "check AWS_S3_ENDPOINT_URL points at S3 itself, not a caching proxy.",
            )
            return
        self._add("read", OK, "got the probe object back unchanged.")

    def _check_delete(self, key, written):
        error = self._delete(key)
        if error is None:
            status = OK if written else SKIP
            text = (
                "deleted the probe object; it is gone."
                if written
                else "nothing to delete (the probe object was not written)."
            )
            self._add("delete", status, text)
            return
        if isinstance(error, RuntimeError):
            self._add(
                "delete",
                FAIL,
                f"s3://{self.bucket}/{key} is still there after DeleteObject.",
                "check the bucket's versioning/object lock settings; delete it by hand.",
            )
            return
        self._fail_from("delete", error, "DeleteObject", key)
        self.results[-1] = CheckResult(
            "delete",
            FAIL,
            f"{self.results[-1].message} The probe object s3://{self.bucket}/{key} "
            "was left behind; delete it by hand.",
            self.results[-1].fix,
            self.alias,
            self.results[-1].code,
        )

    def check_public(self):
        if not self.public:
            self._add(
                "public",
                SKIP,
                "files use signed URLs (private storage): no anonymous read expected.",
            )
            return
        if self.public_result is not None:  # measured on the probe object, before deleting it
            self.results.append(self.public_result)
            return
        if self.sample_key is not None:
            self._fetch_anonymously(self.sample_key)
            return
        reason = (
            "the probe object could not be written"
            if self.write
            else "no file under the prefix to fetch (and --no-write): "
            "run collectstatic / s3_migrate_static first"
        )
        self._add("public", SKIP, f"not checked: {reason}.")

    def _fetch_anonymously(self, key):
        name = key[len(self.prefix) :] if key.startswith(self.prefix) else key
        from .storage import public_url

        url = public_url(self.storage, name).split("?", 1)[0]  # never show a signature
        answer = request(
            url,
            "GET",
            timeout=RAW_TIMEOUT,
            verify=getattr(self.storage, "verify", None),
            headers={"Range": "bytes=0-0"},
        )
        if answer.status in (200, 206):
            self._add("public", OK, f"anonymous GET {url} -> HTTP {answer.status}.")
            return
        if not answer.reached:
            self._add(
                "public",
                FAIL,
                f"anonymous GET {url} failed: {answer.error}.",
                "check AWS_S3_CUSTOM_DOMAIN (the CDN must be reachable and point at the bucket)."
                if self.storage.custom_domain
                else "check AWS_S3_ENDPOINT_URL is reachable from browsers too.",
            )
            return
        if answer.status == 403:
            resource = f"arn:aws:s3:::{self.bucket}/{self.prefix}*"
            self._add(
                "public",
                FAIL,
                f"anonymous GET {url} -> HTTP 403: browsers cannot load these files.",
                f"{RUN_S3_SETUP}: it adds the public-read bucket policy for this prefix "
                f"and allows it in Block Public Access. Or by hand: a bucket policy allowing "
                f"s3:GetObject to Principal '*' on {resource}; or use signed URLs "
                "(querystring_auth True) for private files.",
            )
            return
        self._add(
            "public",
            FAIL,
            f"anonymous GET {url} -> HTTP {answer.status}.",
            "check AWS_S3_CUSTOM_DOMAIN / AWS_LOCATION: the URL must point at the object.",
        )
