"""A small deploy costs only what it needs (engine.py, issue "deploys at the floor"):
the reads go out together and are reused by the plan; the sync manifest is
written while the files upload when its entries are known beforehand, and
corrected when the uploads end otherwise; the manifest history is read only
when a static manifest changes; every phase is timed."""

from __future__ import annotations

import hashlib
import json

import pytest
from botocore.config import Config

from contrib_awsstorage.sync import SyncOptions, sync_directory
from contrib_awsstorage.sync import record as syncrecord
from contrib_awsstorage.sync.engine import SyncRun
from contrib_awsstorage.sync.generations import GENERATIONS_NAME
from contrib_awsstorage.sync.plan import (
    MANIFEST_NAME,
    StateEntry,
    object_fingerprint,
    state_document,
    walk_tree,
)
from contrib_awsstorage.sync.timings import PHASES
from tools.faultproxy import FaultProxy

from .helpers import RejectingStorage, body, request_paths, small_tree, write_tree

STATE_KEY = "static/" + MANIFEST_NAME


def manifest_puts(counter) -> int:
    return sum(
        1 for m, p in request_paths(counter.requests) if m == "PUT" and p.endswith(MANIFEST_NAME)
    )


def stored_state(s3_client, bucket) -> dict:
    return json.loads(body(s3_client, bucket, STATE_KEY))["entries"]


@pytest.fixture(autouse=True)
def production_noop(settings):
    """The shipped default (the test settings turn the early no-op answer off)."""
    settings.AWS_S3_SYNC_QUICK_NOOP = True


def run_once(storage, root, **options) -> tuple[SyncRun, object]:
    run = SyncRun(storage, walk_tree(root), SyncOptions(source=root, **options))
    return run, run.run()


def test_a_small_change_reads_once_and_writes_the_manifest_during_the_uploads(
    storage, tmp_path, counted, bucket
):
    root = write_tree(tmp_path / "root", small_tree(12))
    sync_directory(storage, root)
    write_tree(root, {"css/style0.css": "a{color:red}", "css/added.css": "b{}"})
    counter = counted(storage)

    run, report = run_once(storage, root)

    assert sorted(report.uploaded) == ["css/added.css", "css/style0.css"] and report.ok
    paths = request_paths(counter.requests)
    gets = [p for m, p in paths if m == "GET"]
    # one round of reads (listing, sync manifest, record) and the stale-upload
    # listing: the plan reuses them, nothing is listed or read twice
    assert sum("list-type=2" in p for p in gets) == 1
    assert sum(p.endswith(MANIFEST_NAME) for p in gets) == 1
    assert sum(p.endswith(syncrecord.LAST_RUN_NAME) for p in gets) == 1
    assert sum("?uploads" in p for p in gets) == 1 and len(gets) == 4
    assert run.early is not None and manifest_puts(counter) == 1  # written once, early
    assert not any(GENERATIONS_NAME in p for _, p in paths)  # no static manifest changed
    counter.reset()
    again = sync_directory(storage, root)  # what the early manifest says is true
    assert again.uploaded == [] and again.requests == 3 and counter.count == 3


def test_the_early_manifest_is_corrected_when_an_upload_fails(
    make_storage, tmp_path, counted, s3_client, bucket
):
    storage = make_storage(RejectingStorage, location="static")
    root = write_tree(tmp_path / "root", {"css/a.css": "a{}", "css/b.css": "b{}"})
    sync_directory(storage, root)
    write_tree(root, {"css/a.css": "a{color:red}", "css/broken.css": "x{}"})
    counter = counted(storage)

    run, report = run_once(storage, root)

    assert report.uploaded == ["css/a.css"] and [n for n, _ in report.failures] == [
        "css/broken.css"
    ]
    predicted = run.early[1]
    assert "static/css/broken.css" in predicted  # the early write claimed it...
    assert manifest_puts(counter) == 2  # ...so the manifest was written again
    entries = stored_state(s3_client, bucket)
    assert "static/css/broken.css" not in entries
    assert entries["static/css/a.css"][0] == hashlib.md5(b"a{color:red}").hexdigest()


