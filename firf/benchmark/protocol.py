"""The replicate protocol: train every model on one track's data, score it, pair the results.

A replicate is a (data seed, init seed) pair. Every model of a replicate sees the same data,
the same init seed, the same fixed budget (``firf.train.FixedBudget``: warm-up, cosine decay,
final EMA weights, no selection) and the same test damage. Scores: MAE, Corr and F1 (non0),
intra = mean over frame-loss rates 0.0-0.9 (one seeded draw per rate, identical for every
model), inter = mean over the six incomplete modality subsets. A comparison is the mean over
replicates of the paired difference, with a 95 % t-interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from scipy import stats

from firf.benchmark.linear import CEILINGS, LinearCeilings, pooled_dataset
from firf.benchmark.probes import probe_factors
from firf.benchmark.tracks import Track
from firf.data.dataset import FeatureDataset
from firf.data.synthetic import make_synthetic
from firf.evaluate import predict_scores
from firf.metrics import regression_metrics
from firf.missing import drop_frames, keep_modalities
from firf.modalities import SUBSETS
from firf.model import build_model
from firf.train import FixedBudget, train_fixed

QUICK_MODELS = ("firf", "late_fusion", "firf_no_rec")
FULL_MODELS = (
    "firf",
    "late_fusion",
    "misa",
    "firf_no_rec",
    "firf_no_dcsd",
    "firf_no_rec_no_dcsd",
    "firf_no_fcf",
    "firf_no_noise",
    "firf_twoway",
    "firf_split",
    "firf_no_summary_score",
)
RATES = tuple(round(0.1 * i, 1) for i in range(10))  # 0.0-0.9; at 1.0 nothing is left
INCOMPLETE = tuple(s for s in SUBSETS if s != "tav")
DAMAGE_SEED = 1111
EVAL_BATCH = 64  # fixed: the frame-drop draw depends on the batch shape
METRICS = ("f1", "mae", "corr")


@dataclass(frozen=True)
class Protocol:
    replicates: int
    steps: int
    probe_clips: int = 2000


PROTOCOLS = {"full": Protocol(replicates=6, steps=1500), "quick": Protocol(2, 120, 600)}


def replicate_seeds(index: int) -> tuple[int, int]:
    """(data seed, init seed) of replicate ``index``."""
    return 100 + index, index


def damages() -> dict[str, Callable]:
    """Name -> batch transform: ``intra/0.3`` etc. and ``inter/ta`` etc."""
    found = {}
    for rate in RATES:
        found[f"intra/{rate:.1f}"] = rate
    for subset in INCOMPLETE:
        found[f"inter/{subset}"] = partial(keep_modalities, subset=subset)
    return found


def damaged(name: str, value) -> Callable:
    if name.startswith("intra/"):
        generator = torch.Generator().manual_seed(DAMAGE_SEED)  # fresh: same draw every time
        return lambda batch: drop_frames(batch, value, generator)
    return value


def summarize(per_damage: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, float]:
    """intra_* and inter_* means of F1 (non0), MAE and Corr, plus per inter subset its MAE,
    F1, bias and slope: where a model loses signs, bias (mean of score minus label) and slope
    (of score on label; below 1 is shrinkage toward zero) say whether it is shifted or timid."""
    rows = {name: regression_metrics(p, labels) for name, p in per_damage.items()}
    out = {}
    for protocol in ("intra", "inter"):
        chosen = [row for name, row in rows.items() if name.startswith(protocol)]
        out[f"{protocol}_f1"] = float(np.mean([r["f1_non0"] for r in chosen]))
        out[f"{protocol}_mae"] = float(np.mean([r["mae"] for r in chosen]))
        out[f"{protocol}_corr"] = float(np.mean([r["corr"] for r in chosen]))
    for subset in INCOMPLETE:
        out[f"inter_{subset}_mae"] = rows[f"inter/{subset}"]["mae"]
        out[f"inter_{subset}_f1"] = rows[f"inter/{subset}"]["f1_non0"]
        bias, slope = bias_and_slope(per_damage[f"inter/{subset}"], labels)
        out[f"inter_{subset}_bias"], out[f"inter_{subset}_slope"] = bias, slope
    return out


def bias_and_slope(preds: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean signed error, and the least-squares slope of the scores on the labels."""
    p, y = np.asarray(preds, dtype=float), np.asarray(labels, dtype=float)
    spread = float(np.var(y))
    slope = float(np.mean((p - p.mean()) * (y - y.mean())) / spread) if spread > 0 else 0.0
    return float(np.mean(p - y)), slope


