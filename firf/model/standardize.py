"""Fit the input standardisation of a model's encoders (``MaskedEncoder.input_mean/scale``).

The statistics are per feature dimension over every observed frame of the training split, so
they hold nothing of the split a model is selected or evaluated on. They are saved with the
weights as buffers; a checkpoint therefore standardises exactly as it did in training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from firf.data.dataset import FeatureDataset
from firf.model.layers import MaskedEncoder

# A dimension that barely varies in training (a constant or zero-padded channel) would be
# divided by ~0 and amplify whatever it holds at inference; its scale is floored at this
# fraction of the modality's median std.
SCALE_FLOOR = 1e-2


def feature_statistics(dataset: FeatureDataset, modality: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and (floored) std of ``modality`` over the observed frames.

    A modality that is never observed gets mean 0 and scale 1: standardisation is then the
    identity rather than a division by zero.
    """
    dim = dataset.dims[modality]
    count, total, squares = 0, np.zeros(dim), np.zeros(dim)
    for sample in dataset.samples:
        frames = np.asarray(sample[modality], dtype=np.float64)
        mask = sample.get(f"{modality}_mask")
        if mask is not None:
            frames = frames[np.asarray(mask) > 0]
        count += len(frames)
        total += frames.sum(0)
        squares += np.square(frames).sum(0)
    if count == 0:
        return np.zeros(dim), np.ones(dim)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - np.square(mean), 0.0))
    floor = max(SCALE_FLOOR * float(np.median(std)), 1e-8)
    return mean, np.maximum(std, floor)


def fit_input_statistics(model: nn.Module, train_set: FeatureDataset) -> bool:
    """Set every standardising encoder of ``model`` from ``train_set``; False if it has none."""
    fitted = False
    for modality, encoder in getattr(model, "encoders", {}).items():
        if not isinstance(encoder, MaskedEncoder):
            continue
        mean, scale = feature_statistics(train_set, modality)
        with torch.no_grad():
            encoder.input_mean.copy_(torch.from_numpy(mean))
            encoder.input_scale.copy_(torch.from_numpy(scale))
        fitted = True
    return fitted
