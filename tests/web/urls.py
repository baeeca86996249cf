"""URLs for the web-layer tests (set per request by ``wsgi.application``)."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("hello/", views.hello),
    path("ip/", views.ip),
    path("sleep/", views.sleep),
    path("hang/", views.hang),
    path("size/", views.size),
    path("claims-unseen/", views.claims_unseen),
    re_path(r"^echo/(?P<rest>.*)$", views.echo),
]
