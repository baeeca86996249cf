"""Byte sizes read the same in s3_migrate_static's summary and in @awsstatus."""

import pytest

from contrib_awsstorage.humanize import human_bytes


@pytest.mark.parametrize(
    "size,text",
    [
        (None, "?"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (1536, "1.5 KB"),
        (5 * 1024**2, "5.0 MB"),
        (3 * 1024**3, "3.0 GB"),
        (2 * 1024**4, "2.0 TB"),
    ],
)
def test_human_bytes(size, text):
    assert human_bytes(size) == text


@pytest.mark.parametrize(
    "seconds,text",
    [
        (0, "0 s"),
        (119, "119 s"),
        (-30, "30 s"),
        (5400, "90 min"),
        (18000, "5.0 h"),
        (3 * 86400, "3 days"),
    ],
)
def test_human_duration(seconds, text):
    from contrib_awsstorage.humanize import human_duration

    assert human_duration(seconds) == text
