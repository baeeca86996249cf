"""`make demo`'s storage-level job runs unattended and its URLs serve the files."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_storage_demo_check_uploads_and_serves_every_file():
    result = subprocess.run(
        [sys.executable, str(ROOT / "demo" / "storage_demo.py"), "--check"],
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ok_lines = [l for l in result.stdout.splitlines() if l.startswith("OK   200")]
    assert len(ok_lines) == 4, result.stdout
    assert "FAIL" not in result.stdout
