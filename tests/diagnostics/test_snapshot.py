"""``snapshot()``: what ``@awsstatus`` shows, bounded in time and cached."""

from __future__ import annotations

import threading

from django.core.files.storage import storages as handler

from contrib_awsstorage import diagnostics
from contrib_awsstorage.sync.record import write_last_run
from tools.faultproxy import FaultProxy

from .conftest import NEVER_ANSWERS, finishes


def _entry(snap, alias):
    (entry,) = [s for s in snap["storages"] if s["alias"] == alias]
    return entry


def _fill(s3_client, bucket):
    for key, size in (
        ("static/a.css", 1),
        ("static/js/b.js", 10),
        ("static/img/c.png", 100),
        ("media/u.txt", 5),
    ):
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"x" * size)


def test_counts_objects_and_bytes_under_the_prefix(both_storages, bucket, s3_client, s3_server):
    storages = both_storages
    _fill(s3_client, bucket)
    static = handler.create_storage(
        storages.STORAGES["staticfiles"]
        | {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"}
    )
    write_last_run(
        static,
        {
            "finished_at": "2026-01-02T03:04:05Z",
            "ok": True,
            "uploaded": 3,
            "unchanged": 0,
            "deleted": 0,
            "failed": 0,
            "failures": [],
        },
    )
    snap = diagnostics.snapshot()
    assert snap["cached"] is False and snap["timed_out"] is False
    entry = _entry(snap, "staticfiles")
    assert entry["reachable"] is True and entry["reason"] == ""
    assert (entry["objects"], entry["bytes"], entry["complete"]) == (
        3,
        111,
        True,
    )  # record excluded
    assert entry["bucket"] == bucket and entry["location"] == "static"
    assert entry["endpoint"] == s3_server.endpoint_url and entry["region"] == "us-east-1"
    assert entry["url_base"] == f"{s3_server.endpoint_url}/{bucket}/static/"
    assert entry["last_sync"]["uploaded"] == 3
    media = _entry(snap, "default")
    assert (media["objects"], media["bytes"], media["last_sync"]) == (1, 5, None)
    assert media["url_base"] is None  # signed URLs


def test_cached_briefly_and_refreshable(storages, bucket, s3_client):
    first = diagnostics.snapshot()
    s3_client.put_object(Bucket=bucket, Key="static/new.css", Body=b"new")
    second = diagnostics.snapshot()
    assert second["cached"] is True and _entry(second, "staticfiles")["objects"] == 0
    third = diagnostics.snapshot(refresh=True)
    assert third["cached"] is False and _entry(third, "staticfiles")["objects"] == 1
    assert _entry(diagnostics.snapshot(ttl=0), "staticfiles")["objects"] == 1
    assert first["taken_at"] < third["taken_at"]


def test_unreachable_endpoint_has_a_one_line_reason(storages, dead_endpoint):
    storages.AWS_S3_ENDPOINT_URL = dead_endpoint
    snap = finishes(diagnostics.snapshot, budget=8)
    entry = _entry(snap, "staticfiles")
    assert entry["reachable"] is False
    assert "could not reach" in entry["reason"] and "\n" not in entry["reason"]


def test_a_stalled_endpoint_cannot_hold_the_caller(storages, s3_server):
    with FaultProxy(s3_server.endpoint_url) as proxy:
        proxy.set_faults("stall", rate=1.0, stall_seconds=NEVER_ANSWERS)
        storages.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
        snap = finishes(diagnostics.snapshot, budget=1.5)
    assert snap["timed_out"] is True
    entry = _entry(snap, "staticfiles")
    assert entry["reachable"] is False and "did not answer within" in entry["reason"]


def test_list_errors_make_it_unreachable_with_the_reason(storages, s3_server):
    with FaultProxy(s3_server.endpoint_url) as proxy:
        proxy.set_faults("500", rate=1.0, match="list-type=2")
        storages.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
        entry = _entry(diagnostics.snapshot(), "staticfiles")
    assert entry["reachable"] is False and "ListObjectsV2" in entry["reason"]


def test_concurrent_callers_share_one_probe(storages, s3_server):
    with FaultProxy(s3_server.endpoint_url, delay=0.2) as proxy:
        storages.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
        snaps = []
        threads = [
            threading.Thread(target=lambda: snaps.append(diagnostics.snapshot())) for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        lists = proxy.stats()["by_method"].get("GET", 0)
    assert len(snaps) == 4
    assert all(_entry(s, "staticfiles")["reachable"] for s in snaps)
    # one probe for all four callers: one listing and one sync-record read
    assert lists == 2, lists


def test_storages_not_ours_are_listed_as_such(s3_settings):
    s3_settings.STORAGES = {
        "staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"},
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    snap = diagnostics.snapshot()
    assert _entry(snap, "default") == {
        "alias": "default",
        "ours": False,
        "backend": "django.core.files.storage.FileSystemStorage",
    }
    assert _entry(snap, "staticfiles")["reachable"] is True


def test_bad_settings_are_the_reason(storages):
    storages.AWS_STORAGE_BUCKET_NAME = "Bad_Bucket"
    entry = _entry(diagnostics.snapshot(), "staticfiles")
    assert entry["reachable"] is False and "lowercase" in entry["reason"]
    assert "3-63 characters" in entry["fix"]


def test_counting_stops_at_the_time_bound(s3_settings, s3_server, bucket, s3_client, monkeypatch):
    from contrib_awsstorage.diagnostics import bucket_status as module

    monkeypatch.setattr(module, "PAGE_SIZE", 1)  # one object per page: many pages
    for i in range(12):
        s3_client.put_object(Bucket=bucket, Key=f"static/f{i}.css", Body=b"x")
    with FaultProxy(s3_server.endpoint_url, delay=0.3) as proxy:
        s3_settings.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
        s3_settings.STORAGES = {
            "staticfiles": {
                "BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
                "OPTIONS": {"location": "static"},
            },
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        }
        entry = _entry(diagnostics.snapshot(budget=4), "staticfiles")
    assert entry["reachable"] is True and entry["complete"] is False
    assert 1 <= entry["objects"] < 12  # "at least" this many
