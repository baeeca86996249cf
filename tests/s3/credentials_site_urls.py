"""One view that writes and reads back an upload through ``default_storage``,
the process-wide storage a game's web server keeps for its whole life."""

import os

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import JsonResponse
from django.urls import path


def stored(request):
    name = f"note-{request.GET.get('n', '0')}.txt"
    default_storage.save(name, ContentFile(name.encode()))
    with default_storage.open(name) as handle:
        content = handle.read().decode()
    return JsonResponse(
        {
            "content": content,
            "pid": os.getpid(),
            "client": id(default_storage.connection),
            "names": sorted(default_storage.listdir("")[1]),
        }
    )


urlpatterns = [path("stored", stored)]
