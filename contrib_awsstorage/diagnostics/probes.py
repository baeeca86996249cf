"""The online checks: talk to the endpoint and the bucket, in order.

Each step returns one ``CheckResult``; a step whose precondition failed
(endpoint unreachable, bucket missing, no credentials) is reported as SKIP
with the reason instead of piling up consequential failures. Every
request uses a client with short timeouts and at most one retry, so a dead
or stalled endpoint costs seconds. The probe object is always deleted,
even when reading it back fails.
"""

from __future__ import annotations

import time

from ..s3.keys import STATE_DIR as PROBE_DIR
from ..s3.keys import prefix_of
from .credentials import chain_credentials
from .errors import client_error_types, error_code
from .http import request
from .probe_object import RAW_TIMEOUT, ProbeObjectSteps
from .results import FAIL, OK, RUN_S3_SETUP, SKIP, WARN, CheckResult

CLOCK_WARN_SECONDS = 60  # presigned URLs and caches start to misbehave
CLOCK_FAIL_SECONDS = 15 * 60  # S3 rejects requests: RequestTimeTooSkewed
# "read" and "delete" come from the write step (one SKIP line when blocked).
ORDER = (
    "credentials",
    "endpoint",
    "clock",
    "bucket",
    "list",
    "write",
    "read",
    "delete",
    "acl",
    "public",
    "sync",
)


