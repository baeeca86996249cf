"""Tiny Django views for the web-layer reliability tests."""

import time

from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


def ip(request):
    """The client address Django was given (what the spoofing tests check)."""
    return HttpResponse(request.META.get("REMOTE_ADDR", ""), content_type="text/plain")


def ok(request):
    return HttpResponse(b"ok", content_type="text/plain")


def sleep(request):
    """Sleep ``ms`` milliseconds (capped at 5 s): work in flight during a drain."""
    time.sleep(min(float(request.GET.get("ms", "20")), 5000) / 1000)
    return HttpResponse(b"slept", content_type="text/plain")


@csrf_exempt
def echo(request):
    """Read the body the way a form view would (Django's size limits apply)."""
    return JsonResponse({"length": len(request.body)})


urlpatterns = [
    path("ip", ip),
    path("ok", ok),
    path("sleep", sleep),
    path("echo", echo),
]
