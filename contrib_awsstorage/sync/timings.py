"""How long each phase of a sync took, for the report, the JSON and the record.

Phases overlap (the listing is on the wire while files are hashed; the state
is written while files upload), so each phase is one span of wall time, from
the first moment it was at work to the last, and the spans do not add up to
the run's total. A phase that did not run reports 0.

``start_up`` is the time the process took to reach the sync: interpreter,
Django, settings, the command. Only a command run as a program knows it
(:func:`process_age`); a sync called in a long-lived process reports 0.
``client`` is the storage's boto3 client being built, boto3's import
included, when this run is its first use.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

__all__ = ["PHASES", "Timings", "process_age"]

#: The phases, in the order a run reaches them.
PHASES = (
    "start_up",
    "client",
    "scan",
    "listing",
    "plan",
    "uploads",
    "deletes",
    "state_write",
    "retention",
    "invalidation",
    "housekeeping",
    "record",
)


class Timings:
    """Spans of wall time per phase; safe to note from the sync's pool threads."""

    def __init__(self, start_up: float | None = None):
        self._spans: dict[str, tuple[float, float]] = {}
        self._start_up = start_up or 0.0
        self._lock = threading.Lock()

    def note(self, phase: str, start: float, end: float | None = None) -> None:
        """``phase`` was at work from ``start`` to ``end`` (default: now), on the
        ``time.monotonic`` clock; spans of one phase merge into one."""
        if phase not in PHASES:
            raise ValueError(f"unknown sync phase {phase!r}; the phases are {', '.join(PHASES)}")
        end = time.monotonic() if end is None else end
        with self._lock:
            first, last = self._spans.get(phase, (start, end))
            self._spans[phase] = (min(first, start), max(last, end))

    @contextmanager
    def phase(self, phase: str):
        """Time the ``with`` block as (part of) ``phase``."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.note(phase, start)

    def until_done(self, phase: str, futures) -> None:
        """Time ``phase`` from now until the last of ``futures`` is done."""
        start = time.monotonic()
        for future in futures:
            future.add_done_callback(lambda _future: self.note(phase, start))

    def as_dict(self) -> dict[str, float]:
        """Seconds per phase (every phase, in run order), rounded to the millisecond."""
        with self._lock:
            spans = dict(self._spans)
        seconds = {name: last - first for name, (first, last) in spans.items()}
        seconds["start_up"] = self._start_up
        return {name: round(seconds.get(name, 0.0), 3) for name in PHASES}


def process_age() -> float | None:
    """Seconds since this process started, where the OS tells (Linux's /proc);
    None elsewhere. A command run as a program calls it first thing, so this
    is its start-up: the interpreter, the imports and Django's set-up."""
    try:
        with open("/proc/self/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        started = int(fields[19]) / ticks  # field 22 (starttime), counted after "pid (comm)"
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
