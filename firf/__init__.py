"""FIRF: multimodal sentiment analysis that keeps working when modalities go missing.

``import firf`` is cheap: the public names below import torch, the extractors and the model
only when first used.

    pred = firf.predict(video="clip.mp4", text="I loved it")
    pipeline = firf.Pipeline.from_pretrained("weights")   # the checkpoint + its extractors
    model = firf.FIRF.from_pretrained("weights")
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# OpenMP threads that sleep between parallel regions instead of spinning: torch's busy-waiting
# workers otherwise take the core Face Mesh (or another process) needs, and a preempted worker
# stalls every parallel region. On the shared 2-core machine, Whisper on a 10 s clip took
# 14.9 s with spinning and 3.7 s without; only then does running Face Mesh beside Whisper pay.
# It takes effect when firf is imported before torch; an explicit setting is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from firf.errors import InputError
from firf.modalities import MODALITIES, SUBSETS, parse_modalities, subset_code
from firf.prediction import NEUTRAL_BAND, Prediction, sentiment_label

# public name -> module that defines it, imported on first use
_LAZY = {
    "predict": "firf.pipeline",
    "Pipeline": "firf.pipeline",
    "Features": "firf.features",
    "Extractors": "firf.extractors",
    "FIRF": "firf.model",
    "FIRFConfig": "firf.model",
    "load_model": "firf.model",
    "draw_landmarks": "firf.extract.vision",
    "resolve_weights": "firf.weights",
    "cache_dir": "firf.cache",
    "predict_timeline": "firf.timeline",
    "TIMELINE_SECONDS": "firf.timeline",
    "resolve_device": "firf.device",
    "clean_text": "firf.sanitize",
    "printable": "firf.sanitize",
}

__all__ = [
    "InputError",
    "MODALITIES",
    "NEUTRAL_BAND",
    "Prediction",
    "SUBSETS",
    "parse_modalities",
    "sentiment_label",
    "subset_code",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'firf' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