def score_model(model, test: FeatureDataset) -> dict[str, float]:
    preds = {
        name: predict_scores(model, test, EVAL_BATCH, transform=damaged(name, value))
        for name, value in damages().items()
    }
    return summarize(preds, test.labels)


def score_ceilings(ceilings: LinearCeilings, test: FeatureDataset) -> dict[str, dict]:
    preds: dict[str, dict[str, np.ndarray]] = {c: {} for c in CEILINGS}
    for name, value in damages().items():
        x, present = pooled_dataset(test, damaged(name, value), EVAL_BATCH)
        for ceiling, p in ceilings.predict(x, present).items():
            preds[ceiling][name] = p
    return {c: summarize(p, test.labels) for c, p in preds.items()}


def replicate_datasets(track: Track, data_seed: int, quick: bool) -> dict[str, FeatureDataset]:
    """The splits one replicate of ``track`` trains and scores on."""
    datasets = make_synthetic(track.config(data_seed, quick))
    if track.name.startswith("shift"):
        # Label-free losses see the training clips under every damage; labels stay unread.
        datasets["unlabelled"] = datasets["train"]
    return datasets


def train_model(
    name: str,
    datasets: dict[str, FeatureDataset],
    track: Track,
    init_seed: int,
    steps: int,
    device: str | None = None,
):
    """Model ``name`` trained on one replicate's data under the fixed budget, as every model of
    a replicate is: same init seed, same schedule, the track's damage of labelled views."""
    torch.manual_seed(init_seed)
    model = build_model(name, datasets["train"].dims)
    budget = FixedBudget(steps=steps, seed=init_seed, missing=track.missing, device=device)
    train_fixed(model, datasets, budget)
    return model


def run_replicate(
    track: Track,
    index: int,
    protocol: Protocol,
    models: tuple[str, ...],
    quick: bool,
    log,
    split: str = "test",
    device: str | None = None,
) -> dict:
    """Train every model on replicate ``index`` of ``track``; score on ``split``."""
    data_seed, init_seed = replicate_seeds(index)
    datasets = replicate_datasets(track, data_seed, quick)
    result = {"models": {}, "probes": {}}
    for name in models:
        start = time.perf_counter()
        model = train_model(name, datasets, track, init_seed, protocol.steps, device)
        result["models"][name] = score_model(model, datasets[split])
        if hasattr(model, "factorize"):  # FIRF and its variants
            probe_set = FeatureDataset(
                datasets[split].samples[: protocol.probe_clips], datasets[split].dims
            )
            result["probes"][name] = probe_factors(model, probe_set)
        row = result["models"][name]
        log(
            f"replicate {index} {name}: inter F1 {row['inter_f1']:.3f} MAE {row['inter_mae']:.3f}"
            f", intra F1 {row['intra_f1']:.3f}, {time.perf_counter() - start:.0f} s"
        )
    ceilings = LinearCeilings(datasets["train"], datasets.get("unlabelled"))
    result["ceilings"] = score_ceilings(ceilings, datasets[split])
    return result


def interval(differences: list[float]) -> dict:
    """Mean and 95 % t-interval of paired differences (a point interval for one replicate)."""
    d = np.asarray(differences, dtype=float)
    mean = float(d.mean())
    if len(d) < 2:
        return {"mean": mean, "ci95": [mean, mean]}
    half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return {"mean": mean, "ci95": [mean - half, mean + half]}


def paired(replicates: list[dict], base: str = "firf") -> dict:
    """``"firf-X"`` -> metric -> mean difference and interval, for every other model X."""
    names = list(replicates[0]["models"])
    out = {}
    for other in names:
        if other == base:
            continue
        # runs merged across bench versions: pair on the metrics both models were scored on
        metrics = [m for m in replicates[0]["models"][base] if m in replicates[0]["models"][other]]
        out[f"{base}-{other}"] = {
            metric: interval(
                [r["models"][base][metric] - r["models"][other][metric] for r in replicates]
            )
            for metric in metrics
        }
    return out


def mean_over(rows: list[dict]) -> dict:
    """Mean of every number over replicates, nested dicts kept (the one place this is done)."""
    first = rows[0]
    if isinstance(first, dict):
        return {key: mean_over([row[key] for row in rows]) for key in first}
    return float(np.mean(rows))
