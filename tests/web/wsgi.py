"""A real Django WSGI handler routed to ``tests.web.urls``.

Django resolves ``request.urlconf`` when set, so the suite's shared
``ROOT_URLCONF`` stays untouched.
"""

import django
from django.core.handlers.wsgi import WSGIHandler

URLCONF = "tests.web.urls"


class _TestsWSGIHandler(WSGIHandler):
    def get_response(self, request):
        request.urlconf = URLCONF
        return super().get_response(request)


def make_application():
    django.setup(set_prefix=False)
    return _TestsWSGIHandler()
