"""Numbers as people read them, the same in every command and in the game."""

from __future__ import annotations

__all__ = ["human_bytes", "human_duration"]


def human_bytes(size) -> str:
    """``1536`` → ``'1.5 KB'`` (binary steps, as ``ls -h`` and ``du -h``); ``None`` → ``'?'``."""
    if size is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def human_duration(seconds: float) -> str:
    """``90`` → ``'90 s'``, ``5400`` → ``'90 min'``, ``18000`` → ``'5.0 h'``, then days."""
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"
