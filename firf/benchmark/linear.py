"""Linear ceilings on a track: what readouts of mean-pooled frames reach without a network.

- ``ridge``: one ridge on all modalities' pooled features, fitted on the labelled training
  clips as they are; a missing modality's features are filled with the training mean.
- ``reconstruct_ridge``: the same ridge, but a missing modality's pooled features are first
  predicted (linear least squares) from the present ones. The imputation needs no label, so it
  is fitted on every complete training clip, unlabelled ones included.
- ``pattern_oracle``: one ridge per modality subset on that subset's features (told the test
  pattern, trained on complete labelled clips).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from sklearn.linear_model import LinearRegression, RidgeCV

from firf.batch import Batch
from firf.data.dataset import FeatureDataset, make_loader
from firf.modalities import MODALITIES

ALPHAS = np.logspace(-2, 4, 13)
CEILINGS = ("ridge", "reconstruct_ridge", "pattern_oracle")


def pooled(batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    """Mean over observed frames per modality, concatenated (B, sum d_m); presence (B, 3)."""
    parts, present = [], []
    for m in MODALITIES:
        mask = batch[f"{m}_mask"]
        count = mask.sum(1, keepdim=True)
        parts.append((batch[m] * mask.unsqueeze(-1)).sum(1) / count.clamp(min=1))
        present.append(count.squeeze(1) > 0)
    return torch.cat(parts, 1).numpy(), torch.stack(present, 1).numpy()


def pooled_dataset(
    dataset: FeatureDataset, transform=None, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and presence of every clip, each batch damaged by ``transform``."""
    xs, ps = [], []
    for batch in make_loader(dataset, batch_size):
        x, p = pooled(batch if transform is None else transform(batch))
        xs.append(x)
        ps.append(p)
    return np.concatenate(xs), np.concatenate(ps)


class LinearCeilings:
    """The three readouts above, fitted once per replicate; ``predict`` scores pooled inputs."""

    def __init__(self, train: FeatureDataset, unlabelled: FeatureDataset | None = None):
        dims = [train.dims[m] for m in MODALITIES]
        edges = np.cumsum([0, *dims])
        self.columns = [np.arange(edges[i], edges[i + 1]) for i in range(len(MODALITIES))]
        x, _ = pooled_dataset(train)
        y = train.labels
        self.mean = x.mean(0)
        self.ridge = RidgeCV(alphas=ALPHAS).fit(x, y)
        pool = x if unlabelled is None else np.concatenate([x, pooled_dataset(unlabelled)[0]])
        self.imputers = {}
        self.oracles = {}
        for r in range(1, len(MODALITIES)):
            for kept in itertools.combinations(range(len(MODALITIES)), r):
                cols = np.concatenate([self.columns[i] for i in kept])
                lost = np.concatenate(
                    [self.columns[i] for i in range(len(MODALITIES)) if i not in kept]
                )
                self.imputers[kept] = (
                    cols,
                    lost,
                    LinearRegression().fit(pool[:, cols], pool[:, lost]),
                )
                self.oracles[kept] = (cols, RidgeCV(alphas=ALPHAS).fit(x[:, cols], y))

    def predict(self, x: np.ndarray, present: np.ndarray) -> dict[str, np.ndarray]:
        filled = x.copy()
        imputed = x.copy()
        oracle = self.ridge.predict(x)
        for i, cols in enumerate(self.columns):
            filled[np.ix_(~present[:, i], cols)] = self.mean[cols]
        for kept, (cols, lost, imputer) in self.imputers.items():
            rows = (present[:, list(kept)].all(1)) & (present.sum(1) == len(kept))
            if rows.any():
                imputed[np.ix_(rows, lost)] = imputer.predict(x[np.ix_(rows, cols)])
                oracle_cols, model = self.oracles[kept]
                oracle[rows] = model.predict(x[np.ix_(rows, oracle_cols)])
        return {
            "ridge": self.ridge.predict(filled),
            "reconstruct_ridge": self.ridge.predict(imputed),
            "pattern_oracle": oracle,
        }
