"""FIRF and its baselines: ``build_model(name, dims)`` for a fresh one, ``load_model(path)`` for
a saved one, ``model(batch) -> ModelOutput``, ``model.compute_loss(view_a, view_b)``."""

from firf.model.baselines import LateFusion, SharedPrivate
from firf.model.build import MODEL_NAMES, VARIANTS, build_model, load_model
from firf.model.config import FIRFConfig, LateFusionConfig, SharedPrivateConfig
from firf.model.firf import FIRF
from firf.model.outputs import ModelOutput

__all__ = [
    "FIRF",
    "FIRFConfig",
    "LateFusion",
    "LateFusionConfig",
    "MODEL_NAMES",
    "ModelOutput",
    "SharedPrivate",
    "SharedPrivateConfig",
    "VARIANTS",
    "build_model",
    "load_model",
]
