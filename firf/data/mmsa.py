"""Reader for the MMSA benchmark pickles (CMU-MOSI, CMU-MOSEI, CH-SIMS).

Each pickle is ``{"train" | "valid" | "test": {key: array}}`` with ``text`` (N, L, 768) BERT
features, ``text_bert`` (N, 3, L) token ids / attention mask / segment ids, ``audio`` and
``vision`` (N, L_m, d_m), ``audio_lengths`` / ``vision_lengths`` in the unaligned files,
``regression_labels`` (N,), ``raw_text`` and ``id``. Sequences are padded at the end, so each clip
keeps its first ``length`` frames. Aligned files have no ``*_lengths``: audio and vision are
aligned to the text tokens and share the text length.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from firf.data.dataset import FeatureDataset, Sample
from firf.errors import InputError
from firf.modalities import DATASET_KINDS

SPLITS = ("train", "valid", "test")
REQUIRED_KEYS = ("text", "audio", "vision", "regression_labels", "id")

# (audio dim, vision dim) of the features MMSA ships for each dataset.
KNOWN_DIMS: dict[tuple[int, int], str] = {(5, 20): "mosi", (74, 35): "mosei", (33, 709): "sims"}


def detect_kind(dims: dict[str, int], labels: np.ndarray) -> str:
    """Dataset kind from MMSA's feature dims; for other features, SIMS iff labels fit [-1, 1]."""
    known = KNOWN_DIMS.get((dims["audio"], dims["vision"]))
    if known:
        return known
    return "sims" if labels.size and np.abs(labels).max() <= 1.0 else "mosi"


def _read_pickle(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"MMSA pickle not found: {path} (expected e.g. MOSI/aligned_50.pkl)")
    try:
        with path.open("rb") as f:
            data = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as err:
        raise InputError(f"{path} is not a readable MMSA pickle ({err})") from err
    if not isinstance(data, dict) or not all(isinstance(data.get(s), dict) for s in SPLITS):
        raise InputError(f"{path} is not in the MMSA layout: expected a dict with keys {SPLITS}")
    return data


def _clean(array: object, name: str, split: str, ndim: int) -> np.ndarray:
    """float32 array with -inf / inf / NaN (present in MMSA's audio) replaced by 0.

    Works in place when possible: the pickle was loaded by us, and MOSEI's arrays are gigabytes.
    """
    x = np.asarray(array, dtype=np.float32)
    if x.ndim != ndim:
        raise InputError(f"{split}/{name} has {x.ndim} dimensions, expected {ndim}")
    return np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def _lengths(part: dict, key: str, fallback: np.ndarray, limit: int, split: str) -> np.ndarray:
    if key not in part:
        return np.minimum(fallback, limit)
    lengths = np.asarray(part[key]).astype(np.int64).reshape(-1)
    if lengths.shape != fallback.shape:
        raise InputError(f"{split}/{key} has {lengths.size} entries for {fallback.size} clips")
    return np.clip(lengths, 0, limit)


def _split_samples(part: dict, split: str) -> tuple[list[Sample], dict[str, int]]:
    missing = [k for k in REQUIRED_KEYS if k not in part]
    if missing:
        raise InputError(f"split {split!r} lacks the MMSA keys {missing}")
    text = _clean(part["text"], "text", split, 3)
    audio = _clean(part["audio"], "audio", split, 3)
    vision = _clean(part["vision"], "vision", split, 3)
    labels = np.asarray(part["regression_labels"], dtype=np.float32).reshape(-1)
    ids = [str(i) for i in np.asarray(part["id"]).reshape(-1)]
    n = len(labels)
    if not (text.shape[0] == audio.shape[0] == vision.shape[0] == len(ids) == n):
        raise InputError(
            f"split {split!r}: text, audio, vision, regression_labels and id disagree on the "
            f"number of clips ({text.shape[0]}, {audio.shape[0]}, {vision.shape[0]}, {n}, "
            f"{len(ids)})"
        )
    if "text_bert" in part:
        bert = np.asarray(part["text_bert"])
        if bert.ndim != 3 or bert.shape[1] != 3 or bert.shape[0] != n:
            raise InputError(
                f"split {split!r}: text_bert has shape {bert.shape}, expected (N, 3, L)"
            )
        text_len = np.minimum(bert[:, 1, :].sum(axis=1).astype(np.int64), text.shape[1])
    else:
        text_len = np.full(n, text.shape[1], dtype=np.int64)
    audio_len = _lengths(part, "audio_lengths", text_len, audio.shape[1], split)
    vision_len = _lengths(part, "vision_lengths", text_len, vision.shape[1], split)
    raw_text = list(part.get("raw_text", [""] * n))
    samples = [
        {
            "text": text[i, : text_len[i]],
            "audio": audio[i, : audio_len[i]],
            "vision": vision[i, : vision_len[i]],
            "label": float(labels[i]),
            "id": ids[i],
            "raw_text": str(raw_text[i]),
        }
        for i in range(n)
    ]
    dims = {"text": text.shape[2], "audio": audio.shape[2], "vision": vision.shape[2]}
    return samples, dims


def load_mmsa(path: str | Path, kind: str | None = None) -> dict[str, FeatureDataset]:
    """Train / valid / test datasets from an MMSA pickle.

    ``kind`` ("mosi", "mosei", "sims") sets the metrics and score range; by default it is
    detected from the feature dims (see ``detect_kind``).
    """
    if kind is not None and kind not in DATASET_KINDS:
        raise InputError(f"unknown dataset kind {kind!r}; expected one of {DATASET_KINDS}")
    path = Path(path)
    data = _read_pickle(path)
    parts = {split: _split_samples(data[split], split) for split in SPLITS}
    dims = parts["train"][1]
    for split, (_, split_dims) in parts.items():
        if split_dims != dims:
            raise InputError(f"{path}: split {split!r} has dims {split_dims}, train has {dims}")
    if kind is None:
        labels = np.array([s["label"] for s in parts["train"][0]], dtype=np.float32)
        kind = detect_kind(dims, labels)
    return {
        split: FeatureDataset(samples, dims, kind=kind) for split, (samples, _) in parts.items()
    }
