"""Scoring a model: plain metrics on a split, and the robustness sweep over both protocols.

The sweep evaluates one model under every intra-modal missing rate (mean and std over the
evaluation seeds) and every modality subset (deterministic). Frames are dropped batch by batch
in dataset order, so the drawn pattern depends on the seed *and* on the batch size; the default
of 64 is kept fixed so that numbers from different runs and machines are comparable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

import numpy as np
import torch
from torch import nn

from firf.batch import Batch, batch_to
from firf.data.dataset import FeatureDataset, make_loader
from firf.device import resolve_device
from firf.metrics import regression_metrics
from firf.missing import EVAL_SEEDS, INTRA_RATES, drop_frames, keep_modalities
from firf.modalities import SUBSETS

EVAL_BATCH_SIZE = 64

# Columns of the plain-text table, per metric set.
TABLE_COLUMNS = {
    "mosi": ("acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc7", "mae", "corr"),
    "sims": ("acc2", "f1", "acc3", "acc5", "mae", "corr"),
}

Transform = Callable[[Batch], Batch]
Report = dict[str, dict[str, dict[str, float]]]


def rate_key(rate: float) -> str:
    """Report key of a missing rate: 0.5 -> "0.5"."""
    return f"{rate:.1f}"


@torch.inference_mode()
def predict_scores(
    model: nn.Module,
    dataset: FeatureDataset,
    batch_size: int = EVAL_BATCH_SIZE,
    device: str | torch.device | None = None,
    transform: Transform | None = None,
) -> np.ndarray:
    """Scores for every clip of ``dataset`` in order; ``transform`` damages each batch first.

    Runs where the model is unless ``device`` says otherwise (then the model moves there).
    """
    if device is None:
        device = next(model.parameters()).device
    else:
        device = resolve_device(device)
        model.to(device)
    model.eval()
    scores = []
    for batch in make_loader(dataset, batch_size):
        if transform is not None:
            batch = transform(batch)
        scores.append(model(batch_to(batch, device)).score.float().cpu())
    return torch.cat(scores).numpy()


def evaluate(
    model: nn.Module,
    dataset: FeatureDataset,
    batch_size: int = EVAL_BATCH_SIZE,
    device: str | torch.device | None = None,
    transform: Transform | None = None,
) -> dict[str, float]:
    """MMSA metrics of ``model`` on ``dataset`` (metric set chosen by ``dataset.kind``)."""
    preds = predict_scores(model, dataset, batch_size, device, transform)
    return regression_metrics(preds, dataset.labels, dataset=dataset.kind)


def _frame_dropper(rate: float, seed: int) -> Transform:
    generator = torch.Generator().manual_seed(seed)
    return lambda batch: drop_frames(batch, rate, generator)


def _mean_and_std(runs: list[dict[str, float]]) -> dict[str, float]:
    summary = {}
    for key in runs[0]:
        values = np.array([run[key] for run in runs])
        summary[key] = float(values.mean())
        summary[f"{key}_std"] = float(values.std())
    return summary


def evaluate_robustness(
    model: nn.Module,
    dataset: FeatureDataset,
    rates: Iterable[float] = INTRA_RATES,
    subsets: Iterable[str] = SUBSETS,
    seeds: Iterable[int] = EVAL_SEEDS,
    batch_size: int = EVAL_BATCH_SIZE,
    device: str | torch.device | None = None,
) -> Report:
    """``{"intra": {"0.5": metrics + *_std over seeds}, "inter": {"ta": metrics}}``."""
    seeds = tuple(seeds)
    report: Report = {"intra": {}, "inter": {}}
    for rate in rates:
        runs = [
            evaluate(model, dataset, batch_size, device, _frame_dropper(rate, seed))
            for seed in seeds
        ]
        report["intra"][rate_key(rate)] = _mean_and_std(runs)
    for subset in subsets:
        keep = partial(keep_modalities, subset=subset)
        report["inter"][subset] = evaluate(model, dataset, batch_size, device, keep)
    return report


def format_table(title: str, rows: dict[str, dict[str, float]], kind: str = "mosi") -> str:
    """A plain-text table of metric rows; a cell with a ``*_std`` companion reads mean±std."""
    columns = TABLE_COLUMNS["sims" if kind == "sims" else "mosi"]
    width = max(6, *(len(key) for key in rows))
    lines = [title, f"{'':>{width}} " + " ".join(f"{c:>13}" for c in columns)]
    for key, metrics in rows.items():
        cells = []
        for c in columns:
            std = metrics.get(f"{c}_std")
            cell = f"{metrics[c]:.4f}" if std is None else f"{metrics[c]:.4f}±{std:.4f}"
            cells.append(f"{cell:>13}")
        lines.append(f"{key:>{width}} " + " ".join(cells))
    return "\n".join(lines)


def format_report(report: Report, kind: str = "mosi") -> str:
    """The robustness report as one table per protocol present in it."""
    titles = {"intra": "intra (missing rate)", "inter": "inter (modalities kept)"}
    tables = [format_table(titles[p], report[p], kind) for p in titles if report.get(p)]
    return "\n\n".join(tables)
