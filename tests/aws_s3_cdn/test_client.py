"""One shared client, concurrency, pickling, deconstruction, import isolation."""

from __future__ import annotations

import hashlib
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor

from django.core.files.base import ContentFile
from django.db import models
from django.db.migrations.writer import MigrationWriter

from contrib_awsstorage.aws_s3_cdn import (
    S3Boto3Storage,
    S3Bucket,
    S3ManifestStaticStorage,
    S3StaticStorage,
)


def test_one_client_shared_by_threads(storage):
    barrier = threading.Barrier(8)

    def get(_):
        barrier.wait()
        return storage.connection

    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(get, range(8)))
    assert all(c is clients[0] for c in clients)
    assert clients[0].meta.service_model.service_name == "s3"  # a client, not a resource
    assert clients[0].meta.config.max_pool_connections == 32
    assert clients[0].meta.config.signature_version == "s3v4"


def test_sixteen_threads_saving_concurrently(storage, s3_client, bucket):
    payloads = {
        f"conc/{i:02d}.bin": hashlib.sha256(str(i).encode()).digest() * (100 + i) for i in range(16)
    }
    barrier = threading.Barrier(16)

    def save(item):
        name, data = item
        barrier.wait()
        return storage.save(name, ContentFile(data))

    with ThreadPoolExecutor(16) as pool:
        names = list(pool.map(save, payloads.items()))
    assert sorted(names) == sorted(payloads)
    for name, data in payloads.items():
        assert s3_client.get_object(Bucket=bucket, Key=name)["Body"].read() == data
        with storage.open(name) as f:
            assert f.read() == data


def test_bucket_property_is_a_lightweight_handle(storage, bucket, counted):
    counter = counted(storage)
    handle = storage.bucket
    assert isinstance(handle, S3Bucket)
    assert handle.name == bucket and str(handle) == bucket and handle == bucket
    assert handle.client is storage.connection
    assert counter.count == 0


def test_pickle_round_trip_keeps_settings_and_works(make_storage, bucket):
    storage = make_storage(location="media", gzip=True, preload_metadata=True)
    storage.save("p.css", ContentFile(b"a{}"))
    storage.bucket  # noqa: B018 - a used storage pickles too
    clone = pickle.loads(pickle.dumps(storage))
    assert clone.bucket_name == bucket and clone.location == "media" and clone.gzip is True
    assert clone._client is None and not clone._index.loaded
    assert clone.exists("p.css")
    with clone.open("p.css") as f:
        assert f.read() == b"a{}"
    copy = pickle.loads(pickle.dumps(S3StaticStorage(custom_domain="cdn.example.com")))
    assert copy.url("a.txt") == "https://cdn.example.com/a.txt"
    manifest = pickle.loads(pickle.dumps(S3ManifestStaticStorage(custom_domain="cdn.example.com")))
    assert manifest.hashed_files == {}  # loaded (empty bucket: no manifest yet) after unpickling


def test_deconstruct_for_migrations(make_storage):
    storage = make_storage(location="uploads", default_acl="private")
    path, args, kwargs = storage.deconstruct()
    assert path == "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage"
    assert kwargs == {"location": "uploads", "default_acl": "private"}
    rebuilt = S3Boto3Storage(*args, **kwargs)
    assert rebuilt.location == "uploads" and rebuilt.default_acl == "private"
    field = models.FileField(storage=storage, upload_to="avatars")
    _, _, _, field_kwargs = field.deconstruct()
    source, imports = MigrationWriter.serialize(field_kwargs["storage"])
    assert "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage(" in source and "'uploads'" in source
    assert S3StaticStorage().deconstruct()[0] == "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"


def test_deconstruct_never_writes_secrets(make_storage):
    storage = make_storage(
        location="u",
        access_key="AKIAEMBEDDEDS3DEMO00",
        secret_key="not-for-migrations",
        security_token="tok-not-for-migrations",
    )
    _, _, kwargs = storage.deconstruct()
    assert kwargs == {"location": "u", "access_key": "AKIAEMBEDDEDS3DEMO00"}
    source, _ = MigrationWriter.serialize(storage)
    assert "not-for-migrations" not in source


def test_checksum_mode_when_required_works_against_server(
    make_storage, s3_client, bucket, request_counter
):
    storage = make_storage(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        signature_version="s3v4",
    )
    seen = []
    storage.connection.meta.events.register(
        "before-send.s3", lambda request, **kw: seen.append(dict(request.headers))
    )
    storage.save("c.txt", ContentFile(b"checksum-free"))
    assert not any(k.lower().startswith("x-amz-checksum") for k in seen[0]), seen[0]
    assert s3_client.get_object(Bucket=bucket, Key="c.txt")["Body"].read() == b"checksum-free"
    default = make_storage()
    sent = []
    default.connection.meta.events.register(
        "before-send.s3", lambda request, **kw: sent.append(dict(request.headers))
    )
    default.save("d.txt", ContentFile(b"with checksum"))
    assert any(
        k.lower().startswith("x-amz-checksum") or k.lower() == "x-amz-sdk-checksum-algorithm"
        for k in sent[0]
    ), sent[0]
