"""bench/url_bench.py runs and compares like with like (speed is not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_url_bench_runs_and_prints_every_scenario():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "url_bench.py"), "--seconds", "0.03"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "contrib calls/s" in lines[0] and "django-storages calls/s" in lines[0]
    for label in ("custom domain", "no custom domain, unsigned", "no custom domain, presigned"):
        row = next(line for line in lines if line.startswith(label))
        assert row.split()[-1].endswith("x") or "SigV" in row
