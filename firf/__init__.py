"""FIRF: multimodal sentiment analysis that keeps working when modalities go missing.

``import firf`` is cheap: the public names below import torch, the extractors and the model
only when first used.

    pred = firf.predict(video="clip.mp4", text="I loved it")
    model = firf.FIRF.from_pretrained("weights")
"""

from __future__ import annotations

import importlib
from typing import Any

from firf.errors import InputError

# public name -> module that defines it
_LAZY = {
    "predict": "firf.prediction",
    "Prediction": "firf.prediction",
    "load_pipeline": "firf.pipeline",
    "FIRF": "firf.model",
    "FIRFConfig": "firf.model",
}

__all__ = ["InputError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'firf' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
