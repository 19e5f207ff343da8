"""Where FIRF keeps files it builds once per user (converted model weights)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """`$FIRF_CACHE` (default ``~/.cache/firf``) joined with `parts`, created if missing.

    One overridable root lets a read-only home, a CI runner or a Space point the cache at
    writable storage without touching code.
    """
    root = Path(os.environ.get("FIRF_CACHE") or Path.home() / ".cache" / "firf").expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
