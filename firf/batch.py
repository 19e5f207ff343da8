"""The batch format every model, protocol and loader in FIRF speaks.

A batch is a plain dict of tensors. For each modality m in MODALITIES:

- ``batch[m]``            (B, L_m, d_m) float32 features; padding and dropped frames are zero
- ``batch[f"{m}_mask"]``  (B, L_m) float32, 1 = observed frame, 0 = padding or missing
- ``batch[f"{m}_lengths"]`` (B,) int64, frames inside the clip (observed or dropped)

plus ``batch["label"]`` (B,) float32 sentiment score when known. A whole missing modality has
an all-zero mask. Keeping ``lengths`` apart from ``mask`` lets a model tell a frame that was
lost (inside the clip) from padding (outside it).
"""

from __future__ import annotations

import torch

from firf.modalities import MODALITIES

Batch = dict[str, torch.Tensor]


def presence(batch: Batch) -> torch.Tensor:
    """(B, 3) float: 1 where a modality has at least one observed frame."""
    return torch.stack([(batch[f"{m}_mask"].sum(1) > 0).float() for m in MODALITIES], dim=1)


def coverage(batch: Batch) -> torch.Tensor:
    """(B, 3) float: observed frames / frames in the clip, per modality (0 when absent)."""
    cols = []
    for m in MODALITIES:
        observed = batch[f"{m}_mask"].sum(1)
        total = batch[f"{m}_lengths"].clamp(min=1).to(observed.dtype)
        cols.append((observed / total).clamp(0, 1))
    return torch.stack(cols, dim=1)


def batch_to(batch: Batch, device: torch.device | str) -> Batch:
    return {k: v.to(device) for k, v in batch.items()}


def batch_size(batch: Batch) -> int:
    return int(batch[f"{MODALITIES[0]}_mask"].shape[0])
