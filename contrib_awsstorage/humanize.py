"""Numbers as people read them, the same in every command and in the game."""

from __future__ import annotations

__all__ = ["human_bytes"]


def human_bytes(size) -> str:
    """``1536`` → ``'1.5 KB'`` (binary steps, as ``ls -h`` and ``du -h``); ``None`` → ``'?'``."""
    if size is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
