"""Linear probes on the corpus's frozen features: the floor a trained branch must reach.

A ridge regression on mean-pooled MiniLM or Whisper states, or a logistic regression on
pose-normalised Face Mesh landmarks, shows how much sentiment the features carry on their own. A
FIRF branch that scores below its probe on the same split wastes what its extractor gives it.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from firf.data.dataset import FeatureDataset
from firf.metrics import regression_metrics

ALPHAS = np.logspace(-2, 4, 13)


def mean_pooled(dataset: FeatureDataset, modality: str) -> tuple[np.ndarray, np.ndarray]:
    """(clips, dim) mean over observed frames and the labels, for clips where the modality exists."""
    rows, labels = [], []
    for sample in dataset.samples:
        features = sample[modality]
        mask = sample.get(f"{modality}_mask")
        observed = np.ones(len(features), bool) if mask is None else mask > 0
        if observed.any():
            rows.append(features[observed].mean(0))
            labels.append(float(sample["label"]))
    return np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=np.float64)


def fit_ridge(train: FeatureDataset, modality: str) -> Pipeline:
    """Ridge on mean-pooled features, alpha by leave-one-out on ``train``."""
    x, y = mean_pooled(train, modality)
    return make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS)).fit(x, y)


def ridge_predictions(
    probe: Pipeline, evaluation: FeatureDataset, modality: str, score_range: float
) -> tuple[np.ndarray, np.ndarray]:
    """A fitted ridge probe's scores (clipped to the score range) and the labels of the
    ``evaluation`` clips that have the modality."""
    x, y = mean_pooled(evaluation, modality)
    return np.clip(probe.predict(x), -score_range, score_range), y


def ridge_probe(
    train: FeatureDataset, evaluations: dict[str, FeatureDataset], modality: str
) -> dict[str, dict[str, float]]:
    """The ridge probe, fitted once on ``train``, scored per evaluation dataset."""
    probe = fit_ridge(train, modality)
    results = {}
    for name, dataset in evaluations.items():
        preds, labels = ridge_predictions(probe, dataset, modality, train.score_range)
        results[name] = regression_metrics(preds, labels, dataset.kind)
    return results


def face_probe_predictions(
    train: tuple[np.ndarray, np.ndarray], valid: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """0/1 predictions of a logistic regression telling happy (1) from negative (0) faces.

    Each of ``train``/``valid`` is (sequences, dim) mean landmark features and 0/1 labels.
    """
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    probe.fit(*train)
    return probe.predict(valid[0])


def face_probe(train: tuple[np.ndarray, np.ndarray], valid: tuple[np.ndarray, np.ndarray]) -> float:
    """Balanced accuracy of the face probe on ``valid``."""
    return float(balanced_accuracy_score(valid[1], face_probe_predictions(train, valid)))
