"""Loss terms, as plain functions of tensors. Each returns a scalar tensor (zero when the batch
holds nothing the term applies to, e.g. fewer than two samples with both modalities present).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from firf.errors import InputError


def gaussian_targets(label: Tensor, centers: Tensor, sigma: float) -> Tensor:
    """(B,) labels -> (B, K) distributions over bin centres, a Gaussian around each label.

    Soft targets rather than one-hot: neighbouring bins are nearly right, and a smooth target
    gives the distribution head something meaningful to distil between views.
    """
    label = label.clamp(centers[0], centers[-1])
    logits = -0.5 * ((label[:, None] - centers[None, :]) / sigma) ** 2
    return logits.softmax(dim=-1)


def soft_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    return -(target * logits.log_softmax(dim=-1)).sum(-1).mean()


def agreement(summaries: Tensor, present: Tensor, eps: float = 1e-4) -> Tensor:
    """Per-dimension disagreement between modality pairs: every dimension of sample i's s_t,
    standardised over the batch, should equal the same dimension of its s_a (and s_v).

    Every dimension, not just the overall direction of the vector: a dimension that carries one
    modality's private content cannot match the other modalities, so the shared factor is left
    with what they share. Standardising first rules out the trivial answer (a constant). Only
    samples present in both modalities of a pair count. summaries: (B, 3, D); present: (B, 3).
    Equals 2 (1 - mean correlation) over dimensions: 0 for perfect agreement, 2 for none.
    """
    terms = []
    for i, j in itertools.combinations(range(summaries.shape[1]), 2):
        both = (present[:, i] > 0) & (present[:, j] > 0)
        if both.sum() < 2:
            continue
        a, b = summaries[both, i], summaries[both, j]
        a = (a - a.mean(0)) / (a.var(0, unbiased=False) + eps).sqrt()
        b = (b - b.mean(0)) / (b.var(0, unbiased=False) + eps).sqrt()
        terms.append((a - b).pow(2).mean())
    return torch.stack(terms).mean() if terms else summaries.new_zeros(())


def orthogonality(a: Tensor, b: Tensor, rows: Tensor) -> Tensor:
    """MISA's soft orthogonality: squared correlations between two (B, D) factor matrices.

    Rows are centred over the batch and L2-normalised, so the loss is zero when no dimension of
    ``a`` linearly explains any dimension of ``b`` across the batch. ``rows`` selects samples.
    """
    a, b = a[rows], b[rows]
    if a.shape[0] < 2:
        return a.new_zeros(())
    a = F.normalize(a - a.mean(0), dim=1)
    b = F.normalize(b - b.mean(0), dim=1)
    return (a.T @ b).pow(2).mean()


def token_mse(prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """MSE over observed tokens only: (B, L, D) tensors, (B, L) mask."""
    observed = mask > 0
    if not observed.any():
        return prediction.new_zeros(())
    return F.mse_loss(prediction[observed], target[observed])


def weighted_mse(prediction: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Per-sample MSE of (B, D) tensors, averaged with (B,) weights; zero when all weights are."""
    total = weight.sum()
    if total <= 0:
        return prediction.new_zeros(())
    per_sample = (prediction - target).pow(2).mean(-1)
    return (weight * per_sample).sum() / total


def weighted_l1(prediction: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """L1 of (B,) tensors averaged with (B,) weights; zero when all weights are."""
    total = weight.sum()
    if total <= 0:
        return prediction.new_zeros(())
    return (weight * (prediction - target).abs()).sum() / total


def distillation_kl(teacher_logits: Tensor, student_logits: Tensor, temperature: float) -> Tensor:
    """(B,) KL(teacher || student) at a temperature, scaled by T^2 (Hinton et al.) so the
    gradient size does not shrink as T grows. The caller detaches the teacher."""
    teacher = (teacher_logits / temperature).log_softmax(-1)
    student = (student_logits / temperature).log_softmax(-1)
    kl = (teacher.exp() * (teacher - student)).sum(-1)
    return kl * temperature**2


def central_moment_discrepancy(x: Tensor, y: Tensor, moments: int) -> Tensor:
    """CMD (Zellinger et al.), as MISA uses it: distance between means plus between central
    moments 2..K of two (N, D) samples."""
    if x.shape[0] < 2 or y.shape[0] < 2:
        return x.new_zeros(())
    mx, my = x.mean(0), y.mean(0)
    cx, cy = x - mx, y - my
    distance = (mx - my).norm()
    for k in range(2, moments + 1):
        distance = distance + (cx.pow(k).mean(0) - cy.pow(k).mean(0)).norm()
    return distance


@dataclass
class FIRFLoss:
    """Weights and temperatures of FIRF's training loss (task terms of both views weigh 1).

    Training settings, not architecture: a model carries one as ``model.loss_config`` (the
    default unless ``build_model`` or the train command sets another), and it is recorded in
    ``train_log.json``, not in the checkpoint's config.json.
    """

    lambda_dist: float = 0.2  # distribution head vs the Gaussian-smoothed label
    lambda_syn: float = 0.3
    lambda_het: float = 0.1
    lambda_rec: float = 0.1
    lambda_miss: float = 0.5
    lambda_kd: float = 0.5  # DCSD; 0 turns self-distillation off
    # Per-modality heads predict the label from their modality alone; the single-modality
    # readout reads them, so they must be trained. 0.3 rather than 1 since session 14 (with the
    # mean teacher; BENCHMARKS.md, "A mean teacher for unlabelled clips").
    lambda_uni: float = 0.3
    # Only the strictly more complete view teaches (selection runs: BENCHMARKS.md, "One-way
    # distillation"); True also lets the damaged view pull the complete one (``firf_twoway``).
    kd_bidirectional: bool = False
    dist_sigma_bins: float = 1.5
    kd_temperature: float = 2.0

    def __post_init__(self) -> None:
        weights = {name: value for name, value in vars(self).items() if name.startswith("lambda")}
        negative = [name for name, value in weights.items() if value < 0]
        if negative:
            raise InputError(f"loss weights must be non-negative: {negative}")
        if self.lambda_uni == 0:
            raise InputError(
                "lambda_uni must be positive: FIRF's single-modality readout reads the "
                "per-modality heads that only this loss trains"
            )


@dataclass
class SharedPrivateLoss:
    """MISA's loss weights: CMD similarity, orthogonality and reconstruction."""

    lambda_sim: float = 0.3
    lambda_diff: float = 0.3
    lambda_rec: float = 0.3
    cmd_moments: int = 5
