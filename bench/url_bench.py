"""url() speed: this contrib's storage vs django-storages' S3Storage, side by side.

Every page render calls ``{% static %}`` → ``storage.url()`` once per
asset, so its cost multiplies. For public objects ours is string work;
django-storages builds even unsigned S3 URLs through botocore's presigner.

Run: ``.venv/bin/python bench/url_bench.py`` (needs the ``bench`` extra:
``pip install -e '.[bench]'``). No network is used: URLs are only built.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

COMMON = dict(
    bucket_name="game-assets",
    access_key="AKIABENCHMARKEXAMPLE",
    secret_key="bench-secret-not-real",
    region_name="eu-west-1",
    location="static",
)
SCENARIOS = [
    ("custom domain", dict(custom_domain="cdn.example.com", querystring_auth=False)),
    ("no custom domain, unsigned", dict(querystring_auth=False)),
    ("no custom domain, presigned", dict(querystring_auth=True)),
]
NAMES = [f"webclient/js/plugins/plugin{i}.js" for i in range(100)]


def calls_per_second(storage, seconds: float) -> float:
    """Best of 3 timed rounds of url() over NAMES."""
    for name in NAMES[:10]:  # warm up (client creation, caches)
        storage.url(name)
    best = 0.0
    for _ in range(3):
        calls, start = 0, time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for name in NAMES:
                storage.url(name)
            calls += len(NAMES)
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, calls / (now - start))
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    args = parser.parse_args(argv)

    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    settings.configure(USE_TZ=True, INSTALLED_APPS=["django.contrib.staticfiles"])
    django.setup()
    from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage

    try:
        from storages.backends.s3 import S3Storage
    except ImportError:
        print("django-storages is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    print(f"{'scenario':30} {'contrib calls/s':>16} {'django-storages calls/s':>24} {'ratio':>8}")
    for label, extra in SCENARIOS:
        ours = S3Boto3Storage(**COMMON, **extra)
        theirs = S3Storage(**COMMON, **extra)
        sample_ours, sample_theirs = ours.url(NAMES[0]), theirs.url(NAMES[0])
        if "presigned" not in label:
            assert sample_ours == sample_theirs, (sample_ours, sample_theirs)
        a = calls_per_second(ours, args.seconds)
        b = calls_per_second(theirs, args.seconds)
        note = ""
        if "presigned" in label:
            note = "  (signatures: ours {}, theirs {})".format(
                "SigV4" if "X-Amz-Signature" in sample_ours else "SigV2",
                "SigV4" if "X-Amz-Signature" in sample_theirs else "SigV2 (deprecated by AWS)",
            )
        print(f"{label:30} {a:16,.0f} {b:24,.0f} {a / b:7.1f}x{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
