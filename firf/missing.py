"""Missing-modality simulation: the two evaluation protocols and the train-time scheme.

- intra (LNLN / EMT-DLFR / TFR-Net): every observed frame is lost independently with rate r.
- inter (CorrKD / HRLF / FSRF): whole modalities are absent; the 7 non-empty subsets of t, a, v.
- train-time: each sample gets its own per-modality rates and whole-modality drops, so the model
  sees the full range of damage it is evaluated on.

Every random draw goes through a caller-supplied CPU ``torch.Generator`` and depends only on the
batch *shape*, so a seed reproduces the same pattern on any device. Functions return new dicts
and never modify the batch they are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from firf.batch import Batch, batch_size, presence
from firf.errors import InputError
from firf.modalities import MODALITIES, parse_subset

INTRA_RATES: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))
EVAL_SEEDS: tuple[int, ...] = (1111, 1112, 1113)


def _apply_keep(batch: Batch, keep: dict[str, torch.Tensor]) -> Batch:
    """Zero the features and mask of every frame whose ``keep`` entry is False."""
    out = dict(batch)
    for m, frame_keep in keep.items():
        mask = batch[f"{m}_mask"]
        frame_keep = frame_keep.to(device=mask.device, dtype=mask.dtype)
        out[f"{m}_mask"] = mask * frame_keep
        out[m] = batch[m] * frame_keep.unsqueeze(-1).to(batch[m].dtype)
    return out


def drop_frames(
    batch: Batch,
    rate: float,
    generator: torch.Generator,
    modalities: Sequence[str] = MODALITIES,
) -> Batch:
    """Intra-modal missingness: drop each frame of ``modalities`` with probability ``rate``."""
    if not 0.0 <= rate <= 1.0:
        raise InputError(f"missing rate must lie in [0, 1], got {rate}")
    keep = {}
    for m in modalities:
        shape = batch[f"{m}_mask"].shape
        keep[m] = torch.rand(shape, generator=generator) >= rate
    return _apply_keep(batch, keep)


def keep_modalities(batch: Batch, subset: str) -> Batch:
    """Inter-modal missingness: modalities not named in ``subset`` lose every frame."""
    kept = parse_subset(subset)
    keep = {
        m: torch.full(batch[f"{m}_mask"].shape, m in kept, dtype=torch.bool)
        for m in MODALITIES
        if m not in kept
    }
    return _apply_keep(batch, keep)


@dataclass
class TrainMissing:
    """Train-time missingness, drawn afresh for every sample and view.

    ``max_rate`` is 1.0 so training covers the whole evaluation range (intra rates up to 0.9);
    ``complete_fraction`` keeps some samples untouched so the model still learns from full
    evidence (LNLN's scheme); ``modality_drop_prob`` removes whole modalities independently, as in
    the inter protocol, without ever removing every modality of a sample. ``max_dropped`` caps how
    many whole modalities one sample may lose (the benchmark's ``shift_partial`` track uses 1 to
    keep single-modality patterns out of labelled training).
    """

    complete_fraction: float = 0.2
    max_rate: float = 1.0
    modality_drop_prob: float = 0.3
    max_dropped: int = len(MODALITIES) - 1

    def __post_init__(self) -> None:
        for name in ("complete_fraction", "max_rate", "modality_drop_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"TrainMissing.{name} must lie in [0, 1], got {value}")
        if not 0 <= self.max_dropped < len(MODALITIES):
            raise InputError(
                f"TrainMissing.max_dropped must lie in [0, {len(MODALITIES) - 1}], "
                f"got {self.max_dropped}"
            )


def random_view(batch: Batch, cfg: TrainMissing, generator: torch.Generator) -> Batch:
    """One randomly damaged view of ``batch`` under the train-time scheme.

    Per sample: with probability ``complete_fraction`` nothing is dropped; otherwise each modality
    gets a frame-drop rate from U(0, max_rate) and is removed entirely with probability
    ``modality_drop_prob``. A sample that had observed frames always keeps some: if the draws
    removed everything, one of its originally present modalities (chosen at random) is restored.
    """
    n = batch_size(batch)
    complete = torch.rand(n, generator=generator) < cfg.complete_fraction
    rates = torch.rand(n, len(MODALITIES), generator=generator) * cfg.max_rate
    rates[complete] = 0.0
    dropped = torch.rand(n, len(MODALITIES), generator=generator) < cfg.modality_drop_prob
    dropped &= ~complete.unsqueeze(1)
    if cfg.max_dropped < len(MODALITIES) - 1:  # keep a random max_dropped of the drawn drops
        order = torch.where(dropped, torch.rand(dropped.shape, generator=generator), -1.0)
        kept = order.topk(max(cfg.max_dropped, 1), dim=1).values[:, -1:]
        dropped &= (order >= kept) & (cfg.max_dropped > 0)

    keep = {}
    for i, m in enumerate(MODALITIES):
        frames = torch.rand(batch[f"{m}_mask"].shape, generator=generator)
        keep[m] = (frames >= rates[:, i : i + 1]) & ~dropped[:, i : i + 1]

    was_present = presence(batch).cpu().bool()
    still_present = torch.stack(
        [(keep[m] & (batch[f"{m}_mask"].cpu() > 0)).any(1) for m in MODALITIES], dim=1
    )
    emptied = was_present.any(1) & ~still_present.any(1)
    choice = torch.rand(n, len(MODALITIES), generator=generator)
    restored = torch.where(was_present, choice, torch.full_like(choice, -1.0)).argmax(1)
    for i, m in enumerate(MODALITIES):
        keep[m][emptied & (restored == i)] = True
    return _apply_keep(batch, keep)
