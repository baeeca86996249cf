"""Shared helpers for the sync tests: trees on disk, and a storage that S3
rejects for some files (a real, non-retryable 400 from the server)."""

from __future__ import annotations

import gzip
import os
from urllib.parse import unquote, urlsplit

from contrib_awsstorage.aws_s3_cdn import S3StaticStorage


def write_tree(root, files: dict) -> str:
    """Write ``{name: bytes|str}`` under ``root``; return ``root`` as str."""
    for name, content in files.items():
        path = os.path.join(root, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content.encode() if isinstance(content, str) else content)
    return str(root)


def small_tree(count: int = 24) -> dict:
    """A mix like game assets: css, js, svg, images (bytes that do not gzip)."""
    files = {}
    for i in range(count):
        kind = i % 4
        if kind == 0:
            files[f"css/style{i}.css"] = f".c{i} {{ color: #{i:06x}; }}\n" * (i + 1)
        elif kind == 1:
            files[f"js/app{i}.js"] = f"function f{i}() {{ return {i}; }}\n" * (i + 1)
        elif kind == 2:
            files[f"img/icon{i}.svg"] = f'<svg xmlns="http://www.w3.org/2000/svg" id="i{i}"/>'
        else:
            files[f"img/pic{i}.png"] = bytes((i * 7 + n) % 256 for n in range(300 + i))
    return files


def keys(client, bucket, prefix="") -> dict:
    """``{key: etag}`` of the bucket under ``prefix``."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            found[obj["Key"]] = obj["ETag"].strip('"')
    return found


def body(client, bucket, key) -> bytes:
    response = client.get_object(Bucket=bucket, Key=key)
    data = response["Body"].read()
    return gzip.decompress(data) if response.get("ContentEncoding") == "gzip" else data


def request_paths(requests) -> list[tuple[str, str]]:
    """``(method, path?query)`` of counted requests."""
    out = []
    for method, url in requests:
        parts = urlsplit(url)
        out.append((method, unquote(parts.path) + ("?" + parts.query if parts.query else "")))
    return out


class RejectingStorage(S3StaticStorage):
    """Asks S3 for an invalid storage class for names containing 'broken', so
    the server itself refuses exactly those uploads (InvalidStorageClass)."""

    def get_object_parameters(self, name):
        params = super().get_object_parameters(name)
        if "broken" in name:
            params["StorageClass"] = "NOT-A-STORAGE-CLASS"
        return params
