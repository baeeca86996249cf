"""Errors a user can act on, produced by real failures of the S3 server."""

from __future__ import annotations

import json
import traceback

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.files.base import ContentFile

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage
from contrib_awsstorage.s3.errors import (
    S3AccessDenied,
    S3AclNotSupported,
    S3BucketNotFound,
    S3EndpointError,
    S3InvalidCredentials,
    S3NoCredentials,
    S3StorageError,
    S3WrongRegion,
    scrub,
    translate_client_error,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEBYaDEXAMPLETOKENxyzxyzxyzxyzxyzxyzxyzxyz"


def full_text(exc) -> str:
    return "".join(traceback.format_exception(exc))


def assert_actionable(exc, operation, bucket):
    text = str(exc)
    assert operation in text and bucket in text, text
    assert "Fix: " in text and exc.fix and "\n" not in exc.fix
    assert "Traceback" not in text


def test_missing_bucket_name(settings):
    settings.AWS_STORAGE_BUCKET_NAME = None
    storage = S3Boto3Storage()
    with pytest.raises(ImproperlyConfigured) as err:
        storage.exists("a.txt")
    assert "AWS_STORAGE_BUCKET_NAME" in str(err.value) and "Fix:" in str(err.value)
    with pytest.raises(ImproperlyConfigured):
        storage.save("a.txt", ContentFile(b"a"))


def test_bucket_does_not_exist(make_storage, bucket):
    storage = make_storage(bucket_name=bucket + "-missing")
    with pytest.raises(S3BucketNotFound) as err:
        storage.save("a.txt", ContentFile(b"a"))
    assert isinstance(err.value, ImproperlyConfigured)
    assert_actionable(err.value, "PutObject", bucket + "-missing")
    assert "AWS_STORAGE_BUCKET_NAME" in str(err.value)
    with pytest.raises(S3BucketNotFound):
        storage.listdir("")
    with pytest.raises(S3BucketNotFound):
        storage.check_bucket()


def test_wrong_region_names_the_real_region(make_storage, s3_server, bucket):
    name = bucket + "-eu"
    s3_server.create_bucket(name, region="eu-west-1")
    storage = make_storage(bucket_name=name, region_name="us-east-1")
    with pytest.raises(S3WrongRegion) as err:
        storage.check_bucket()
    assert err.value.real_region == "eu-west-1"
    assert "AWS_S3_REGION_NAME = 'eu-west-1'" in str(err.value)
    assert_actionable(err.value, "HeadBucket", name)
    assert make_storage(bucket_name=name, region_name="eu-west-1").check_bucket() == "eu-west-1"


@pytest.mark.parametrize(
    "code, status, headers, message",
    [
        ("PermanentRedirect", 301, {"x-amz-bucket-region": "ap-south-1"}, "use the endpoint"),
        (
            "AuthorizationHeaderMalformed",
            400,
            {},
            "the region 'us-east-1' is wrong; expecting 'ap-south-1'",
        ),
    ],
)
def test_wrong_region_from_aws_style_responses(code, status, headers, message):
    exc = ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
        },
        "GetObject",
    )
    err = translate_client_error(exc, "GetObject", "game-bucket", "a.css", region="us-east-1")
    assert isinstance(err, S3WrongRegion) and isinstance(err, ImproperlyConfigured)
    assert err.real_region == "ap-south-1"
    assert "'ap-south-1'" in str(err) and "us-east-1" in str(err)


def test_access_denied_names_operation_and_bucket(make_storage, s3_client, bucket):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3_client.put_object(Bucket=bucket, Key="there.txt", Body=b"t")
    s3_client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    try:
        storage = make_storage()
        with pytest.raises(S3AccessDenied) as err:
            storage.save("denied.txt", ContentFile(b"x"))
        assert isinstance(err.value, PermissionDenied)
        assert_actionable(err.value, "PutObject", bucket)
        assert "s3:PutObject" in err.value.fix and f"arn:aws:s3:::{bucket}/*" in err.value.fix
        with pytest.raises(S3AccessDenied) as err:
            storage.size("there.txt")
        assert_actionable(err.value, "HeadObject", bucket)
        assert "s3:GetObject" in err.value.fix
    finally:
        s3_client.delete_bucket_policy(Bucket=bucket)


