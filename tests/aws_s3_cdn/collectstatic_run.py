"""Run ``collectstatic`` by name (whichever app's command Django picks) and
print, as one JSON line, which command ran, its output and every request
the storage's client sent. Used by test_preload_collectstatic in a subprocess."""

import io
import json
import sys

import django


def main(argv):
    django.setup()
    from django.core.files.storage import storages
    from django.core.management import call_command, get_commands

    from tests.conftest import RequestCounter

    counter = RequestCounter()
    counter.attach(storages["staticfiles"].connection)
    out, err = io.StringIO(), io.StringIO()
    call_command("collectstatic", *argv, interactive=False, stdout=out, stderr=err)
    print(
        json.dumps(
            {
                "app": get_commands()["collectstatic"],
                "out": out.getvalue(),
                "err": err.getvalue(),
                "requests": counter.requests,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