class TargetProbe(ProbeObjectSteps):
    """Runs the online steps for one storage (``storage`` built with
    ``storage.short_config``) and collects the results in ``ORDER``."""

    def __init__(
        self,
        alias: str,
        storage,
        *,
        write: bool = True,
        public: bool | None = None,
        proxies: bool = False,
        endpoint_answers: dict | None = None,
        deadline: float | None = None,
    ):
        self.alias = alias
        self.storage = storage
        self.bucket = storage.bucket_name
        self.write = write
        # Public URLs are expected for static files or any unsigned storage.
        self.public = (
            (not storage.querystring_auth or bool(storage.custom_domain))
            if public is None
            else public
        )
        self.proxies = proxies
        # Shared by the probes of one run: one reachability request per endpoint.
        self.endpoint_answers = {} if endpoint_answers is None else endpoint_answers
        self.deadline = deadline  # time.monotonic() after which no new step starts
        self.prefix = prefix_of(storage)
        self.blocker = ""  # why the remaining steps cannot run
        self.server_date = None
        self.sample_key = None
        self.public_result = None  # the anonymous GET, if done during the write step
        self.results: list[CheckResult] = []

    # -- plumbing --------------------------------------------------------
    @property
    def client(self):
        """The storage's own client (created on first use, short timeouts)."""
        return self.storage.connection

    def _add(self, check, status, message, fix="", code=""):
        self.results.append(CheckResult(check, status, message, fix, self.alias, code))

    def _fail_from(self, check, exc, operation, key=None):
        """A FAIL line from a botocore error, via the storage's translator."""
        from contrib_awsstorage.s3.errors import S3StorageError, scrub, translate_client_error

        err = translate_client_error(
            exc, operation, self.bucket, key, region=self.client.meta.region_name
        )
        if isinstance(err, S3StorageError):
            fix = scrub(err.fix)
            if err.code == "NoSuchBucket":
                fix = f"{RUN_S3_SETUP} to create and set it up; or {fix}"
            self._add(check, FAIL, scrub(err.summary), fix, err.code)
        else:
            self._add(check, FAIL, scrub(err), "run with the storage's debug logging.")
        return err

    def run(self) -> list[CheckResult]:
        for step in ORDER:
            if step in ("read", "delete"):
                continue  # reported by check_write, which must always clean up
            if self.deadline is not None and time.monotonic() > self.deadline:
                self._add(step, SKIP, "not checked: the time budget ran out.")
                continue
            if self.blocker and step not in ("credentials", "endpoint", "clock"):
                self._add(step, SKIP, f"not checked: {self.blocker}.")
                continue
            try:
                getattr(self, f"check_{step}")()
            except Exception as exc:  # a check must report, never raise a traceback
                self._unexpected(step, exc)
        return self.results

    def _unexpected(self, step, exc):
        from contrib_awsstorage.s3.errors import S3StorageError, scrub

        if isinstance(exc, S3StorageError):
            self._add(step, FAIL, scrub(exc.summary), scrub(exc.fix), exc.code)
        else:
            self._add(
                step,
                FAIL,
                scrub(f"{type(exc).__name__}: {exc}"),
                "this looks like a bug in the check; please report it with this line.",
            )
        self.blocker = self.blocker or f"the {step} check failed"

    # -- steps -----------------------------------------------------------
    def check_credentials(self):
        storage = self.storage
        if storage.access_key and not storage.secret_key:
            self._add(
                "credentials",
                FAIL,
                f"an access key is set ({storage.credential_source()}) but no secret key.",
                "set AWS_SECRET_ACCESS_KEY (or OPTIONS secret_key) next to it.",
            )
            self.blocker = "incomplete credentials"
            return
        from contrib_awsstorage.s3.credentials import RENEWABLE_FIX, describe

        info = describe(storage)  # reads the client's own credentials; never raises
        if info.error:
            self._add(
                "credentials",
                FAIL,
                f"cannot get the credentials from {info.source}: {info.error}.",
                "check the profile's role_arn / source_profile / sso / credential_process "
                "settings and that STS is reachable.",
            )
            self.blocker = "no credentials"
            return
        if not info.found:
            from contrib_awsstorage.s3.errors import CREDENTIAL_PLACES

            _, where = chain_credentials(storage)
            self._add(
                "credentials",
                FAIL,
                f"no AWS credentials found{where} (looked in: {'; '.join(CREDENTIAL_PLACES)}).",
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in your secret settings "
                "(or the environment), or configure an AWS profile / instance role.",
            )
            self.blocker = "no credentials"
            return
        if info.expired:
            self._add(
                "credentials",
                FAIL,
                f"{info.summary()}: they have expired and nothing can renew them.",
                RENEWABLE_FIX,
                "ExpiredToken",
            )
            self.blocker = "the credentials have expired"
            return
        self._add("credentials", OK, f"{info.summary()}.")
        for message, fix in info.warnings():
            self._add("credentials", WARN, message, fix)

    def check_endpoint(self):
        endpoint = self.client.meta.endpoint_url
        if self.proxies:
            self._add(
                "endpoint",
                SKIP,
                f"{endpoint} is reached through AWS_S3_PROXIES; "
                "the bucket check below shows whether it works.",
            )
            return
        if endpoint not in self.endpoint_answers:
            started = time.monotonic()
            answer = request(
                endpoint.rstrip("/") + "/",
                "GET",
                timeout=RAW_TIMEOUT,
                verify=getattr(self.storage, "verify", None),
            )
            self.endpoint_answers[endpoint] = (answer, (time.monotonic() - started) * 1000)
        answer, elapsed = self.endpoint_answers[endpoint]
        if not answer.reached:
            custom = bool(getattr(self.storage, "endpoint_url", None))
            fix = (
                "check AWS_S3_ENDPOINT_URL and that the S3 server there is running."
                if custom
                else "check the network/firewall towards AWS and AWS_S3_REGION_NAME."
            )
            self._add("endpoint", FAIL, f"cannot reach {endpoint}: {answer.error}.", fix)
            self.blocker = f"{endpoint} unreachable"
            return
        self.server_date = answer.date
        self._add("endpoint", OK, f"{endpoint} answered HTTP {answer.status} in {elapsed:.0f} ms.")

    def check_clock(self):
        if self.server_date is None:
            reason = (
                "the endpoint was not reached"
                if not self.results or self.results[-1].status != OK
                else "the endpoint sent no Date header"
            )
            self._add("clock", SKIP, f"clock skew not measured: {reason}.")
            return
        skew = time.time() - self.server_date
        ahead = "ahead of" if skew > 0 else "behind"
        text = f"local clock is {abs(skew):.0f} s {ahead} the server's"
        fix = "synchronise the system clock (NTP), e.g. 'timedatectl set-ntp true'."
        if abs(skew) >= CLOCK_FAIL_SECONDS:
            self._add(
                "clock",
                FAIL,
                f"{text}: S3 rejects requests skewed over 15 minutes (RequestTimeTooSkewed).",
                fix,
            )
        elif abs(skew) >= CLOCK_WARN_SECONDS:
            self._add("clock", WARN, f"{text}: signed URLs expire early or late.", fix)
        else:
            self._add("clock", OK, f"{text} (within {CLOCK_WARN_SECONDS} s).")

    def check_bucket(self):
        try:
            response = self.client.head_bucket(Bucket=self.bucket)
        except client_error_types() as exc:
            self._fail_from("bucket", exc, "HeadBucket")
            self.blocker = "the bucket check failed"
            return
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        real = response.get("BucketRegion") or headers.get("x-amz-bucket-region")
        configured = self.client.meta.region_name
        if real and configured and configured != "auto" and real != configured:
            self._add(
                "bucket",
                FAIL,
                f"bucket '{self.bucket}' is in region '{real}', but the storage is "
                f"configured for '{configured}': requests get redirected or rejected.",
                f"set AWS_S3_REGION_NAME = '{real}'.",
                "PermanentRedirect",
            )
            self.blocker = "the bucket is in another region"
            return
        self._add("bucket", OK, f"bucket '{self.bucket}' exists in region '{real or configured}'.")

    def check_list(self):
        try:
            response = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=self.prefix, MaxKeys=20
            )
        except client_error_types() as exc:
            self._fail_from("list", exc, "ListObjectsV2")
            return
        keys = [o["Key"] for o in response.get("Contents", [])]
        files = [
            k
            for k in keys
            if not k[len(self.prefix) :].startswith(PROBE_DIR) and not k.endswith("/")
        ]
        self.sample_key = files[0] if files else None
        more = "+" if response.get("IsTruncated") else ""
        where = f"prefix '{self.prefix}'" if self.prefix else "the bucket root"
        self._add("list", OK, f"listed {where}: {len(keys)}{more} object(s).")

    def check_acl(self):
        acl = getattr(self.storage, "default_acl", None)
        try:
            response = self.client.get_bucket_ownership_controls(Bucket=self.bucket)
            rules = response.get("OwnershipControls", {}).get("Rules", [])
            ownership = rules[0].get("ObjectOwnership") if rules else "ObjectWriter"
        except client_error_types() as exc:
            code = error_code(exc)
            if code == "OwnershipControlsNotFoundError":
                ownership = "ObjectWriter"  # no controls: ACLs enabled (buckets before 2023)
            elif code in ("AccessDenied", "403"):
                status = WARN if acl else OK
                self._add(
                    "acl",
                    status,
                    "cannot read the bucket's Object Ownership (s3:GetBucketOwnershipControls "
                    f"denied); AWS_DEFAULT_ACL = {acl!r}.",
                    "allow s3:GetBucketOwnershipControls so this can be verified, or keep "
                    "AWS_DEFAULT_ACL = None."
                    if acl
                    else "",
                )
                return
            else:  # S3-compatible stores without the API, or a server error
                self._add(
                    "acl",
                    OK if not acl else WARN,
                    f"could not read the bucket's Object Ownership ({code or type(exc).__name__}); "
                    f"AWS_DEFAULT_ACL = {acl!r}.",
                    ""
                    if not acl
                    else "if uploads fail with AccessControlListNotSupported, "
                    "set AWS_DEFAULT_ACL = None.",
                )
                return
        # With ACLs disabled S3 still accepts exactly this one canned ACL.
        if acl and acl != "bucket-owner-full-control" and ownership == "BucketOwnerEnforced":
            self._add(
                "acl",
                FAIL,
                f"AWS_DEFAULT_ACL = {acl!r} but bucket '{self.bucket}' has ACLs disabled "
                "(Object Ownership: BucketOwnerEnforced): every upload fails with "
                "AccessControlListNotSupported.",
                f"set AWS_DEFAULT_ACL = None, then {RUN_S3_SETUP}: it grants public read "
                "with a bucket policy instead of ACLs.",
                "AccessControlListNotSupported",
            )
            return
        self._add(
            "acl", OK, f"AWS_DEFAULT_ACL = {acl!r} works with Object Ownership '{ownership}'."
        )

    def check_sync(self):
        from contrib_awsstorage.s3.errors import S3StorageError, scrub
        from contrib_awsstorage.sync.record import read_last_run

        try:
            record = read_last_run(self.storage)
        except S3StorageError as exc:
            self._add(
                "sync",
                WARN,
                f"cannot read the last sync record: {scrub(exc.summary)}",
                scrub(exc.fix),
            )
            return
        self.results.append(sync_result(record, self.alias))


