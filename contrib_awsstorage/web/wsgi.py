"""The WSGI bridge of the server's web root (PEP 3333): the application runs
on the web thread pool, and an answer already in memory goes back to the
reactor in one hop.

Twisted's own ``WSGIResource`` hands each piece of a body to the reactor
and waits for it (``blockingCallFromThread``), then hands over the end: a
one-piece Django page costs three thread switches and a blocked worker.
Here an answer whose body is already in memory (Django's ``HttpResponse``,
whose ``streaming`` is False, or a list or tuple) is collected in the
worker and handed over whole, with its Content-Length, in one
``callFromThread``. Any other iterable (``StreamingHttpResponse``,
``FileResponse``, a generator) and the ``write`` callable go piece by
piece, each one written before the next is asked for, as Twisted does.
The environ is Twisted's, key for key.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.threads import blockingCallFromThread
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.http import NO_BODY_CODES  # 204, 304: no Content-Length (RFC 9110 8.6)
from twisted.web.http_headers import Headers
from twisted.web.resource import IResource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

_log = Logger(namespace="contrib_awsstorage.webserver")

#: The server sets these itself (Twisted's rule): never the application's.
_SERVER_FIELDS = frozenset({"server", "date"})


def _native(value: bytes) -> str:
    """PEP 3333's "bytes as str": ISO-8859-1."""
    return value.decode("iso-8859-1")


class _ErrorStream:
    """``wsgi.errors``: what the application writes there goes to the log."""

    def write(self, data):
        if not isinstance(data, str):
            raise TypeError(f"wsgi.errors takes str, not {type(data).__name__}")
        _log.error("wsgi.errors: {text}", text=data.rstrip("\n"))

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass


_errors = _ErrorStream()


def environ_of(request) -> dict:
    """The WSGI environ of a Twisted request, as ``twisted.web.wsgi`` builds it."""
    script_name = b"/" + b"/".join(request.prepath) if request.prepath else b""
    path_info = b"/" + b"/".join(request.postpath) if request.postpath else b""
    peer = request.getClientAddress()
    environ = {
        "REQUEST_METHOD": _native(request.method),
        "REMOTE_ADDR": str(peer.host),
        "REMOTE_PORT": str(peer.port),
        "SCRIPT_NAME": _native(script_name),
        "PATH_INFO": _native(path_info),
        "QUERY_STRING": _native(request.uri.partition(b"?")[2]),
        "CONTENT_TYPE": _native(request.getHeader(b"content-type") or b""),
        "CONTENT_LENGTH": _native(request.getHeader(b"content-length") or b""),
        "SERVER_NAME": _native(request.getRequestHostname()),
        "SERVER_PORT": str(request.getHost().port),
        "SERVER_PROTOCOL": _native(request.clientproto),
    }
    for name, values in request.requestHeaders.getAllRawHeaders():
        key = "HTTP_" + _native(name).upper().replace("-", "_")
        environ[key] = ",".join(_native(v) for v in values).replace("\n", " ")
    environ.update(
        {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if request.isSecure() else "http",
            "wsgi.run_once": False,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.errors": _errors,
            # Handed from the reactor thread to one worker: the reactor is
            # done writing it, and closes it only after the answer ends.
            "wsgi.input": request.content,
        }
    )
    return environ


def _check_start_response(status, headers):
    """PEP 3333's types, refused with a clear TypeError (as Twisted does)."""
    if not isinstance(status, str):
        raise TypeError(f"status must be str, not {status!r} ({type(status).__name__})")
    if not (len(status) > 4 and status[:3].isdigit() and status[3] == " "):
        raise ValueError(f"status must be a code and a reason, like '200 OK', not {status!r}")
    if not isinstance(headers, Sequence) or isinstance(headers, (str, bytes)):
        raise TypeError(f"headers must be a list, not {headers!r} ({type(headers).__name__})")
    for header in headers:
        if (
            not isinstance(header, Sequence)
            or len(header) != 2
            or not all(isinstance(part, str) for part in header)
        ):
            raise TypeError(f"header must be a (str, str) tuple, not {header!r}")


def _in_memory(result) -> bool:
    """Is this body already in memory (so collecting it costs nothing)?"""
    return getattr(result, "streaming", None) is False or isinstance(result, (list, tuple))


