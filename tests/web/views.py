"""Django views the web-layer tests call through real WSGI."""

import json
import threading
import time

from django.http import HttpResponse

#: Set by tests to release requests parked in ``hang`` (bounded anyway).
RELEASE_HANGING = threading.Event()


def _text(body, status=200):
    body = body.encode("utf-8") if isinstance(body, str) else body
    response = HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    response["Content-Length"] = str(len(body))
    return response


def hello(request):
    return _text("hello")


def ip(request):
    return _text(request.META["REMOTE_ADDR"])


def sleep(request):
    time.sleep(float(request.GET.get("s", "0.5")))
    return _text("slept")


def hang(request):
    """Never returns within any drain bound a test uses (gives up after 60 s)."""
    RELEASE_HANGING.wait(60)
    return _text("released")


def echo(request, rest=""):
    return _text(
        json.dumps(
            {
                "method": request.method,
                "path": request.path,
                "query": request.META.get("QUERY_STRING", ""),
                "body": request.body.decode("latin-1"),
                "remote": request.META["REMOTE_ADDR"],
                "xff": request.META.get("HTTP_X_FORWARDED_FOR"),
                "host": request.META.get("HTTP_HOST"),
            }
        )
    )


def size(request):
    """Length and md5 of the body, read as a stream (no in-memory size limit)."""
    import hashlib

    digest, total = hashlib.md5(), 0
    while chunk := request.read(65536):
        digest.update(chunk)
        total += len(chunk)
    return _text(f"{total} {digest.hexdigest()}")


def claims_unseen(request):
    """A view that sets the portal's marker: it must never make the portal
    send its request again (the root drops the field)."""
    response = _text("from django", status=503)
    response["AWSStorage-Refused-Unseen"] = "?1"
    return response
