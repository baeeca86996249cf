"""The sdist and wheel carry everything the contrib needs at run time."""

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "contrib_awsstorage"


def _package_files() -> set[str]:
    """Every file under the package that must ship (code and data)."""
    return {
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".pyo"}
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--sdist",
            "--wheel",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def test_wheel_contains_every_package_file(built):
    _, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _package_files() - names
    assert not missing, f"missing from wheel: {sorted(missing)}"
    assert not any(n.startswith(("tests/", "demo/", "bench/")) for n in names)


def test_wheel_file_list_is_the_package_and_nothing_else(built):
    """Test and benchmark tools (the fault proxy, tools/, tests/) stay out of
    the installed package; the wheel is the package's files plus its metadata."""
    _, wheel = built
    names = {n for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in n}
    assert names == _package_files()
    assert not [n for n in names if "faultproxy" in n or n.startswith(("tools/", "tests/"))]
    for layer in ("s3", "web", "sync", "diagnostics", "management/commands"):
        assert any(n.startswith(f"contrib_awsstorage/{layer}/") for n in names), layer


def test_wheel_declares_runtime_requirements(built):
    _, wheel = built
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        text = zf.read(meta).decode()
    requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
    # Django and Twisted directly, in the ranges the matrix proves; Evennia only as an extra
    assert "Requires-Dist: Django<6.2,>=5.2" in requires
    assert "Requires-Dist: twisted<27,>=24.11" in requires
    assert any(r.startswith("Requires-Dist: boto3") for r in requires)
    assert [r for r in requires if "evennia" in r.lower()] == [
        'Requires-Dist: evennia<8,>=5.0; extra == "evennia"'
    ]
    assert any("moto[server]" in r and 'extra == "test"' in r for r in requires)
    assert "Requires-Python: >=3.11" in text
    classifiers = {
        line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Classifier:")
    }
    for proven in (
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Framework :: Django :: 6.1",
    ):
        assert proven in classifiers, proven


def test_wheel_carries_the_license_and_notice(built):
    """BSD-3-Clause asks that the notices travel with binary forms too."""
    _, wheel = built
    with zipfile.ZipFile(wheel) as zf:
        dist_info = [n for n in zf.namelist() if ".dist-info/" in n]
        for name in ("LICENSE", "NOTICE"):
            (path,) = [n for n in dist_info if n.rsplit("/", 1)[-1] == name]
            assert zf.read(path).decode() == (ROOT / name).read_text(), name
        meta = zf.read(next(n for n in dist_info if n.endswith("/METADATA"))).decode()
    assert "BSD-3-Clause" in meta


def test_sdist_contains_project_files(built):
    sdist, _ = built
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for required in (
        "README.md",
        "CONTRIBUTING.md",
        "CHANGELOG.md",
        "SECURITY.md",
        "LICENSE",
        "NOTICE",
        "docs/layers.md",
        "docs/web.md",
        "docs/sync.md",
        "setup.cfg",
        "pyproject.toml",
        "MANIFEST.in",
        "Makefile",
        ".ci/run",
        "tests/conftest.py",
        "demo/storage_demo.py",
        "demo/vendor/package.json",
        "demo/vendor/package-lock.json",
    ):
        assert required in names, required
    assert not any(n.startswith("demo/vendor/node_modules/") for n in names), (
        "npm's install went into the sdist"
    )
    missing = _package_files() - names
    assert not missing, f"missing from sdist: {sorted(missing)}"
    docs = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")}
    assert docs <= names, f"missing from sdist: {sorted(docs - names)}"
