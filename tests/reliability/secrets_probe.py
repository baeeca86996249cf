"""In-process error paths for the secrets scan (run as a child process).

Prints everything a user could see - messages, reprs, tracebacks, the
in-game ``@awsstatus`` output - to stdout/stderr; logs go to stderr at DEBUG.
"""

import os
import pickle
import traceback

import django

django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import storages  # noqa: E402

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage  # noqa: E402


def show(label, func):
    print(f"== {label}", flush=True)
    try:
        print("result:", func())
    except Exception as exc:  # noqa: BLE001 - printed like a crash would be
        print(f"error: {type(exc).__name__}: {exc}")
        print(repr(exc))
        traceback.print_exc()


class Caller:
    """Who ran the in-game command: prints what the game would send."""

    def msg(self, text=None, **kwargs):
        print(text)


def awsstatus(*switches):
    from contrib_awsstorage.awsstatus import CmdAwsStatus

    cmd = CmdAwsStatus()
    cmd.caller, cmd.switches, cmd.args = Caller(), list(switches), ""
    cmd.func()


media = storages["default"]
static = storages["staticfiles"]
show("repr", lambda: (repr(media), repr(static), str(media.__class__)))
show("deconstruct", lambda: media.deconstruct())
show(
    "deconstruct with OPTIONS secrets",
    lambda: S3Boto3Storage(
        secret_key=os.environ["SCAN_SECRET_KEY"], security_token=os.environ["SCAN_SESSION_TOKEN"]
    ).deconstruct(),
)
show("pickle round trip", lambda: repr(pickle.loads(pickle.dumps(media))))
show("save", lambda: media.save("probe/ok.txt", ContentFile(b"ok")))
show("presigned url (not printed, only logged if at all)", lambda: len(media.url("probe/ok.txt")))
show("open missing", lambda: media.open("probe/missing.txt").read())
show("denied write", lambda: media.save("denied/x.txt", ContentFile(b"x")))
show(
    "missing bucket",
    lambda: S3Boto3Storage(bucket_name="no-such-bucket-anywhere").save("x.txt", ContentFile(b"x")),
)
show("dead endpoint", lambda: S3Boto3Storage(endpoint_url="http://127.0.0.1:9").exists("x.txt"))
show("secret of the wrong type", lambda: S3Boto3Storage(secret_key=[os.environ["SCAN_SECRET_KEY"]]))
show(
    "token of the wrong type",
    lambda: S3Boto3Storage(security_token=b"x" + os.environ["SCAN_SESSION_TOKEN"].encode()),
)
show("@awsstatus", awsstatus)
show("@awsstatus/refresh", lambda: awsstatus("refresh"))
show("@awsstatus/check/write", lambda: awsstatus("check", "write"))
