"""``s3_setup``: make the bucket (and CDN) the storage settings need, plan first.

Thin over ``contrib_awsstorage.provision``: without ``--apply`` it only
reads and prints one line per resource (``create`` / ``change`` / ``ok`` /
``skip``) with the exact request it would send; ``--apply`` sends them;
``--json`` prints the same as one JSON object. It ends with the settings to
paste (after ``--cloudfront``) and the least-privilege IAM policy for the
game's own credentials. Secrets are never printed.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from contrib_awsstorage import provision


class Command(BaseCommand):
    help = (
        "Set up the S3 bucket the storage settings name: object ownership, public access block, "
        "bucket policy, CORS, lifecycle and optionally a CloudFront distribution. Prints the "
        "plan; --apply makes the changes."
    )
    # The settings this reads are checked here, with fixes, not by the system checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="make the changes (else: plan)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--profile",
            metavar="NAME",
            help="AWS profile with admin credentials for the setup (the game's own keys "
            "need not be allowed to configure the bucket)",
        )
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            metavar="URL",
            help="a web origin of the game for CORS, e.g. https://mygame.example.com "
            "(repeatable; default: from ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS)",
        )
        parser.add_argument(
            "--cloudfront",
            action="store_true",
            help="put a CloudFront distribution in front of the bucket (origin access control)",
        )
        parser.add_argument(
            "--alias",
            action="append",
            default=[],
            metavar="NAME",
            help="set up only these STORAGES entries (repeatable; default: every one of ours)",
        )

    def handle(self, *args, **options):
        as_json, apply = options["json"], options["apply"]
        try:
            config = provision.read_config(
                aliases=options["alias"],
                origins=options["origin"],
                cloudfront=options["cloudfront"],
                profile=options["profile"],
            )
            if not as_json:
                self._print_intro(config, apply)
            provisioner = provision.Provisioner(
                config, progress=None if as_json else self._print_change
            )
            report = provisioner.run(apply=apply)
        except provision.ProvisionError as exc:
            raise CommandError(f"s3_setup: {exc}", returncode=2) from None
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self._print_outro(report)
        if report.failed:
            raise CommandError(
                f"s3_setup: {report.failed} change(s) were refused; see the lines marked fail.",
                returncode=1,
            )

    # -- output ----------------------------------------------------------------------
    def _print_intro(self, config, apply):
        mode = "applying" if apply else "plan only, nothing is changed (--apply makes the changes)"
        self.stdout.write(f"s3_setup: s3://{config.bucket} in {config.region} ({mode})")
        for loc in config.locations:
            access = "public" if loc.public else "private"
            self.stdout.write(f"  STORAGES[{loc.alias!r}]: {loc.where}, {access}")
        if config.profile:
            self.stdout.write(f"  credentials: profile {config.profile!r} (--profile)")

    def _print_change(self, change):
        style = {
            provision.engine.CREATE: self.style.SUCCESS,
            provision.engine.CHANGE: self.style.WARNING,
            provision.engine.OK: lambda text: text,
            provision.engine.SKIP: self.style.HTTP_NOT_MODIFIED,
            provision.engine.FAIL: self.style.ERROR,
        }[change.action]
        line = change.line()
        self.stdout.write(style(line[:6]) + line[6:] + (" ... done" if change.applied else ""))

    def _print_outro(self, report):
        counts = report.counts
        done = ", ".join(f"{counts[a]} {a}" for a in counts if counts[a])
        if report.applied:
            verdict = "nothing to change" if not report.pending else "changes made"
        else:
            verdict = (
                "nothing to change"
                if not report.pending
                else f"{report.pending} change(s) to make: run again with --apply"
            )
        self.stdout.write(f"s3_setup: {done}; {verdict}.")
        if report.settings:
            self.stdout.write(
                "\nPaste into your settings (the distribution in front of the bucket):"
            )
            for name, value in report.settings.items():
                self.stdout.write(f"    {name} = {value!r}")
        self.stdout.write(
            "\nIAM policy for the game's own credentials (least privilege, from these settings):"
        )
        self.stdout.write(json.dumps(report.iam_policy, indent=2))
