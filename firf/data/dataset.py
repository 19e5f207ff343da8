"""Per-clip feature samples, their dataset, and the collate function that makes batches.

A sample is ``{"text": (L_t, d_t), "audio": (L_a, d_a), "vision": (L_v, d_v), "label": float,
"id": str}`` with optional ``"{m}_mask"`` arrays (L_m,) marking frames known to be missing (e.g.
no face found). A modality absent from a clip is an array of shape ``(0, d_m)``. Batches hold
tensors only, so clip ids stay on the dataset (``dataset.ids``), in the same order as its items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from firf.batch import Batch
from firf.errors import InputError
from firf.modalities import DATASET_KINDS, MODALITIES

Sample = dict[str, Any]


def check_sample(sample: Sample, dims: dict[str, int], index: int) -> Sample:
    """Validate one sample and return it with float32 arrays, so errors name the bad clip."""
    clip = sample.get("id", f"#{index}")
    out = dict(sample)
    for m in MODALITIES:
        if m not in sample:
            raise InputError(f"sample {clip!r} has no {m!r} array (use shape (0, {dims[m]}))")
        x = np.asarray(sample[m], dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != dims[m]:
            raise InputError(
                f"sample {clip!r}: {m} features have shape {x.shape}, expected (frames, {dims[m]})"
            )
        if not np.isfinite(x).all():
            raise InputError(f"sample {clip!r}: {m} features contain NaN or infinity")
        out[m] = x
        mask_key = f"{m}_mask"
        if sample.get(mask_key) is not None:
            mask = np.asarray(sample[mask_key], dtype=np.float32).reshape(-1)
            if mask.shape[0] != x.shape[0]:
                raise InputError(
                    f"sample {clip!r}: {mask_key} has {mask.shape[0]} entries for "
                    f"{x.shape[0]} {m} frames"
                )
            out[mask_key] = mask
    if "label" in sample and not np.isfinite(float(sample["label"])):
        raise InputError(f"sample {clip!r}: label is not a finite number")
    return out


class FeatureDataset(Dataset):
    """Precomputed features of a list of clips.

    ``kind`` ("mosi", "mosei" or "sims") picks the metric set and the score range (SIMS labels
    lie in [-1, 1]); ``extractor`` records the feature extractors' signatures when known, so a
    checkpoint trained on these features can store them.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        dims: dict[str, int],
        kind: str = "mosi",
        extractor: dict | None = None,
    ) -> None:
        if set(dims) != set(MODALITIES):
            raise InputError(f"dims must name exactly {MODALITIES}, got {sorted(dims)}")
        if kind not in DATASET_KINDS:
            raise InputError(f"unknown dataset kind {kind!r}; expected one of {DATASET_KINDS}")
        self.dims = {m: int(dims[m]) for m in MODALITIES}
        self.kind = kind
        self.extractor = extractor
        self.samples = [check_sample(s, self.dims, i) for i, s in enumerate(samples)]

    @property
    def ids(self) -> list[str]:
        return [str(s.get("id", i)) for i, s in enumerate(self.samples)]

    @property
    def labels(self) -> np.ndarray:
        return np.array([float(s["label"]) for s in self.samples], dtype=np.float32)

    @property
    def score_range(self) -> float:
        return 1.0 if self.kind == "sims" else 3.0

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]


def collate(samples: Sequence[Sample]) -> Batch:
    """Pad samples into a batch (see ``firf.batch``); every modality gets at least one frame."""
    if not samples:
        raise InputError("cannot build a batch from zero samples")
    batch: Batch = {}
    for m in MODALITIES:
        arrays = [np.asarray(s[m], dtype=np.float32) for s in samples]
        dim = arrays[0].shape[1]
        longest = max(1, max(a.shape[0] for a in arrays))
        features = torch.zeros(len(samples), longest, dim)
        mask = torch.zeros(len(samples), longest)
        lengths = torch.zeros(len(samples), dtype=torch.int64)
        for i, (sample, x) in enumerate(zip(samples, arrays, strict=True)):
            frames = x.shape[0]
            given = sample.get(f"{m}_mask")
            observed = torch.ones(frames) if given is None else torch.as_tensor(given).float()
            features[i, :frames] = torch.from_numpy(x) * observed.unsqueeze(1)
            mask[i, :frames] = observed
            lengths[i] = frames
        batch[m] = features
        batch[f"{m}_mask"] = mask
        batch[f"{m}_lengths"] = lengths
    has_label = ["label" in s for s in samples]
    if all(has_label):
        batch["label"] = torch.tensor([float(s["label"]) for s in samples], dtype=torch.float32)
    elif any(has_label):
        raise InputError("some samples in the batch have a label and others do not")
    return batch


def make_loader(
    dataset: FeatureDataset,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader that collates with ``collate`` and shuffles in an order fixed by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate,
        generator=generator,
        num_workers=num_workers,
    )