def test_no_credentials_lists_where_it_looked(s3_settings, monkeypatch, tmp_path):
    empty = tmp_path / "credentials"
    empty.write_text("")
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_S3_ACCESS_KEY_ID",
        "AWS_S3_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    del s3_settings.AWS_ACCESS_KEY_ID
    del s3_settings.AWS_SECRET_ACCESS_KEY
    storage = S3Boto3Storage()
    assert storage.credential_source().startswith("boto3 default chain")
    assert storage.masked_access_key() is None
    with pytest.raises(S3NoCredentials) as err:
        storage.exists("a.txt")
    text = str(err.value)
    assert isinstance(err.value, ImproperlyConfigured)
    for place in ("AWS_ACCESS_KEY_ID", "shared credentials file", "instance role", "HeadObject"):
        assert place in text


def test_access_key_without_secret_is_explained(make_storage, monkeypatch):
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    storage = make_storage(access_key="AKIAONLYKEYNOSECRET1", secret_key="")
    with pytest.raises(ImproperlyConfigured, match="no secret key") as err:
        storage.exists("x")
    assert "AWS_SECRET_ACCESS_KEY" in str(err.value)


def test_acl_on_bucket_with_acls_disabled():
    exc = ClientError(
        {
            "Error": {
                "Code": "AccessControlListNotSupported",
                "Message": "The bucket does not allow ACLs",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
        },
        "PutObject",
    )
    err = translate_client_error(exc, "PutObject", "game-bucket", "a.css")
    assert isinstance(err, S3AclNotSupported) and isinstance(err, ImproperlyConfigured)
    assert "AWS_DEFAULT_ACL" in err.fix


def test_rejected_credentials_and_unreachable_endpoint(make_storage):
    exc = ClientError(
        {
            "Error": {
                "Code": "SignatureDoesNotMatch",
                "Message": "no match",
                "StringToSign": "AWS4-HMAC-SHA256\n...",
            },
            "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}},
        },
        "PutObject",
    )
    err = translate_client_error(exc, "PutObject", "b-1", "k")
    assert isinstance(err, S3InvalidCredentials) and "AWS_SECRET_ACCESS_KEY" in err.fix
    storage = make_storage(
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    with pytest.raises(S3EndpointError) as err:
        storage.exists("a")
    assert "AWS_S3_ENDPOINT_URL" in err.value.fix


@pytest.mark.parametrize("operation", ["PutObject", "CreateMultipartUpload", "CopyObject"])
def test_a_bare_404_to_a_write_means_the_bucket_is_missing(operation):
    # No error body (a proxy, or a store that answers like HEAD): not "no such object".
    exc = ClientError(
        {
            "Error": {"Code": "404", "Message": "Not Found"},
            "ResponseMetadata": {"HTTPStatusCode": 404, "HTTPHeaders": {}},
        },
        operation,
    )
    err = translate_client_error(exc, operation, "game-bucket", "static/a.css")
    assert isinstance(err, S3BucketNotFound) and "AWS_STORAGE_BUCKET_NAME" in err.fix
    assert_actionable(err, operation, "game-bucket")
    head = translate_client_error(
        ClientError(exc.response, "HeadObject"), "HeadObject", "game-bucket", "static/a.css"
    )
    assert not isinstance(head, S3BucketNotFound) and "does not exist" in str(head)


def test_a_vanished_multipart_upload_says_so():
    # AWS's answer to a part for an aborted upload (moto's server answers 500 here instead).
    exc = ClientError(
        {
            "Error": {"Code": "NoSuchUpload", "Message": "The specified upload does not exist."},
            "ResponseMetadata": {"HTTPStatusCode": 404, "HTTPHeaders": {}},
        },
        "UploadPart",
    )
    bucket = "game-bucket"
    err = translate_client_error(exc, "UploadPart", bucket, "big.bin")
    assert err.code == "NoSuchUpload" and "multipart upload is gone" in str(err)
    assert_actionable(err, "UploadPart", bucket)


def test_checksum_rejection_points_to_the_setting():
    exc = ClientError(
        {
            "Error": {
                "Code": "InvalidArgument",
                "Message": "x-amz-checksum-crc32 checksum header not supported",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
        },
        "PutObject",
    )
    err = translate_client_error(exc, "PutObject", "b-1", "k")
    assert "AWS_S3_REQUEST_CHECKSUM_CALCULATION" in err.fix


def test_unknown_error_keeps_code_but_scrubs_secrets():
    exc = ClientError(
        {
            "Error": {
                "Code": "WeirdThing",
                "Message": f"bad request X-Amz-Signature=abcdef0123 key {SECRET} AKIAIOSFODNN7EXAMPLE",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
        },
        "PutObject",
    )
    err = translate_client_error(exc, "PutObject", "b-1", "k")
    assert type(err) is S3StorageError and err.code == "WeirdThing"
    assert (
        SECRET not in str(err)
        and "abcdef0123" not in str(err)
        and "AKIAIOSFODNN7EXAMPLE" not in str(err)
    )
    assert scrub("plain words") == "plain words"


def test_secrets_never_in_messages_or_repr(make_storage, bucket, monkeypatch):
    storage = make_storage(
        bucket_name=bucket + "-gone",
        access_key="AKIAEMBEDDEDS3DEMO00",
        secret_key=SECRET,
        security_token=TOKEN,
    )
    for text in (repr(storage), str(storage.__dict__.get("_sources"))):
        assert SECRET not in text and TOKEN not in text
    assert storage.masked_access_key() == "AKIA…MO00"
    assert storage.credential_source() == "STORAGES OPTIONS access_key"
    with pytest.raises(S3StorageError) as err:
        storage.save("x.txt", ContentFile(b"x"))
    assert SECRET not in full_text(err.value) and TOKEN not in full_text(err.value)
    presigned = make_storage(secret_key=SECRET, access_key="AKIAEMBEDDEDS3DEMO00").url("x")
    assert SECRET not in presigned


def test_credential_source_in_words(make_storage, s3_settings, monkeypatch):
    assert make_storage().credential_source() == "setting AWS_ACCESS_KEY_ID"
    del s3_settings.AWS_ACCESS_KEY_ID
    del s3_settings.AWS_SECRET_ACCESS_KEY
    assert make_storage().credential_source() == "environment variable AWS_ACCESS_KEY_ID"
    profiled = make_storage(session_profile="dev")
    assert profiled.credential_source() == "profile 'dev' (STORAGES OPTIONS session_profile)"
    assert profiled.masked_access_key() is None


def test_raised_errors_carry_no_botocore_traceback_but_keep_the_original(s3_settings):
    """What a user sees when it is not caught: one line and its fix, not
    botocore's traceback chained under it; the original stays for debugging."""
    import traceback

    from django.core.files.base import ContentFile

    from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage
    from contrib_awsstorage.s3.errors import S3StorageError

    storage = S3Boto3Storage(bucket_name="no-such-bucket-for-this-test")
    with pytest.raises(S3StorageError) as caught:
        storage.save("a.txt", ContentFile(b"x"))
    err = caught.value
    assert err.__cause__ is None and err.__suppress_context__
    shown = "".join(traceback.format_exception(err))
    assert "site-packages/botocore" not in shown and "botocore.exceptions" not in shown
    assert "does not exist" in shown
    assert type(err.botocore_error).__module__.startswith("botocore")


def test_errors_are_recognised_by_botocores_classes_not_their_names():
    """botocore's classes (and their subclasses) decide, not a class name:
    an unrelated exception that happens to share a name is not taken for one."""
    from botocore.exceptions import (
        ConnectTimeoutError,
        IncompleteReadError,
        NoCredentialsError,
        ResponseStreamingError,
    )

    from contrib_awsstorage.s3.errors import error_code

    assert isinstance(
        translate_client_error(NoCredentialsError(), "GetObject", "b"), S3NoCredentials
    )
    timeout = ConnectTimeoutError(endpoint_url="https://s3.example.com")
    assert isinstance(translate_client_error(timeout, "GetObject", "b"), S3EndpointError)
    for cut in (
        IncompleteReadError(actual_bytes=1, expected_bytes=2),
        ResponseStreamingError(error="reset"),
        ConnectionResetError("reset by peer"),
    ):
        err = translate_client_error(cut, "GetObject", "b", "k")
        assert type(err) is S3StorageError and "cut off" in str(err), cut

    class EndpointConnectionError(Exception):  # not botocore's
        response = {"Error": {"Code": "NoSuchBucket"}}

    err = translate_client_error(EndpointConnectionError("elsewhere"), "GetObject", "b", "k")
    assert type(err) is S3StorageError and not isinstance(err, S3EndpointError)
    assert "NoSuchBucket" not in str(err) and error_code(EndpointConnectionError()) == ""
