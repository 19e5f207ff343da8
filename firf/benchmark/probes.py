"""Mechanism probes: what each of FIRF's factors carries, measured with held-out linear probes.

On complete clips, each modality's pooled factors (synergistic s, heterogeneous p, noise n) are
read by a ridge fitted on one half of the clips and scored (R^2) on the other half, against the
label, the shared sentiment latent s_c and the modality's private latent s_m. A working
factorization puts s_c in s, s_m in p and nothing about sentiment in n.
Reconstruction closeness: R^2 of each leave-one-out reconstructed summary against the summary
computed from the real modality (1 = identical, 0 = no better than the mean summary). The
per-factor closeness of two models is not comparable when their factors differ (FIRF's s holds
the shared content, which the other modalities predict well; without FCF, s is all of H_m).
``rec_slot_closeness`` compares what fusion reads in both: the summed fusion factors, recovered
against real. ``rec_slot_linear`` is the closeness a ridge from the other two modalities' real
slots reaches on held-out clips: how much of the slot the other modalities expose linearly, so
a low ``rec_slot_closeness`` can be told apart from a slot that is mostly unrecoverable.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import RidgeCV

from firf.batch import batch_to
from firf.data.dataset import FeatureDataset, make_loader
from firf.data.synthetic import LATENTS
from firf.modalities import MODALITIES

ALPHAS = np.logspace(-2, 4, 13)


@torch.inference_mode()
def factor_summaries(model, dataset: FeatureDataset) -> dict[str, np.ndarray]:
    """Pooled factors ("s", "p", "n": (N, 3, D)) and recovered ones ("rec_s", "rec_p")."""
    device = next(model.parameters()).device
    model.eval()
    parts: dict[str, list] = {}
    for batch in make_loader(dataset, 256):
        view = model.run(batch_to(batch, device))
        found = {**view.own, **{f"rec_{k}": v for k, v in view.recovered.items()}}
        for name, value in found.items():
            parts.setdefault(name, []).append(value.float().cpu().numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def held_out_r2(x: np.ndarray, y: np.ndarray) -> float:
    half = len(x) // 2
    probe = RidgeCV(alphas=ALPHAS).fit(x[:half], y[:half])
    return float(probe.score(x[half:], y[half:]))


def closeness(recovered: np.ndarray, real: np.ndarray) -> float:
    residual = ((recovered - real) ** 2).sum()
    spread = ((real - real.mean(0)) ** 2).sum()
    return float(1.0 - residual / spread)


def linear_recovery_closeness(sources: np.ndarray, target: np.ndarray) -> float:
    """``closeness`` on the second half of the clips of a ridge from ``sources`` (N, F) to
    ``target`` (N, D) fitted on the first half."""
    half = len(sources) // 2
    ridge = RidgeCV(alphas=ALPHAS).fit(sources[:half], target[:half])
    return closeness(ridge.predict(sources[half:]), target[half:])


def probe_factors(model, dataset: FeatureDataset) -> dict[str, dict[str, float]]:
    """Per modality: label / shared / private R^2 of each factor, and reconstruction closeness."""
    summaries = factor_summaries(model, dataset)
    label = dataset.labels
    latents = np.stack([s["latents"] for s in dataset.samples])
    shared = latents[:, LATENTS.index("shared")]
    recovery = recovery_probes(summaries)
    out = {}
    for i, m in enumerate(MODALITIES):
        private = latents[:, LATENTS.index(m)]
        row = {}
        for factor, key in (("s", "syn"), ("p", "het"), ("n", "noise")):
            if factor not in summaries:
                continue
            x = summaries[factor][:, i]
            row[f"{key}_label_r2"] = held_out_r2(x, label)
            row[f"{key}_shared_r2"] = held_out_r2(x, shared)
            row[f"{key}_private_r2"] = held_out_r2(x, private)
        out[m] = row | recovery[m]
    return out


def recovery_probes(summaries: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per modality: closeness of each recovered factor and of the recovered slot, and the
    slot's linear ceiling (``rec_slot_linear``); empty rows for a model that recovers nothing.
    Needs no labels or latents, so a diagnostic can read it alone."""
    recovered = [f for f in ("s", "p") if f"rec_{f}" in summaries]
    out = {}
    for i, m in enumerate(MODALITIES):
        row = {}
        for factor in recovered:
            row[f"rec_{factor}_closeness"] = closeness(
                summaries[f"rec_{factor}"][:, i], summaries[factor][:, i]
            )
        if recovered:
            slots = sum(summaries[f] for f in recovered)  # (N, 3, D): what fusion reads
            row["rec_slot_closeness"] = closeness(
                sum(summaries[f"rec_{f}"][:, i] for f in recovered), slots[:, i]
            )
            others = [j for j in range(len(MODALITIES)) if j != i]
            row["rec_slot_linear"] = linear_recovery_closeness(
                slots[:, others].reshape(len(slots), -1), slots[:, i]
            )
        out[m] = row
    return out
