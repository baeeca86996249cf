"""What one sync did: the report the commands print and the record is made of."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SyncReport"]


@dataclass
class SyncReport:
    """What a sync did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    uploaded: list[str] = field(default_factory=list)
    metadata_updated: list[str] = field(default_factory=list)  # same bytes, headers set in place
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bytes: int = 0
    requests: int = 0
    seconds: float = 0.0
    started_at: str = ""
    finished_at: str = ""
    stale: list[str] = field(default_factory=list)  # would be deleted with delete=True
    hashed: int = 0  # local files read for their checksum (the others came from the cache)
    kept: list[str] = field(default_factory=list)  # stale hashed keys kept for cached pages
    invalidation: dict | None = None  # the CloudFront invalidation (sync/invalidate.py)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (timings.py)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> dict:
        """The JSON summary: uploaded / unchanged / deleted / failed, bytes, seconds, requests."""
        return {
            "uploaded": len(self.uploaded),
            "metadata_updated": len(self.metadata_updated),
            "unchanged": self.unchanged,
            "deleted": len(self.deleted),
            "failed": len(self.failures),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "stale": len(self.stale),
            "failures": [{"name": n, "error": e} for n, e in self.failures],
            "warnings": list(self.warnings),
            "kept": len(self.kept),
            "invalidation": self.invalidation,
            "timings": dict(self.timings),
        }
