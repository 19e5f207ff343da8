"""Sentiment regression metrics, computed the way MMSA's ``MetricsTop`` does.

Matching MMSA's definitions keeps our numbers comparable with the published tables:

- MOSI/MOSEI (scores in [-3, 3]): ``acc2_has0``/``f1_has0`` split negative (< 0) from
  non-negative (>= 0); ``acc2_non0``/``f1_non0`` drop samples whose *label* is 0 and split
  negative (<= 0 for predictions, as in MMSA) from positive (> 0); ``acc5``/``acc7`` clip to
  [-2, 2]/[-3, 3] and round to the nearest integer class; ``mae``; ``corr`` (Pearson).
- SIMS (scores in [-1, 1]): predictions and labels are clipped to [-1, 1] first, then binned with
  MMSA's edges into 2, 3 and 5 classes; ``f1`` is the weighted F1 of the 2-class split.

F1 is the support-weighted F1 over the classes present in the labels (sklearn's
``average="weighted"``). Undefined quantities are reported as 0.0 rather than NaN so that tables
and JSON stay valid: Pearson correlation of a constant series, and the non0 scores when every
label is 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from firf.errors import InputError
from firf.modalities import DATASET_KINDS

ArrayLike = np.ndarray | torch.Tensor | Sequence[float]

# MMSA's SIMS bin edges: a value v falls in class i when edges[i] < v <= edges[i + 1].
SIMS_EDGES_2 = (-1.01, 0.0, 1.01)
SIMS_EDGES_3 = (-1.01, -0.1, 0.1, 1.01)
SIMS_EDGES_5 = (-1.01, -0.7, -0.1, 0.1, 0.7, 1.01)


def _as_array(values: ArrayLike) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64).reshape(-1)


def pearson(preds: np.ndarray, labels: np.ndarray) -> float:
    """Pearson correlation; 0.0 when either side is constant (MMSA would give NaN)."""
    p = preds - preds.mean()
    y = labels - labels.mean()
    denom = np.sqrt((p * p).sum() * (y * y).sum())
    if denom == 0 or not np.isfinite(denom):
        return 0.0
    return float(np.clip((p * y).sum() / denom, -1.0, 1.0))


def weighted_f1(pred_classes: np.ndarray, true_classes: np.ndarray) -> float:
    """Support-weighted F1 over the classes present in ``true_classes``.

    A class that is never predicted contributes F1 = 0 (sklearn's ``zero_division=0``).
    """
    if true_classes.size == 0:
        return 0.0
    total = 0.0
    for c in np.unique(true_classes):
        support = int((true_classes == c).sum())
        predicted = int((pred_classes == c).sum())
        hits = int(((pred_classes == c) & (true_classes == c)).sum())
        if hits == 0:
            continue
        precision = hits / predicted
        recall = hits / support
        total += support * 2 * precision * recall / (precision + recall)
    return total / true_classes.size


def _accuracy(pred_classes: np.ndarray, true_classes: np.ndarray) -> float:
    return float((pred_classes == true_classes).mean()) if true_classes.size else 0.0


def _bin(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    classes = np.full(values.shape, -1, dtype=np.int64)
    for i in range(len(edges) - 1):
        classes[(values > edges[i]) & (values <= edges[i + 1])] = i
    return classes


def _mosi_metrics(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    nonzero = labels != 0
    neg_pos_true = labels[nonzero] > 0
    neg_pos_pred = preds[nonzero] > 0
    has0_true = labels >= 0
    has0_pred = preds >= 0
    return {
        "acc2_has0": _accuracy(has0_pred, has0_true),
        "f1_has0": weighted_f1(has0_pred, has0_true),
        "acc2_non0": _accuracy(neg_pos_pred, neg_pos_true),
        "f1_non0": weighted_f1(neg_pos_pred, neg_pos_true),
        "acc5": _accuracy(np.round(np.clip(preds, -2, 2)), np.round(np.clip(labels, -2, 2))),
        "acc7": _accuracy(np.round(np.clip(preds, -3, 3)), np.round(np.clip(labels, -3, 3))),
        "mae": float(np.abs(preds - labels).mean()),
        "corr": pearson(preds, labels),
    }


def _sims_metrics(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    preds = np.clip(preds, -1, 1)
    labels = np.clip(labels, -1, 1)
    pred2, true2 = _bin(preds, SIMS_EDGES_2), _bin(labels, SIMS_EDGES_2)
    return {
        "acc2": _accuracy(pred2, true2),
        "acc3": _accuracy(_bin(preds, SIMS_EDGES_3), _bin(labels, SIMS_EDGES_3)),
        "acc5": _accuracy(_bin(preds, SIMS_EDGES_5), _bin(labels, SIMS_EDGES_5)),
        "f1": weighted_f1(pred2, true2),
        "mae": float(np.abs(preds - labels).mean()),
        "corr": pearson(preds, labels),
    }


def regression_metrics(
    preds: ArrayLike, labels: ArrayLike, dataset: str = "mosi"
) -> dict[str, float]:
    """All MMSA regression metrics for one set of predictions.

    ``dataset`` is ``"mosi"`` or ``"mosei"`` (same metrics) or ``"sims"``.
    """
    if dataset not in DATASET_KINDS:
        raise InputError(f"unknown dataset kind {dataset!r}; expected one of {DATASET_KINDS}")
    p, y = _as_array(preds), _as_array(labels)
    if p.shape != y.shape:
        raise InputError(f"{p.size} predictions but {y.size} labels; they must pair up one to one")
    if p.size == 0:
        raise InputError("no predictions to score: the evaluated split is empty")
    if not (np.isfinite(p).all() and np.isfinite(y).all()):
        raise InputError("predictions or labels contain NaN or infinity")
    return _sims_metrics(p, y) if dataset == "sims" else _mosi_metrics(p, y)


def paired_bootstrap(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    preds_a: ArrayLike,
    preds_b: ArrayLike,
    labels: ArrayLike,
    draws: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    """``statistic(a) - statistic(b)`` on the same items, with a 95 % percentile interval.

    Each draw resamples the items with replacement and scores both prediction sets on that same
    draw, so the interval reflects how the two differ item by item, not the two spreads added
    up. Small evaluation sets make "at least as good as" a question of this interval, not of the
    point estimates alone. ``statistic(preds, labels)`` must accept any resample.
    """
    a, b, y = _as_array(preds_a), _as_array(preds_b), _as_array(labels)
    if not a.shape == b.shape == y.shape or y.size == 0:
        raise InputError("paired_bootstrap needs two prediction sets and labels of one length")
    rng = np.random.default_rng(seed)
    differences = np.empty(draws)
    for i in range(draws):
        pick = rng.integers(0, y.size, y.size)
        differences[i] = statistic(a[pick], y[pick]) - statistic(b[pick], y[pick])
    low, high = np.percentile(differences, [2.5, 97.5])
    score_a, score_b = float(statistic(a, y)), float(statistic(b, y))
    return {
        "a": score_a,
        "b": score_b,
        "difference": score_a - score_b,
        "low": float(low),
        "high": float(high),
        "n": int(y.size),
    }


def acc2_non0(preds: np.ndarray, labels: np.ndarray) -> float:
    """Negative/positive accuracy on the items whose label is not 0 (MMSA's "non0")."""
    nonzero = labels != 0
    return _accuracy(preds[nonzero] > 0, labels[nonzero] > 0)


def balanced_accuracy(preds: np.ndarray, labels: np.ndarray) -> float:
    """Mean recall of the positive (label > 0) and the other class, prediction > 0 = positive;
    a class absent from ``labels`` is left out."""
    positive, predicted = labels > 0, preds > 0
    recalls = [
        float((predicted[members] == want).mean())
        for members, want in ((positive, True), (~positive, False))
        if members.any()
    ]
    return float(np.mean(recalls)) if recalls else 0.0
