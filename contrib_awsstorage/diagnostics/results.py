"""What every diagnostic returns: one line an admin can act on.

Kept free of boto3, Django and Evennia so the command, the system checks
and the in-game status command can all format the same results.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

OK = "OK"
WARN = "WARN"
FAIL = "FAIL"
# Not run: an earlier check failed, or the caller asked not to (--no-write).
SKIP = "SKIP"
STATUSES = (OK, WARN, FAIL, SKIP)

# The command that sets the bucket up (provision/): fix lines about the bucket
# itself (missing, public read, ACLs) point at it first.
RUN_S3_SETUP = "run 'evennia s3_setup --apply' (or 'manage.py s3_setup --apply') with admin keys"


@dataclass(frozen=True)
class CheckResult:
    """One diagnostic line.

    ``check`` names the step (``settings``, ``bucket``...), ``target`` the
    storage alias it is about (``staticfiles``/``default``, or ``""`` for
    project-wide checks), ``code`` a stable id (``E002``, ``W001``) that the
    Django system checks reuse, ``fix`` the one-line remedy (empty when OK).
    Messages never carry secrets: builders only put masked or public values
    in them.
    """

    check: str
    status: str
    message: str
    fix: str = ""
    target: str = ""
    code: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """``FAIL  bucket [staticfiles]: message`` (the fix goes on its own line)."""
        where = f" [{self.target}]" if self.target else ""
        return f"{self.status:<4}  {self.check}{where}: {self.message}"


def has_failures(results) -> bool:
    return any(r.failed for r in results)
