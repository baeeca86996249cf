"""bench/sync_bench.py still runs, with rclone and s5cmd as contenders (issue 20).

A smoke run on a tiny tree against moto behind the loopback proxy (the bench
itself checks after every cell that the bucket holds the tree), and the
pieces that decide what the report says: the contender groups, the bucket
check, the ``timings`` of ours-sync's ``--json`` report.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench", "sync_bench.py")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("sync_bench_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contender_groups_expand_in_order_once(bench):
    assert bench.parse_contenders("peers") == ["ours-sync", "aws-cli", "rclone", "s5cmd"]
    assert bench.parse_contenders("rclone,peers,,s5cmd") == [
        "rclone",
        "ours-sync",
        "aws-cli",
        "s5cmd",
    ]
    assert bench.parse_contenders(",".join(bench.CONTENDERS)) == list(bench.CONTENDERS)
    with pytest.raises(ValueError, match="unknown contender 'rsync'.*groups peers"):
        bench.parse_contenders("ours-sync,rsync")


def test_a_missing_tool_is_named_with_its_fix_before_anything_starts(
    bench, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PATH", str(tmp_path))  # no rclone on it
    assert bench.missing_tools(["rclone"]) == [
        "rclone is not installed: apt-get install rclone (make bench does it)"
    ]
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--contenders", "ours-sync,rclone"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--contenders needs tools this machine lacks" in error
    assert "apt-get install rclone" in error


def test_timings_come_from_the_json_report_when_it_has_them(bench):
    report = '{"uploaded": 2, "timings": {"scan": 0.01234, "uploads": {"put": 0.5}}}'
    assert bench.timings_of("a warning line\n" + report + "\n") == {
        "scan": 0.01234,
        "uploads": {"put": 0.5},
    }
    with_total = '{"seconds": 0.25, "timings": {"scan": 0.01}}'
    assert bench.timings_of(with_total) == {"sync": 0.25, "scan": 0.01}  # the sync itself first
    assert bench.timings_of('{"uploaded": 2}') is None  # a report without timings
    assert bench.timings_of("") is None
    assert bench.format_timings({"scan": 0.01234, "uploads": {"put": 0.5}, "mode": "x"}) == (
        "scan 0.012 uploads.put 0.500 mode x"
    )
    assert bench.format_timings(None) == "(none reported)"


def test_the_bucket_check_catches_a_missing_or_stale_object(bench, s3_client, bucket, tmp_path):
    tree = tmp_path / "tree"
    (tree / "css").mkdir(parents=True)
    (tree / "css" / "site.css").write_bytes(b"body { color: red }")
    (tree / "app.js").write_bytes(b"let x = 1;")
    s3_client.put_object(Bucket=bucket, Key="static/css/site.css", Body=b"body { color: red }")
    with pytest.raises(ValueError, match=r"static/app\.js is missing"):
        bench.verify_bucket(s3_client, bucket, "static", str(tree))
    s3_client.put_object(Bucket=bucket, Key="static/app.js", Body=b"let x = 2;")  # same size
    with pytest.raises(ValueError, match=r"static/app\.js does not hold the bytes"):
        bench.verify_bucket(s3_client, bucket, "static", str(tree), [str(tree / "app.js")])
    s3_client.put_object(Bucket=bucket, Key="static/app.js", Body=b"let x = 1;")
    assert bench.verify_bucket(s3_client, bucket, "static", str(tree)) == 2


def test_smoke_ours_rclone_s5cmd_on_a_tiny_tree(bench):
    missing = bench.missing_tools(["rclone", "s5cmd"])
    if missing:
        pytest.skip("; ".join(missing))
    done = subprocess.run(
        [
            sys.executable,
            BENCH,
            "--trees",
            "generated",
            "--files",
            "12",
            "--delay",
            "0",
            "--repeat",
            "1",
            "--contenders",
            "ours-sync,rclone,s5cmd",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:] + out[-3000:]
    # every cell ran, and the bucket held the tree after it (the bench checks)
    for contender in ("ours-sync", "rclone", "s5cmd"):
        for scenario in bench.SCENARIOS:
            assert re.search(
                rf"generated +{re.escape(contender)} +{re.escape(scenario)} .* bucket = tree, "
                r"\d+ compared by content",
                out,
            ), (contender, scenario, out)

    # rclone compares checksums: a touched tree sends nothing, and no HEAD per object;
    # s5cmd (size + mtime, its default) sends it all again
    def methods(contender, scenario):
        found = re.search(rf"generated +{contender} +{scenario} .*\(best of 1; (.*?);", out)
        words = [] if found.group(1) == "none" else found.group(1).split()
        return dict(zip(words[::2], map(int, words[1::2])))

    assert "PUT" not in methods("rclone", "touched")
    assert methods("rclone", "touched").get("HEAD", 0) <= 1
    assert methods("rclone", "cold").get("HEAD", 0) <= 1
    assert methods("s5cmd", "touched").get("PUT") == 12
    assert methods("ours-sync", "touched").get("PUT", 0) == 0
    assert "-- ours-sync vs peers on the generated tree" in out
    targets = out.split("-- issue 20 targets on the generated tree", 1)[1]
    for label in (
        "1% changed: ours-sync / rclone",
        "cold: ours-sync / s5cmd",
        "no-op: ours-sync / rclone",
        "touched: ours-sync / rclone",
    ):
        assert re.search(
            rf"{re.escape(label)} +x +[\d.]+ +\(target <= x[\d.]+\) +(MET|MISSED)", targets
        )
    timings = out.split("-- ours-sync phase timings on the generated tree", 1)[1].splitlines()[1:5]
    assert [line.split()[0] for line in timings] == ["cold", "no-op", "touched", "1%"]
    assert all(re.search(r"\(none reported\)|\w+ \d+\.\d{3}", line) for line in timings)
