"""Shared fixtures: tiny synthetic datasets and a builder of tiny MMSA-layout pickles."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from firf.data.dataset import FeatureDataset
from firf.data.synthetic import SyntheticConfig, make_synthetic

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TINY = SyntheticConfig(
    n_train=96,
    n_valid=48,
    n_test=48,
    text_dim=24,
    audio_dim=5,
    vision_dim=8,
    text_frames=(4, 10),
    audio_frames=(6, 12),
    vision_frames=(6, 12),
    seed=7,
)


@pytest.fixture(scope="session")
def tiny_config() -> SyntheticConfig:
    return TINY


@pytest.fixture(scope="session")
def tiny_synthetic() -> dict[str, FeatureDataset]:
    """Small, fast splits of the synthetic benchmark (small dims, short sequences).

    Session-scoped: treat the datasets as read-only.
    """
    return make_synthetic(TINY)


def write_mmsa_pickle(
    path: Path,
    aligned: bool,
    sizes: tuple[int, int, int] = (6, 4, 4),
    dims: tuple[int, int, int] = (768, 5, 20),
    seq_len: int = 8,
    seed: int = 0,
) -> Path:
    """A pickle with MMSA's keys and shapes; audio holds -inf, as MMSA's MOSI audio does."""
    rng = np.random.default_rng(seed)
    d_t, d_a, d_v = dims
    data = {}
    for split, n in zip(("train", "valid", "test"), sizes, strict=True):
        text_len = rng.integers(3, seq_len + 1, size=n)
        bert = np.zeros((n, 3, seq_len), dtype=np.float32)
        for i, length in enumerate(text_len):
            bert[i, 0, :length] = rng.integers(100, 1000, size=length)
            bert[i, 1, :length] = 1
        a_len = seq_len if aligned else seq_len + 4
        v_len = seq_len if aligned else seq_len + 2
        part = {
            "raw_text": np.array([f"clip {split} {i}" for i in range(n)], dtype=object),
            "text": rng.normal(size=(n, seq_len, d_t)).astype(np.float32),
            "text_bert": bert,
            "audio": rng.normal(size=(n, a_len, d_a)).astype(np.float32),
            "vision": rng.normal(size=(n, v_len, d_v)).astype(np.float32),
            "regression_labels": rng.uniform(-3, 3, size=n).astype(np.float32),
            "classification_labels": np.zeros(n, dtype=np.float32),
            "id": np.array([f"video{split}$_${i}" for i in range(n)], dtype=object),
        }
        part["audio"][:, 0, 0] = -np.inf
        if not aligned:
            part["audio_lengths"] = list(rng.integers(1, a_len + 1, size=n))
            part["vision_lengths"] = list(rng.integers(1, v_len + 1, size=n))
        data[split] = part
    with path.open("wb") as f:
        pickle.dump(data, f)
    return path


@pytest.fixture
def mmsa_pickle(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``mmsa_pickle(aligned=True, **kwargs)`` writes a tiny MMSA pickle, returns path."""

    def build(aligned: bool = True, **kwargs) -> Path:
        name = "aligned_50.pkl" if aligned else "unaligned_50.pkl"
        return write_mmsa_pickle(tmp_path / name, aligned=aligned, **kwargs)

    return build


@pytest.fixture(scope="session")
def extractor_signatures() -> dict:
    """The signatures of the real extractors on this machine (loads Whisper, Face Mesh, MiniLM)."""
    from firf.extractors import Extractors

    return Extractors(device="cpu").signatures()


@pytest.fixture(scope="session")
def make_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``make_checkpoint(extractor, seed=0)`` saves a small randomly initialised FIRF
    with the dims of ``extractor`` (signatures, or None for a benchmark-feature model)."""
    import torch

    from firf.model import FIRF, FIRFConfig

    def make(extractor: dict | None, seed: int = 0) -> Path:
        dims = {m: sig["dim"] for m, sig in extractor.items()} if extractor else {}
        config = FIRFConfig(
            text_dim=dims.get("text", 384),
            audio_dim=dims.get("audio", 512),
            vision_dim=dims.get("vision", 956),
            d_model=32,
            extractor=extractor,
        )
        torch.manual_seed(seed)
        folder = tmp_path_factory.mktemp("checkpoint")
        FIRF(config).save_pretrained(folder)
        return folder

    return make


@pytest.fixture(scope="session")
def random_checkpoint(make_checkpoint: Callable[..., Path], extractor_signatures: dict) -> Path:
    """An untrained FIRF for the real extractors: tests of the pipeline's behaviour, not of
    what a trained model says."""
    return make_checkpoint(extractor_signatures)
