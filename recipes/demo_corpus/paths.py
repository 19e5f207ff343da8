"""Where the demo corpus reads its source data and writes its features."""

from __future__ import annotations

import os
from pathlib import Path

from firf.cache import cache_dir
from firf.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    """The read-only source data: ``$FIRF_SHARED_DATA`` or ``../shared/data`` beside the repo.

    The data is never copied into the repository (licences differ); only what is trained on it is.
    """
    override = os.environ.get("FIRF_SHARED_DATA")
    root = Path(override) if override else REPO_ROOT.parent / "shared" / "data"
    if not root.is_dir():
        raise InputError(
            f"Source data not found at {root}. Set FIRF_SHARED_DATA to the folder that holds "
            "mosi/, meld/ and ckplus48/ (see the model card for where each comes from)."
        )
    return root


def default_out_dir() -> Path:
    """Features are cached under the user cache so a rebuild skips finished work."""
    return cache_dir("demo_corpus")
