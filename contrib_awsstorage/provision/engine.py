"""Plan, then apply: one method per resource, each reading what is there first.

Every step returns a ``Change``: ``create`` / ``change`` (what it would
send, exactly), ``ok`` (nothing to do), ``skip`` (the store lacks the API,
or the credentials may not read it: the reason says which permission), and
after ``--apply`` ``fail`` for a refused write. Steps run in order, and a
step planned after an applied one sees its effect (the bucket policy sees the
distribution made just before it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ProfileNotFound

from . import cloudfront as cdn
from . import documents
from .apis import Absent, ApiMissing, Refused, call
from .config import ProvisionError
from .iam import runtime_policy

__all__ = ["Change", "Provisioner", "SetupReport", "CREATE", "CHANGE", "OK", "SKIP", "FAIL"]

CREATE, CHANGE, OK, SKIP, FAIL = "create", "change", "ok", "skip", "fail"
ACTIONS = (CREATE, CHANGE, OK, SKIP, FAIL)
PENDING_DISTRIBUTION_ARN = "arn:aws:cloudfront::<account>:distribution/<made by this run>"
CLOUDFRONT_REGION = "us-east-1"


@dataclass
class Change:
    """One resource: what is to be done, the exact request, and why."""

    resource: str
    action: str
    summary: str = ""
    requests: list[dict] = field(default_factory=list)  # [{"operation": ..., "params": ...}]
    reason: str = ""
    applied: bool = False
    send: object = field(default=None, repr=False, compare=False)

    @property
    def pending(self) -> bool:
        return self.action in (CREATE, CHANGE)

    def as_dict(self) -> dict:
        return {
            "resource": self.resource,
            "action": self.action,
            "summary": self.summary,
            "requests": self.requests,
            "reason": self.reason,
            "applied": self.applied,
        }

    def line(self) -> str:
        text = f"{self.action:<6} {self.resource:<20} {self.summary}"
        if self.reason:
            text += f" ({self.reason})" if self.summary else self.reason
        text = text.rstrip()
        for request in self.requests:
            body = json.dumps(request["params"], sort_keys=False, separators=(",", ":"))
            text += f"\n         {request['operation']} {body}"
        return text


@dataclass
class SetupReport:
    """What a run found or did, and what to paste afterwards."""

    bucket: str
    region: str
    applied: bool
    changes: list[Change] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    iam_policy: dict = field(default_factory=dict)

    @property
    def counts(self) -> dict:
        return {a: sum(c.action == a for c in self.changes) for a in ACTIONS}

    @property
    def pending(self) -> int:
        """Changes still to make (plan) or made by this run (apply)."""
        return sum(c.action in (CREATE, CHANGE) for c in self.changes)

    @property
    def failed(self) -> int:
        return self.counts[FAIL]

    def as_dict(self) -> dict:
        return {
            "bucket": self.bucket,
            "region": self.region,
            "applied": self.applied,
            "counts": self.counts,
            "resources": [c.as_dict() for c in self.changes],
            "settings": self.settings,
            "iam_policy": self.iam_policy,
        }


def _session(config):
    import boto3.session

    try:
        if config.profile:
            return boto3.session.Session(profile_name=config.profile)
        if config.access_key:
            return boto3.session.Session(
                aws_access_key_id=config.access_key,
                aws_secret_access_key=config.secret_key,
                aws_session_token=config.security_token,
            )
        if config.storage_profile:
            return boto3.session.Session(profile_name=config.storage_profile)
        return boto3.session.Session()
    except ProfileNotFound:
        which = "--profile" if config.profile else "AWS_S3_SESSION_PROFILE"
        name = config.profile or config.storage_profile
        raise ProvisionError(
            f"{which} {name!r}: there is no such profile in the AWS config/credentials files.",
            fix=f"create it (aws configure --profile {name}) or pass an existing one.",
        ) from None


def make_clients(config):
    """The S3 and CloudFront clients ``s3_setup`` uses (admin credentials if ``--profile``)."""
    from botocore.config import Config

    session = _session(config)
    common = dict(
        connect_timeout=10, read_timeout=60, retries={"mode": "standard", "max_attempts": 3}
    )
    s3_config = Config(
        # S3-compatible stores reject the CRC checksums boto3 >= 1.36 sends by default.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": config.addressing_style} if config.addressing_style else None,
        **common,
    )
    try:
        s3 = session.client(
            "s3",
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            verify=config.verify,
            config=s3_config,
        )
        cloudfront = session.client(
            "cloudfront",
            region_name=CLOUDFRONT_REGION,
            endpoint_url=config.cloudfront_endpoint_url,
            verify=config.verify,
            config=Config(**common),
        )
    except (BotoCoreError, ValueError) as exc:
        raise ProvisionError(
            f"Could not create the AWS clients: {type(exc).__name__}.",
            fix="check AWS_S3_REGION_NAME, AWS_S3_ENDPOINT_URL and AWS_CLOUDFRONT_ENDPOINT_URL.",
        ) from None
    return s3, cloudfront


class Provisioner:
    """Runs the setup steps for one ``SetupConfig``; ``run(apply=...)`` gives a report."""

    STEPS = (
        "bucket",
        "object_ownership",
        "public_access_block",
        "cloudfront",
        "bucket_policy",
        "cors",
        "lifecycle",
    )

    def __init__(self, config, *, s3=None, cloudfront=None, progress=None):
        self.config = config
        if s3 is None or cloudfront is None:
            made_s3, made_cloudfront = make_clients(config)
            s3, cloudfront = s3 or made_s3, cloudfront or made_cloudfront
        self.s3, self.cloudfront_client = s3, cloudfront
        self.progress = progress or (lambda change: None)
        self.bucket_exists = False
        self.distribution = None  # {"Id", "ARN", "DomainName"} once known

    @property
    def bucket(self) -> str:
        return self.config.bucket

    # -- the run ------------------------------------------------------------------
    def run(self, apply: bool = False) -> SetupReport:
        report = SetupReport(self.bucket, self.config.region, applied=apply)
        for step in self.STEPS:
            change = getattr(self, f"step_{step}")()
            if apply and change.pending:
                self._apply(change)
                if step == "bucket" and change.action == FAIL:
                    raise ProvisionError(
                        f"Could not create s3://{self.bucket}: {change.reason}.",
                        fix="nothing else can be set up without the bucket; grant "
                        "s3:CreateBucket or create it in the console, then run again.",
                    )
            report.changes.append(change)
            self.progress(change)
        if self.distribution:
            report.settings = {
                "AWS_S3_CUSTOM_DOMAIN": self.distribution["DomainName"],
                "AWS_CLOUDFRONT_DISTRIBUTION_ID": self.distribution["Id"],
            }
        report.iam_policy = runtime_policy(
            self.config, self.distribution["ARN"] if self.distribution else None
        )
        return report

    def _apply(self, change: Change) -> None:
        try:
            change.send()
            change.applied = True
        except ApiMissing as exc:
            change.action, change.reason = SKIP, str(exc)
        except Refused as exc:
            change.action, change.reason = FAIL, str(exc)

    def _read(self, resource: str, operation: str, expect: str, **params):
        """(answer, None), (None, None) when there is none, or (None, a skip Change)."""
        if not self.bucket_exists:
            return None, None
        try:
            return call(self.s3, operation, expect, Bucket=self.bucket, **params), None
        except Absent:
            return None, None
        except (ApiMissing, Refused) as exc:
            return None, Change(resource, SKIP, reason=str(exc))

    def _put(self, operation: str, **params):
        return lambda: call(self.s3, operation, Bucket=self.bucket, **params)

    @staticmethod
    def _request(operation: str, **params) -> dict:
        return {"operation": operation, "params": params}

    # -- the steps ------------------------------------------------------------------
    def step_bucket(self) -> Change:
        try:
            call(self.s3, "HeadBucket", Bucket=self.bucket)
            self.bucket_exists = True
            self._check_region()
            return Change("bucket", OK, f"s3://{self.bucket} exists")
        except Absent:
            pass
        except ApiMissing:
            self.bucket_exists = True  # it answered; the store just lacks HEAD on buckets
            return Change("bucket", OK, f"s3://{self.bucket} exists")
        except Refused:
            if self._bucket_usable_after_refused_head():
                self.bucket_exists = True
                return Change("bucket", OK, f"s3://{self.bucket} exists")
            raise ProvisionError(
                f"s3://{self.bucket} (AWS_STORAGE_BUCKET_NAME) exists, but these credentials may "
                "not use it (HeadBucket: 403): another account owns that name, or the "
                "credentials lack s3:ListBucket on it.",
                fix="choose another AWS_STORAGE_BUCKET_NAME, or run with --profile NAME of the "
                "bucket owner's admin credentials.",
            ) from None
        params = {"Bucket": self.bucket}
        if self.config.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.config.region}

        def send():
            call(self.s3, "CreateBucket", **params)
            self.bucket_exists = True

        return Change(
            "bucket",
            CREATE,
            f"s3://{self.bucket} in {self.config.region}",
            [self._request("CreateBucket", **params)],
            send=send,
        )

    def _check_region(self) -> None:
        """An existing bucket in another region than AWS_S3_REGION_NAME: say so now."""
        try:
            answer = call(self.s3, "GetBucketLocation", Bucket=self.bucket)
        except (Absent, ApiMissing, Refused):
            return
        # S3 names us-east-1 by no constraint at all (and eu-west-1 by the legacy "EU").
        region = answer.get("LocationConstraint") or "us-east-1"
        region = "eu-west-1" if region == "EU" else region
        if self.config.endpoint_url is None and region != self.config.region:
            raise ProvisionError(
                f"s3://{self.bucket} is in {region}, but AWS_S3_REGION_NAME is "
                f"{self.config.region!r}.",
                fix=f"set AWS_S3_REGION_NAME = {region!r}.",
            )

    def _bucket_usable_after_refused_head(self) -> bool:
        """HEAD has no error body: ask once more with a GET, whose error names the cause
        (rejected keys raise ``ProvisionError``); a GET that works means the bucket is usable."""
        try:
            call(self.s3, "ListObjectsV2", Bucket=self.bucket, MaxKeys=1)
        except (Absent, ApiMissing, Refused):
            return False
        return True

    def step_object_ownership(self) -> Change:
        resource = "object ownership"
        answer, skip = self._read(resource, "GetBucketOwnershipControls", "OwnershipControls.Rules")
        if skip:
            return skip
        rules = (answer or {}).get("OwnershipControls", {}).get("Rules") or []
        if [r.get("ObjectOwnership") for r in rules] == ["BucketOwnerEnforced"]:
            return Change(resource, OK, "BucketOwnerEnforced (ACLs off)")
        params = {"OwnershipControls": documents.OWNERSHIP}
        return Change(
            resource,
            CREATE if answer is None else CHANGE,
            "BucketOwnerEnforced (ACLs off)",
            [self._request("PutBucketOwnershipControls", Bucket=self.bucket, **params)],
            send=self._put("PutBucketOwnershipControls", **params),
        )

    def step_public_access_block(self) -> Change:
        resource = "public access block"
        answer, skip = self._read(
            resource, "GetPublicAccessBlock", "PublicAccessBlockConfiguration"
        )
        if skip:
            return skip
        wanted = documents.public_access_block(self.config)
        current = (answer or {}).get("PublicAccessBlockConfiguration")
        if self.config.public_policy_allowed:
            summary = "ACLs blocked; a public-read policy allowed (public static storage)"
        elif self.config.behind_cloudfront:
            summary = "all public access blocked (CloudFront reads the bucket)"
        else:
            summary = "all public access blocked (every storage is private)"
        if current is not None and all(current.get(k) == v for k, v in wanted.items()):
            return Change(resource, OK, summary)
        params = {"PublicAccessBlockConfiguration": wanted}
        return Change(
            resource,
            CREATE if current is None else CHANGE,
            summary,
            [self._request("PutPublicAccessBlock", Bucket=self.bucket, **params)],
            send=self._put("PutPublicAccessBlock", **params),
        )

    def step_cloudfront(self) -> Change:
        resource = "cloudfront"
        config = self.config
        if config.distribution_id:
            try:
                answer = call(self.cloudfront_client, "GetDistribution", Id=config.distribution_id)
            except Absent:
                raise ProvisionError(
                    f"AWS_CLOUDFRONT_DISTRIBUTION_ID = {config.distribution_id!r}: there is no "
                    "such distribution.",
                    fix="correct it to the ID the CloudFront console shows, or unset it and run "
                    "s3_setup --cloudfront --apply to make one.",
                ) from None
            except (ApiMissing, Refused) as exc:
                return Change(resource, SKIP, reason=str(exc))
            self.distribution = answer["Distribution"]
            if not cdn.serves_bucket(self.distribution, config):
                return Change(
                    resource,
                    SKIP,
                    f"distribution {config.distribution_id}",
                    reason=f"its origin is not s3://{self.bucket}: s3_setup does not change an "
                    "existing distribution; add the bucket as its origin with an origin access "
                    "control in the CloudFront console",
                )
            return Change(resource, OK, f"distribution {config.distribution_id} reads the bucket")
        if not config.cloudfront:
            return Change(
                resource,
                SKIP,
                reason="no distribution: AWS_CLOUDFRONT_DISTRIBUTION_ID is not set "
                "(--cloudfront makes one)",
            )
        try:
            found = self._find_distribution()
        except (ApiMissing, Refused) as exc:
            return Change(resource, SKIP, reason=str(exc))
        if found:
            self.distribution = found
            return Change(resource, OK, f"distribution {found['Id']} reads the bucket")
        oac_params = cdn.origin_access_control_config(config)
        dist_params = cdn.distribution_config(config, None)

        def send():
            oac_id = self._origin_access_control_id()
            created = call(
                self.cloudfront_client,
                "CreateDistribution",
                DistributionConfig=cdn.distribution_config(config, oac_id),
            )
            self.distribution = created["Distribution"]

        return Change(
            resource,
            CREATE,
            f"a distribution with s3://{self.bucket} as origin (origin access control)",
            [
                self._request("CreateOriginAccessControl", OriginAccessControlConfig=oac_params),
                self._request("CreateDistribution", DistributionConfig=dist_params),
            ],
            send=send,
        )

    def _find_distribution(self):
        marker = None
        while True:
            params = {"Marker": marker} if marker else {}
            page = call(self.cloudfront_client, "ListDistributions", **params)["DistributionList"]
            for item in page.get("Items") or []:
                if cdn.serves_bucket(item, self.config):
                    return item
            marker = page.get("NextMarker")
            if not page.get("IsTruncated") or not marker:
                return None

    def _origin_access_control_id(self) -> str:
        wanted = cdn.origin_access_control_config(self.config)
        listed = call(self.cloudfront_client, "ListOriginAccessControls")
        for item in listed.get("OriginAccessControlList", {}).get("Items") or []:
            if item.get("Name") == wanted["Name"]:
                return item["Id"]
        created = call(
            self.cloudfront_client, "CreateOriginAccessControl", OriginAccessControlConfig=wanted
        )
        return created["OriginAccessControl"]["Id"]

    def step_bucket_policy(self) -> Change:
        resource = "bucket policy"
        answer, skip = self._read(resource, "GetBucketPolicy", "Policy")
        if skip:
            return skip
        current = json.loads(answer["Policy"]) if answer else None
        arn = self.distribution["ARN"] if self.distribution else PENDING_DISTRIBUTION_ARN
        ours = documents.our_statements(self.config, arn)
        wanted = documents.policy_document(current, ours)
        summary = self._policy_summary()
        if wanted is None and current is None:
            return Change(resource, OK, summary)
        if wanted is not None and documents.same_policy(current, wanted):
            return Change(resource, OK, summary)
        if wanted is None:  # only our statements were there, and none are wanted now
            return Change(
                resource,
                CHANGE,
                summary,
                [self._request("DeleteBucketPolicy", Bucket=self.bucket)],
                send=self._put("DeleteBucketPolicy"),
            )
        return Change(
            resource,
            CREATE if current is None else CHANGE,
            summary,
            # The Policy parameter is this document as JSON text.
            [self._request("PutBucketPolicy", Bucket=self.bucket, Policy=wanted)],
            send=self._put("PutBucketPolicy", Policy=json.dumps(wanted)),
        )

    def _policy_summary(self) -> str:
        config = self.config
        private = ", ".join(loc.where for loc in config.private_locations)
        kept = f"; {private} private" if private else ""
        if config.behind_cloudfront:
            where = ", ".join(loc.where for loc in config.cloudfront_read_locations)
            if not where:
                return f"nothing to allow{kept}"
            return f"only the CloudFront distribution reads {where}{kept}"
        public = ", ".join(loc.where for loc in config.public_locations)
        if not public:
            return f"nothing public{kept}"
        return f"public read of {public}{kept}"

    def step_cors(self) -> Change:
        resource = "cors"
        if not self.config.origins:
            return Change(
                resource,
                SKIP,
                reason="no web origins: ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS are empty; pass "
                "--origin https://your.game (repeatable)",
            )
        answer, skip = self._read(resource, "GetBucketCors", "CORSRules")
        if skip:
            return skip
        current = (answer or {}).get("CORSRules")
        wanted = documents.cors_rules(current, self.config.origins)
        summary = f"GET/HEAD from {', '.join(self.config.origins)}"
        if current is not None and documents.same_rules(current, wanted):
            return Change(resource, OK, summary)
        params = {"CORSConfiguration": {"CORSRules": wanted}}
        return Change(
            resource,
            CREATE if current is None else CHANGE,
            summary,
            [self._request("PutBucketCors", Bucket=self.bucket, **params)],
            send=self._put("PutBucketCors", **params),
        )

    def step_lifecycle(self) -> Change:
        resource = "lifecycle"
        answer, skip = self._read(resource, "GetBucketLifecycleConfiguration", "Rules")
        if skip:
            return skip
        current = (answer or {}).get("Rules")
        wanted = documents.lifecycle_rules(current)
        summary = f"abort incomplete multipart uploads after {documents.ABORT_MULTIPART_DAYS} days"
        if current is not None and documents.same_rules(current, wanted):
            return Change(resource, OK, summary)
        params = {"LifecycleConfiguration": {"Rules": wanted}}
        return Change(
            resource,
            CREATE if current is None else CHANGE,
            summary,
            [self._request("PutBucketLifecycleConfiguration", Bucket=self.bucket, **params)],
            send=self._put("PutBucketLifecycleConfiguration", **params),
        )
