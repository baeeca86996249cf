"""The fault proxy itself: it must forward faithfully when told nothing and
fail exactly as told, or every other reliability test proves nothing."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from tools.faultproxy import FaultProxy, FaultRule

from .conftest import make_client

MB = 1024 * 1024


def test_forwards_large_bodies_both_ways(proxied_client, fault_proxy, bucket):
    data = os.urandom(12 * MB)
    proxied_client.put_object(Bucket=bucket, Key="big.bin", Body=data)
    got = proxied_client.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    # A multipart upload (3 parts) through the proxy round-trips too.
    chunks = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    proxied_client.upload_fileobj(io.BytesIO(data[: 11 * MB]), bucket, "mp.bin", Config=chunks)
    head = proxied_client.head_object(Bucket=bucket, Key="mp.bin")
    assert head["ContentLength"] == 11 * MB and head["ETag"].strip('"').endswith("-3")
    stats = fault_proxy.stats()
    assert stats["faults_total"] == 0
    assert stats["by_method"]["PUT"] >= 4 and stats["by_method"]["POST"] == 2
    assert stats["by_method"]["PUT"] == 4 and stats["by_method"]["GET"] == 1
    assert stats["bytes_in"] >= 23 * MB and stats["bytes_out"] >= 12 * MB


@pytest.mark.parametrize(
    "kind, error, text",
    [
        ("500", ClientError, "InternalError"),
        ("503", ClientError, "SlowDown"),
        ("reset", ConnectionClosedError, "closed"),
        ("stall", ReadTimeoutError, "Read timeout"),
        ("truncate", ResponseStreamingError, "IncompleteRead"),
    ],
)
def test_each_fault_hits_exactly_the_nth_request(fault_proxy, bucket, s3_client, kind, error, text):
    s3_client.put_object(Bucket=bucket, Key="k", Body=b"x" * 5000)
    client = make_client(fault_proxy.endpoint_url, read_timeout=0.5)
    fault_proxy.set_faults(kind, nth=2)
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x" * 5000
    with pytest.raises(error) as caught:
        client.get_object(Bucket=bucket, Key="k")["Body"].read()
    assert text in str(caught.value)
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x" * 5000
    stats = fault_proxy.stats()
    assert stats["faults"] == {kind: 1}
    assert [entry["n"] for entry in stats["fault_log"]] == [2]


def test_truncated_bodyless_answer_is_an_error(proxied_client, fault_proxy, bucket):
    fault_proxy.set_faults("truncate", nth=1)
    with pytest.raises(ConnectionClosedError):
        proxied_client.put_object(Bucket=bucket, Key="k", Body=b"abc")


def test_writes_only_never_touches_reads(proxied_client, fault_proxy, bucket, s3_client):
    s3_client.put_object(Bucket=bucket, Key="r", Body=b"read me")
    fault_proxy.set_faults("503", rate=1.0, writes_only=True)
    for _ in range(5):
        assert proxied_client.get_object(Bucket=bucket, Key="r")["Body"].read() == b"read me"
        proxied_client.head_object(Bucket=bucket, Key="r")
    for call in (
        lambda: proxied_client.put_object(Bucket=bucket, Key="w", Body=b"1"),
        lambda: proxied_client.delete_object(Bucket=bucket, Key="r"),
        lambda: proxied_client.create_multipart_upload(Bucket=bucket, Key="m"),
    ):
        with pytest.raises(ClientError, match="SlowDown"):
            call()
    assert s3_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 1  # nothing reached S3
    assert fault_proxy.stats()["faults"] == {"503": 3}


def test_rate_is_seeded_and_roughly_right():
    def fired(seed):
        rule = FaultRule(kind=["500", "reset"], rate=0.1, seed=seed)
        return [rule.decide("GET", "/b/k") for _ in range(2000)]

    first = fired(7)
    assert first == fired(7)  # reproducible
    count = sum(kind is not None for kind in first)
    assert 140 <= count <= 260
    assert {"500", "reset"} == {kind for kind in first if kind}
    limited = FaultRule(kind="503", rate=1.0, limit=3)
    assert sum(limited.decide("PUT", "/") is not None for _ in range(10)) == 3
    every = FaultRule(kind="503", every=4, match="uploadId")
    hits = [every.decide("PUT", f"/b/k?partNumber={i}&uploadId=x") for i in range(1, 13)]
    assert [i for i, h in enumerate(hits, 1) if h] == [4, 8, 12]
    assert every.decide("PUT", "/b/k") is None
    with pytest.raises(ValueError):
        FaultRule(kind="teapot")


def test_after_upstream_fault_means_the_write_happened(
    proxied_client, fault_proxy, bucket, s3_client
):
    fault_proxy.set_faults("500", nth=1, after_upstream=True)
    with pytest.raises(ClientError, match="InternalError"):
        proxied_client.put_object(Bucket=bucket, Key="ambiguous", Body=b"done anyway")
    assert s3_client.get_object(Bucket=bucket, Key="ambiguous")["Body"].read() == b"done anyway"


def test_stall_frees_its_thread_when_the_client_gives_up(fault_proxy, bucket):
    client = make_client(fault_proxy.endpoint_url, read_timeout=0.3)
    fault_proxy.set_faults("stall", rate=1.0, stall_seconds=600)
    for _ in range(4):
        with pytest.raises(ReadTimeoutError):
            client.list_objects_v2(Bucket=bucket)
    deadline = time.monotonic() + 30  # generous, and far inside the stall's 600 s
    while fault_proxy.stats()["active_connections"] > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fault_proxy.stats()["active_connections"] <= 1


def test_delay_is_added_per_request(fault_proxy, proxied_client, bucket):
    fault_proxy.delay = 0.05
    for _ in range(6):
        proxied_client.list_objects_v2(Bucket=bucket)
    stats = fault_proxy.stats()
    assert stats["delayed"] == stats["requests"] == 6
    assert stats["delay_seconds"] == pytest.approx(0.3)


def test_many_concurrent_keepalive_clients(fault_proxy, bucket, s3_server):
    s3_server.create_bucket(bucket, public_read=True)  # plain HTTP clients, unsigned GETs
    fault_proxy.delay = 0.01
    clients = 48
    per_client = 6
    barrier = threading.Barrier(clients)

    def work(i):
        conn = http.client.HTTPConnection("127.0.0.1", fault_proxy.port, timeout=10)
        barrier.wait(10)
        for j in range(per_client):
            body = f"{i}-{j}".encode() * 100
            conn.request("PUT", f"/{bucket}/c{i}/o{j}", body=body)
            response = conn.getresponse()
            assert response.status == 200 and response.read() == b""
            conn.request("GET", f"/{bucket}/c{i}/o{j}")
            response = conn.getresponse()
            assert response.status == 200 and response.read() == body
        conn.close()
        return True

    with ThreadPoolExecutor(clients) as pool:
        assert all(pool.map(work, range(clients)))
    stats = fault_proxy.stats()
    assert stats["requests"] == clients * per_client * 2
    assert stats["connections"] == clients  # keep-alive: one each
    assert stats["max_active_connections"] >= clients // 2
    assert stats["by_status"] == {"200": clients * per_client * 2}


def test_chunked_request_body_is_forwarded(fault_proxy, bucket, s3_client):
    data = os.urandom(3 * MB)
    conn = http.client.HTTPConnection("127.0.0.1", fault_proxy.port, timeout=10)
    conn.request(
        "PUT", f"/{bucket}/chunked", body=iter([data[:MB], data[MB:]]), encode_chunked=True
    )
    assert conn.getresponse().status == 200
    assert s3_client.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data


def test_upstream_down_gives_502():
    with FaultProxy("http://127.0.0.1:9") as proxy:  # discard port: nothing listens
        with urllib.request.urlopen(proxy.endpoint_url + "/__faultproxy__/stats") as response:
            assert json.load(response)["requests"] == 0
        try:
            urllib.request.urlopen(proxy.endpoint_url + "/bucket/key", timeout=5)
        except urllib.error.HTTPError as exc:
            assert exc.code == 502
        else:
            pytest.fail("expected 502")
        assert proxy.stats()["upstream_errors"] == 1


def test_reset_restarts_counters_and_numbering(fault_proxy, proxied_client, bucket):
    fault_proxy.set_faults("503", nth=2)
    proxied_client.list_objects_v2(Bucket=bucket)
    fault_proxy.reset()
    assert fault_proxy.stats()["requests"] == 0
    proxied_client.list_objects_v2(Bucket=bucket)  # 1st again: no fault
    with pytest.raises(ClientError, match="SlowDown"):
        proxied_client.list_objects_v2(Bucket=bucket)


def test_rejects_non_loopback_listen_address(s3_server):
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(s3_server.endpoint_url, host="0.0.0.0")


def test_ipv6_loopback(s3_server, bucket, s3_client):
    with FaultProxy(s3_server.endpoint_url, host="::1") as proxy:
        assert proxy.endpoint_url.startswith("http://[::1]:")
        make_client(proxy.endpoint_url).put_object(Bucket=bucket, Key="v6", Body=b"six")
    assert s3_client.get_object(Bucket=bucket, Key="v6")["Body"].read() == b"six"


def _post(url, payload=None):
    request = urllib.request.Request(url, data=json.dumps(payload or {}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def test_runs_as_its_own_process(s3_server, bucket, s3_client):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.faultproxy",
            "--upstream",
            s3_server.endpoint_url,
            "--delay",
            "0.01",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "ENDPOINT" and first[1].startswith("http://127.0.0.1:")
        endpoint = first[1]
        client = make_client(endpoint)
        client.put_object(Bucket=bucket, Key="p", Body=b"proc")
        with urllib.request.urlopen(endpoint + "/__faultproxy__/stats", timeout=5) as response:
            stats = json.load(response)
        assert stats["by_method"] == {"PUT": 1} and stats["delay"] == 0.01
        _post(endpoint + "/__faultproxy__/faults", {"kind": "503", "nth": 1})
        with pytest.raises(ClientError, match="SlowDown"):
            client.get_object(Bucket=bucket, Key="p")
        _post(endpoint + "/__faultproxy__/faults", {})
        assert client.get_object(Bucket=bucket, Key="p")["Body"].read() == b"proc"
        assert _post(endpoint + "/__faultproxy__/reset") == {"reset": True}
        with urllib.request.urlopen(endpoint + "/__faultproxy__/stats", timeout=5) as response:
            assert json.load(response)["requests"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_command_line_faults(s3_server, bucket):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.faultproxy",
            "--upstream",
            s3_server.endpoint_url,
            "--fault",
            "503",
            "--rate",
            "1",
            "--writes-only",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    try:
        endpoint = proc.stdout.readline().split()[1]
        client = make_client(endpoint)
        client.list_objects_v2(Bucket=bucket)  # reads pass
        with pytest.raises(ClientError, match="SlowDown"):
            client.put_object(Bucket=bucket, Key="w", Body=b"1")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