def test_an_early_manifest_whose_uploads_never_happened_converges(
    storage, tmp_path, s3_client, bucket
):
    """A run killed after its early manifest write and before its uploads leaves a
    manifest that claims objects the bucket does not hold: the next run trusts
    no entry the listing does not confirm, so it uploads them."""
    root = write_tree(tmp_path / "root", small_tree(6))
    sync_directory(storage, root)
    changed = {"css/style0.css": b"a{color:blue}", "css/style1.css": b"b{color:blue}"}
    write_tree(root, {name: data.decode() for name, data in changed.items()})
    entries = {key: StateEntry(*value) for key, value in stored_state(s3_client, bucket).items()}
    for name, data in changed.items():  # what the killed run's early write said
        md5 = hashlib.md5(data).hexdigest()
        entries["static/" + name] = StateEntry(
            md5, md5, len(data), object_fingerprint(storage, name)
        )
    s3_client.put_object(Bucket=bucket, Key=STATE_KEY, Body=state_document(entries))

    report = sync_directory(storage, root)

    assert sorted(report.uploaded) == sorted(changed)
    for name, data in changed.items():
        assert body(s3_client, bucket, "static/" + name) == data


def test_gzipped_bodies_are_not_predicted_the_manifest_follows_the_uploads(
    s3_settings, make_storage, tmp_path, counted, s3_client, bucket
):
    s3_settings.AWS_IS_GZIPPED = True
    storage = make_storage(location="static")
    root = write_tree(tmp_path / "root", small_tree(4))
    sync_directory(storage, root)
    write_tree(root, {"css/style0.css": "a{color:green}" * 50})
    counter = counted(storage)

    run, report = run_once(storage, root)

    assert report.uploaded == ["css/style0.css"] and run.early is None
    assert manifest_puts(counter) == 1
    counter.reset()
    assert sync_directory(storage, root).requests == 3  # the manifest holds the real ETag


def test_every_phase_is_timed_in_the_report_and_the_record(storage, tmp_path):
    root = write_tree(tmp_path / "root", small_tree(5))
    report = sync_directory(storage, root, SyncOptions(start_up=0.25))
    assert list(report.timings) == list(PHASES)
    assert report.timings["start_up"] == 0.25
    for phase in ("listing", "uploads", "state_write", "record"):  # each a round trip
        assert report.timings[phase] > 0, phase
    assert report.timings["deletes"] == report.timings["invalidation"] == 0
    recorded = syncrecord.read_last_run(storage)["timings"]
    assert set(recorded) == set(PHASES) and recorded["record"] == 0  # not known when written
    assert recorded["uploads"] == report.timings["uploads"]


@pytest.fixture
def proxy(s3_server):
    with FaultProxy(s3_server.endpoint_url) as running:
        yield running


def test_the_manifest_history_is_read_only_when_a_static_manifest_changes(
    s3_settings, proxy, tmp_path, counted, s3_client, bucket
):
    s3_settings.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
    from contrib_awsstorage.aws_s3_cdn import S3StaticStorage

    storage = S3StaticStorage(
        location="static", config=Config(retries={"mode": "standard", "total_max_attempts": 1})
    )
    manifest = {"paths": {"css/a.css": "css/a.0123456789ab.css"}, "version": "1.1"}
    files = {"css/a.0123456789ab.css": "a{}", "staticfiles.json": json.dumps(manifest)}
    root = write_tree(tmp_path / "root", files)
    sync_directory(storage, root)

    write_tree(root, {"robots.txt": "User-agent: *"})  # a change, but not of the manifest
    counter = counted(storage)
    assert sync_directory(storage, root).uploaded == ["robots.txt"]
    assert not any(GENERATIONS_NAME in p for _, p in request_paths(counter.requests))

    # A new manifest whose history cannot be read is held back (the hashed file
    # it names goes up); the next run, with the history readable, deploys it.
    manifest["paths"]["css/a.css"] = "css/a.ba9876543210.css"
    write_tree(root, {"css/a.ba9876543210.css": "a{x:1}", "staticfiles.json": json.dumps(manifest)})
    proxy.set_faults("500", rate=1.0, methods=["GET"], match=GENERATIONS_NAME)
    report = sync_directory(storage, root)
    assert report.uploaded == ["css/a.ba9876543210.css"]
    assert [n for n, _ in report.failures] == ["staticfiles.json"]
    assert "manifest history" in report.failures[0][1]
    assert b"0123456789ab" in body(s3_client, bucket, "static/staticfiles.json")
    proxy.set_faults()

    report = sync_directory(storage, root)
    assert report.uploaded == ["staticfiles.json"] and report.ok
    history = json.loads(body(s3_client, bucket, "static/" + GENERATIONS_NAME))
    assert ["static/css/a.ba9876543210.css"] in [g["keys"] for g in history["generations"]]
