"""Shared helpers of the checkpoint-v2 studies: where the real data is, and stable splits.

The studies read ``/work/shared/data`` (or ``$FIRF_SHARED_DATA``) and never write into it; what
they cache (encoder states) goes under the user cache, what they report goes to stdout.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """``$FIRF_SHARED_DATA``, else the first ``shared/data`` found above the checkout."""
    override = os.environ.get("FIRF_SHARED_DATA")
    candidates = [Path(override)] if override else []
    candidates += [parent / "shared" / "data" for parent in REPO_ROOT.parents]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise SystemExit("shared data not found: set FIRF_SHARED_DATA to the folder with sst2/, mosi/")


def study_cache(name: str) -> Path:
    """A folder under the user cache for one study's expensive, reusable intermediate arrays."""
    from firf.cache import cache_dir

    path = cache_dir("studies") / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def unit_hash(key: str) -> float:
    """A stable pseudo-random number in [0, 1) for ``key`` (same rule as the demo corpus)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def balanced_accuracy(truth, predicted) -> float:
    """Mean per-class recall over the classes present in ``truth``."""
    import numpy as np

    truth, predicted = np.asarray(truth), np.asarray(predicted)
    recalls = [float((predicted[truth == c] == c).mean()) for c in np.unique(truth)]
    return float(np.mean(recalls))