def sync_result(record: dict | None, alias: str) -> CheckResult:
    """The 'last sync' line from a sync record (``None``: never synced)."""
    from contrib_awsstorage.s3.errors import scrub

    command = "s3_migrate_static" if alias == "staticfiles" else "s3_migrate_static --source media"
    if not record:
        # Not a problem (a new bucket, say, right after s3_setup): a note, not a warning.
        note = (
            " Static files go up with 'evennia collectstatic' (or 'evennia s3_migrate_static')."
            if alias == "staticfiles"
            else ""
        )
        return CheckResult("sync", OK, f"no sync recorded yet.{note}", "", alias)
    when = record.get("finished_at") or record.get("started_at") or "an unknown time"
    counts = ", ".join(
        f"{record.get(k, 0)} {k}" for k in ("uploaded", "unchanged", "deleted", "failed")
    )
    failed = int(record.get("failed") or 0)
    if failed or record.get("ok") is False:
        first = (record.get("failures") or [{}])[0]
        detail = f" First: {first.get('name')}: {first.get('error')}" if first.get("name") else ""
        return CheckResult(
            "sync",
            FAIL,
            scrub(f"last sync at {when} had failures ({counts}).{detail}"),
            f"fix the cause above, then re-run 'evennia {command}'.",
            alias,
        )
    return CheckResult("sync", OK, f"last sync at {when}: {counts}.", "", alias)