class _Answer:
    """One request's trip through the application: built on the reactor,
    run in a worker, finished on the reactor."""

    def __init__(self, reactor, application, request):
        self.reactor = reactor
        self.application = application
        self.request = request
        self.environ = environ_of(request)
        self.status = None
        self.headers = None
        self.sent = False  # worker's view: status and headers handed to the reactor
        self.gone = False  # reactor's view: the request finished or its client left
        request.defaultContentType = None  # the application's fields, no more
        request.notifyFinish().addBoth(self._request_done)

    def _request_done(self, _result):
        self.gone = True

    # -- worker thread --

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])
        _check_start_response(status, headers)
        self.status, self.headers = status, headers
        return self.write

    def write(self, data):
        """PEP 3333's ``write``, and each piece of a streamed body: written
        on the reactor before the next is asked for."""
        if self.status is None:
            raise RuntimeError("the WSGI application sent a body before calling start_response")
        try:
            blockingCallFromThread(self.reactor, self._write, data, self.sent)
        finally:
            self.sent = True

    def run(self):
        body = None
        try:
            result = self.application(self.environ, self.start_response)
            try:
                if _in_memory(result):
                    body = [piece for piece in result if piece]
                else:
                    for piece in result:
                        if piece:
                            self.write(piece)
                        if self.gone:
                            break
                if self.status is None:
                    raise RuntimeError(
                        "the WSGI application returned without calling start_response"
                    )
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except BaseException:
            self.reactor.callFromThread(self._failed, Failure())
        else:
            self.reactor.callFromThread(self._finish, self.sent, body)

    # -- reactor thread --

    def _send_headers(self, length=None):
        code, _, reason = self.status.partition(" ")
        request = self.request
        request.setResponseCode(int(code), reason.encode("iso-8859-1"))
        add = request.responseHeaders.addRawHeader
        has_length = False
        for name, value in self.headers:
            lname = name.lower()
            if lname in _SERVER_FIELDS:
                continue
            has_length = has_length or lname == "content-length"
            add(name.encode("iso-8859-1"), value.encode("iso-8859-1"))
        if (
            length is not None
            and not has_length
            and request.method != b"HEAD"  # a HEAD answer's length is a GET's (RFC 9110 8.6)
            and int(code) >= 200
            and int(code) not in NO_BODY_CODES
        ):
            add(b"Content-Length", b"%d" % length)

    def _write(self, data, sent):
        if self.gone:
            return
        if not sent:
            self._send_headers()
        self.request.write(data)

    def _finish(self, sent, body):
        if self.gone:
            return
        request = self.request
        try:
            if not sent:
                self._send_headers(None if body is None else sum(map(len, body)))
            for piece in body or ():
                request.write(piece)
        except Exception:
            self._failed(Failure())
            return
        request.finish()

    def _failed(self, failure):
        _log.failure("WSGI application error", failure=failure)
        if self.gone:
            return
        request = self.request
        if request.startedWriting:  # part of the answer is out: it must not look complete
            request.loseConnection()
            return
        kept = Headers()  # the server's own fields; none of the application's
        for name in (b"server", b"date"):
            values = request.responseHeaders.getRawHeaders(name)
            if values:
                kept.setRawHeaders(name, values)
        request.responseHeaders = kept
        request.setResponseCode(http.INTERNAL_SERVER_ERROR)
        request.finish()


@implementer(IResource)
class WSGIResource:
    """Serves every path below it with a WSGI application run on ``pool``
    (``pool.callInThread``; a ``LockableThreadPool`` may refuse it with
    ``PoolLockedError``, which reaches the caller of ``render``)."""

    isLeaf = True

    def __init__(self, reactor, pool, application):
        self._reactor = reactor
        self._threadpool = pool
        self._application = application

    def render(self, request):
        answer = _Answer(self._reactor, self._application, request)
        self._threadpool.callInThread(answer.run)
        return NOT_DONE_YET

    def getChildWithDefault(self, name, request):
        raise RuntimeError("Cannot get IResource children from WSGIResource")

    def putChild(self, path, child):
        raise RuntimeError("Cannot put IResource children under WSGIResource")
