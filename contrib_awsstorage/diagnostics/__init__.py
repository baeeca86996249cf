"""Diagnostics engine: is the S3 configuration right, and does the bucket work?

One engine, three front ends: ``manage.py s3_check`` (everything, in
order), Django's system checks (the offline subset, on every command) and
the in-game ``@awsstatus`` (``snapshot()`` and ``/check``). It imports the
storage layer and Django only, never Evennia or Twisted, and nothing
heavy at import time (boto3 loads when an online check runs).

    from contrib_awsstorage import diagnostics
    results = diagnostics.run(write=False)         # list[CheckResult]
    diagnostics.has_failures(results)
    diagnostics.snapshot()                          # dict for @awsstatus
"""

from __future__ import annotations

from .bucket_status import clear_cache, snapshot
from .results import FAIL, OK, SKIP, STATUSES, WARN, CheckResult, has_failures
from .settings_checks import settings_checks, targets_of
from .targets import load_targets

__all__ = [
    "OK",
    "WARN",
    "FAIL",
    "SKIP",
    "STATUSES",
    "CheckResult",
    "has_failures",
    "offline",
    "run",
    "snapshot",
    "clear_cache",
]


def offline(require_storage: bool = False) -> list[CheckResult]:
    """The settings-only checks (no network): what the system checks run."""
    return settings_checks(require_storage=require_storage)


def run(write: bool = True, online: bool = True, budget: float | None = None) -> list[CheckResult]:
    """Every check, in order: settings, then per storage of ours the
    online probes (``write=False`` skips the probe object). A storage whose
    settings already FAIL is not probed: fix those first. ``budget``
    (seconds): no new step starts after it, the rest are SKIP (each
    request is bounded anyway; this bounds the whole run, for callers like
    ``@awsstatus /check``)."""
    import time

    deadline = None if budget is None else time.monotonic() + budget
    results = settings_checks(require_storage=True)
    if not online:
        return results
    from .probes import TargetProbe
    from .settings_checks import resolve
    from .storage import probe_storage

    endpoint_answers: dict = {}
    for target in load_targets():
        if not target.ours:
            continue
        if any(r.failed and target.alias in targets_of(r) for r in results):
            results.append(
                CheckResult(
                    "online", SKIP, "not probed: fix the settings above first.", target=target.alias
                )
            )
            continue
        values, _ = resolve(target)
        try:
            storage = probe_storage(target, values)
        except Exception as exc:  # e.g. a botocore Config the client rejects
            from contrib_awsstorage.s3.errors import scrub

            results.append(
                CheckResult(
                    "online",
                    FAIL,
                    scrub(f"cannot create the storage: {exc}"),
                    "correct the storage settings named above.",
                    target.alias,
                )
            )
            continue
        probe = TargetProbe(
            target.alias,
            storage,
            write=write,
            proxies=bool(values.get("proxies")),
            endpoint_answers=endpoint_answers,
            deadline=deadline,
        )
        results.extend(probe.run())
        from .cloudfront_probe import cloudfront_checks

        results.extend(cloudfront_checks(storage, target.alias, write=write))
    return results
