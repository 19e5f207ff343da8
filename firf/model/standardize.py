"""Fit what a model's encoders take from the training split: the input standardisation
(``MaskedEncoder.input_mean/scale``) and, for FIRF's audio, the fixed tone readout.

The statistics are per feature dimension over every observed frame of the training split, so
they hold nothing of the split a model is selected or evaluated on. They are saved with the
weights as buffers; a checkpoint therefore standardises exactly as it did in training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from firf.data.dataset import FeatureDataset
from firf.errors import InputError
from firf.modalities import MODALITIES
from firf.model.layers import MaskedEncoder

# A dimension that barely varies in training (a constant or zero-padded channel) would be
# divided by ~0 and amplify whatever it holds at inference; its scale is floored at this
# fraction of the modality's median std.
SCALE_FLOOR = 1e-2


def observed_frames(sample: dict, modality: str) -> np.ndarray:
    """(frames, dim) float64: the frames of ``modality`` in ``sample`` its mask keeps."""
    frames = np.asarray(sample[modality], dtype=np.float64)
    mask = sample.get(f"{modality}_mask")
    return frames if mask is None else frames[np.asarray(mask) > 0]


def feature_statistics(dataset: FeatureDataset, modality: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and (floored) std of ``modality`` over the observed frames.

    A modality that is never observed gets mean 0 and scale 1: standardisation is then the
    identity rather than a division by zero.
    """
    dim = dataset.dims[modality]
    count, total, squares = 0, np.zeros(dim), np.zeros(dim)
    for sample in dataset.samples:
        frames = observed_frames(sample, modality)
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


# The readout learns from clips whose label is this clear (|label| >= it): clearly positive
# against clearly negative, as the probes in benchmarks/demo_checkpoint.md did.
CLEAR_LABEL = 1.0
# Inverse L2 strength of the readout's logistic regression: strong, so that a few speakers'
# clips give a readout that carries over to other voices (C from 0.01 to 1 gave the same
# leave-one-speaker-out accuracy in the EmoDB probes).
PROBE_C = 0.1


def fit_audio_probe(model: nn.Module, train_set: FeatureDataset) -> int:
    """Fit the audio encoder's fixed tone readout, if it has one; returns the clips it read.

    It is a balanced logistic regression of the label's sign on the clip's mean standardised
    frame (dims ``probe_from``..), over the training clips that carry audio alone and a clear
    label: there the voice is all the label can come from (in the demo corpus, EmoDB's acted
    speech). Call after ``fit_input_statistics``; the readout is saved with the weights.
    """
    from sklearn.linear_model import LogisticRegression

    encoders = getattr(model, "encoders", {})  # an nn.ModuleDict: no ``get``
    if "audio" not in encoders or getattr(encoders["audio"], "probe_from", None) is None:
        return 0
    encoder = encoders["audio"]
    start = encoder.probe_from
    mean = encoder.input_mean.double().numpy()[start:]
    scale = encoder.input_scale.double().numpy()[start:]
    rows, signs = [], []
    for sample in train_set.samples:
        seen = {m: observed_frames(sample, m) for m in MODALITIES}
        alone = [m for m in MODALITIES if len(seen[m])] == ["audio"]
        if not alone or abs(float(sample["label"])) < CLEAR_LABEL:
            continue
        rows.append(((seen["audio"][:, start:] - mean) / scale).mean(0))
        signs.append(float(sample["label"]) > 0)
    signs = np.array(signs, dtype=bool)
    if signs.sum() < 2 or (~signs).sum() < 2:
        raise InputError(
            "the audio tone readout needs training clips with audio alone and a clear label"
            f" (|label| >= {CLEAR_LABEL}), at least 2 positive and 2 negative; found"
            f" {int(signs.sum())} and {int((~signs).sum())}"
        )
    x = np.stack(rows)
    centre, spread = x.mean(0), np.maximum(x.std(0), 1e-8)
    fit = LogisticRegression(C=PROBE_C, class_weight="balanced", max_iter=2000)
    fit.fit((x - centre) / spread, signs)
    weight = fit.coef_[0] / spread
    with torch.no_grad():
        encoder.probe_weight.copy_(torch.from_numpy(weight))
        encoder.probe_bias.fill_(float(fit.intercept_[0] - weight @ centre))
    return len(signs)


def fit_from_training_data(model: nn.Module, train_set: FeatureDataset) -> None:
    """Everything a model takes from its training split before training: the encoders' input
    standardisation, then the audio tone readout (which reads standardised frames)."""
    fit_input_statistics(model, train_set)
    fit_audio_probe(model, train_set)
