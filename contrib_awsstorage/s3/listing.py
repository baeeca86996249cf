"""ListObjectsV2 pages read without botocore's per-key parsing.

botocore turns every ``<Contents>`` of a listing into a dict and parses its
``LastModified`` timestamp: about 50 ms of CPU per 1,000 keys, which is most
of the client-side cost of a no-op sync. The sync needs only key, size and
ETag, so a ``before-parse`` hook reads those with ElementTree (about 3 ms per
1,000 keys) and hands botocore the page without its ``<Contents>``; botocore
still parses the rest (truncation, continuation token), raises its errors
and does its retries as usual.

The hook is only active inside :func:`list_page` (a thread-local flag), so
every other caller of the shared client still gets botocore's full
``Contents``; whenever the page does not read back exactly (another
namespace, an entry count that does not match), botocore parses it as usual.
"""

from __future__ import annotations

import re
import threading
import weakref
import xml.etree.ElementTree as ElementTree
from urllib.parse import unquote_plus

__all__ = ["list_page", "parse_contents"]

_CONTENTS = re.compile(rb"<Contents>.*?</Contents>", re.S)  # keys are XML-escaped: no "<" inside
_RESULT_KEY = "ContribAwsstorageEntries"
_HANDLER_ID = "contrib_awsstorage.s3listing"
_active = threading.local()
_register_lock = threading.Lock()
_hooked: weakref.WeakSet = weakref.WeakSet()


def parse_contents(body: bytes, decode: bool = True) -> list[tuple[str, int, str]]:
    """``(key, size, etag)`` of every ``<Contents>`` in a ListObjectsV2 page
    (ETag unquoted); with ``decode``, keys are URL-decoded when the page says
    ``EncodingType`` url (as botocore does when it asked for that encoding)."""
    root = ElementTree.fromstring(body)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    decode = decode and (root.findtext(ns + "EncodingType") or "").lower() == "url"
    entries = []
    for node in root.iter(ns + "Contents"):
        key = node.findtext(ns + "Key") or ""
        entries.append(
            (
                unquote_plus(key) if decode else key,
                int(node.findtext(ns + "Size") or 0),
                (node.findtext(ns + "ETag") or "").strip('"'),
            )
        )
    return entries


def _before_parse(response_dict, customized_response_dict, **kwargs):
    mode = getattr(_active, "mode", None)
    if (
        mode is None
        or response_dict.get("status_code") != 200
        or _RESULT_KEY in customized_response_dict
    ):
        return
    body = response_dict.get("body")
    if not body:
        return
    try:
        entries = parse_contents(body, decode=mode == "decode")
    except (ElementTree.ParseError, ValueError):
        return  # botocore parses it and reports what is wrong
    stripped, removed = _CONTENTS.subn(b"", body)
    if removed != len(entries) or b"Contents>" in stripped:
        return  # not the page shape we know: botocore's full parse
    customized_response_dict[_RESULT_KEY] = entries
    response_dict["body"] = stripped


def _install(client) -> None:
    """Register the hook once per client (botocore's register is not atomic).
    The clients that have it are noted here, not on botocore's object."""
    try:
        if client in _hooked:
            return
    except TypeError:  # cannot be weakly referenced: not a botocore client
        pass
    with _register_lock:
        # unique_id: registering again (another thread, or such a client) changes nothing
        client.meta.events.register(
            "before-parse.s3.ListObjectsV2", _before_parse, unique_id=_HANDLER_ID
        )
        try:
            _hooked.add(client)
        except TypeError:
            pass


def list_page(client, **params) -> tuple[list[tuple[str, int, str]], dict]:
    """One ``list_objects_v2(**params)`` call: ``(entries, response)`` where
    entries are ``(key, size, etag)`` and ``response`` is botocore's parsed
    page without ``Contents`` (``IsTruncated``, ``NextContinuationToken``...)."""
    _install(client)
    # botocore URL-decodes keys only when it chose the encoding itself.
    _active.mode = "keep" if "EncodingType" in params else "decode"
    try:
        response = client.list_objects_v2(**params)
    finally:
        _active.mode = None
    entries = response.pop(_RESULT_KEY, None)
    if entries is None:  # the hook saw no body it could read: botocore's own parse
        entries = [
            (o["Key"], int(o["Size"]), o["ETag"].strip('"')) for o in response.get("Contents", ())
        ]
    return entries, response
