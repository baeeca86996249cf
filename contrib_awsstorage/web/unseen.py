"""The contract between the server's root and the portal's proxy about
requests that no application code has seen.

A draining (or locked) server answers ``503`` with ``Retry-After`` and

    AWSStorage-Refused-Unseen: ?1

(an RFC 8941 boolean; no ``X-`` prefix, RFC 6648). It means: this request
was refused before any Django code saw it. RFC 9110 section 9.2.2 lets a
client send a request again when it knows the first one was not
processed, whatever its method; so the portal holds such a request and
sends it to the new server. The server drops this field from Django's own
answers, so a view can never make the portal send a request twice.

The portal asks whether the server accepts requests with ``OPTIONS /`` and
``AWSStorage-Probe: ?1``; our root answers that itself (``204``, or the
refusal above while draining), without Django.
"""

from __future__ import annotations

MARKER = b"AWSStorage-Refused-Unseen"
MARKER_VALUE = b"?1"
PROBE = b"AWSStorage-Probe"
PROBE_VALUE = b"?1"


def refused_unseen(headers) -> bool:
    """True if these (Twisted) response headers carry the marker."""
    return MARKER_VALUE in (headers.getRawHeaders(MARKER) or [])


def is_probe(request) -> bool:
    """True if this server-side request is the portal asking "do you accept?"."""
    return request.method == b"OPTIONS" and PROBE_VALUE in (
        request.requestHeaders.getRawHeaders(PROBE) or []
    )


def without_marker(application):
    """Wrap a WSGI application so that its answers never carry the marker."""
    lowered = MARKER.decode("ascii").lower()

    def app(environ, start_response):
        def start(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != lowered]
            return start_response(status, headers, exc_info)

        return application(environ, start)

    return app
