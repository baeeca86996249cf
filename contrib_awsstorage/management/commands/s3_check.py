"""``s3_check``: is the S3 configuration right, and does the bucket work?

Thin over ``contrib_awsstorage.diagnostics``: one line per check (OK /
WARN / FAIL / SKIP), the fix under anything not OK, exit status 1 when
any check FAILs. ``--json`` prints one JSON object instead; ``--no-write``
skips the probe object (put/get/delete).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from contrib_awsstorage import diagnostics


class Command(BaseCommand):
    help = (
        "Check the S3 storage settings, credentials, endpoint, clock, bucket, permissions, "
        "public access and last sync; print the fix for anything wrong."
    )
    # Settings problems are reported as our own lines, with their fixes.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", help="print the results as one JSON object"
        )
        parser.add_argument(
            "--no-write", action="store_true", help="do not put/get/delete the probe object"
        )

    def handle(self, *args, **options):
        results = diagnostics.run(write=not options["no_write"])
        counts = {s: sum(r.status == s for r in results) for s in diagnostics.STATUSES}
        failed = counts[diagnostics.FAIL]
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {"ok": not failed, "counts": counts, "results": [r.as_dict() for r in results]}
                )
            )
        else:
            self._print(results, counts)
        if failed:
            raise CommandError(
                f"s3_check: {failed} check(s) failed; see the fixes above.", returncode=1
            )

    def _print(self, results, counts):
        style = {
            diagnostics.OK: self.style.SUCCESS,
            diagnostics.WARN: self.style.WARNING,
            diagnostics.FAIL: self.style.ERROR,
            diagnostics.SKIP: self.style.HTTP_NOT_MODIFIED,
        }
        for result in results:
            line = result.line()
            status = result.status
            self.stdout.write(style[status](line[:4]) + line[4:])
            if result.fix and status != diagnostics.OK:
                self.stdout.write(f"      fix: {result.fix}")
        summary = ", ".join(f"{counts[s]} {s}" for s in diagnostics.STATUSES if counts[s])
        self.stdout.write(f"s3_check: {summary}.")
