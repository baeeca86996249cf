"""Send ``/static/...`` on the game's own site to where the files really are.

With static files on S3, ``STATIC_URL`` is an absolute URL and
``{% static %}`` points browsers there. But some templates and scripts
hard-code ``/static/...`` (Evennia's own webclient does, for its icon), and
the server's ``STATIC_ROOT`` is empty when ``collectstatic`` uploads to S3:
those requests would 404. ``StaticRedirect`` answers them with a redirect to
the same path under ``STATIC_URL`` (RFC 9110 section 15.4.3, 302 Found:
temporary, so a later change of bucket or CDN is picked up; cached for an
hour per RFC 9111). The game itself serves no static bytes.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from twisted.web import resource

REDIRECT_CACHE_CONTROL = b"public, max-age=3600"
_FORBIDDEN_SEGMENTS = {"", ".", ".."}


def is_remote_static_url(static_url) -> bool:
    """True when ``STATIC_URL`` names another host (S3, a CDN)."""
    url = str(static_url or "")
    return url.startswith(("http://", "https://", "//"))


class StaticRedirect(resource.Resource):
    """Redirect every ``GET``/``HEAD`` below this resource to ``base_url``."""

    isLeaf = True

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    def render_GET(self, request):
        segments = [unquote(s.decode("utf-8", "replace")) for s in request.postpath]
        # No directory names, no way out of the static prefix on the far side.
        if not segments or any(
            s in _FORBIDDEN_SEGMENTS or "/" in s or "\\" in s or "\x00" in s for s in segments
        ):
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"Not found.\n"
        location = self.base_url + "/".join(quote(s, safe="@!$&'()*+,;=:~-._") for s in segments)
        request.setResponseCode(302)
        request.setHeader(b"location", location.encode("ascii"))
        request.setHeader(b"cache-control", REDIRECT_CACHE_CONTROL)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"Moved to " + location.encode("ascii") + b"\n"

    render_HEAD = render_GET


def static_resource(static_root: str, static_url):
    """The resource for ``/static``: a redirect when the files live
    elsewhere, else the local, private static root."""
    if is_remote_static_url(static_url):
        url = str(static_url)
        return StaticRedirect(url)
    from .staticroot import PrivateStaticRoot

    return PrivateStaticRoot(static_root)
