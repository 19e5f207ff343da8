"""A seeded synthetic factor benchmark with a known split of information across modalities.

Generative story, per clip:

1. Sentiment components: a shared one ``s_c`` and one per modality ``s_t, s_a, s_v``, all
   independent N(0, 1). The latent sentiment is ``s = sum_k sqrt(w_k) s_k`` with the weights
   ``sentiment_shares`` (summing to 1, so s ~ N(0, 1)). Every modality sees ``s_c``; only
   modality m sees ``s_m``. Losing a modality therefore loses information only it had (its own
   ``s_m``), while ``s_c`` can be recovered from whichever modality remains.
2. The label is ``clip(label_scale * s + label_noise * e, -3, 3)`` rounded to a multiple of 0.2
   (like averaged annotator ratings), which leaves a realistic few percent of exact zeros.
3. Content: each modality's content vector concatenates ``s_c``, its own ``s_m``, shared
   non-sentiment latents ``z`` (topic / speaker traits that all modalities agree on) and
   modality-specific non-sentiment latents ``z_m``. A fixed random projection per modality maps
   it to the feature dimension.
4. Frames: a clip has a random length per modality. Every frame shows the same content plus
   structured task-irrelevant noise (a low-rank subspace driven by a per-clip nuisance and a
   per-frame AR(1) process, e.g. recording conditions) plus i.i.d. frame noise. Sentiment is
   weak in any single frame, so dropping frames degrades predictions gradually.

The projections are drawn from the seed once and shared by all splits; each split then draws its
clips from its own child seed. Every sample keeps its sentiment latents (``latents``: ``s_c, s_t,
s_a, s_v``, see ``LATENTS``) so probes can ask which of them a representation carries; models
never read them. ``n_unlabelled`` > 0 adds an ``unlabelled`` split (its labels are kept for
probing only; training code must not read them).

``sentiment_gain`` scales the two sentiment coordinates of every modality's content against the
non-sentiment latents. At 1 (the default, the ``control`` track) sentiment is one coordinate of
ten and weak in audio's 5 dims; the harder tracks raise it, and audio's dimension, so the shared
sentiment ``s_c`` can actually be recovered from any one modality. Nothing here is tuned toward any model: the knobs are the
information shares and noise levels, and the defaults make text the strongest modality (as in
CMU-MOSI) without making audio or vision useless.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firf.data.dataset import FeatureDataset, Sample
from firf.errors import InputError
from firf.modalities import MODALITIES

SPLITS = ("train", "valid", "test")
LATENTS = ("shared", "text", "audio", "vision")  # order of sample["latents"]: s_c, s_t, s_a, s_v


@dataclass
class SyntheticConfig:
    n_train: int = 1200
    n_valid: int = 300
    n_test: int = 300
    text_dim: int = 768
    audio_dim: int = 5
    vision_dim: int = 20
    text_frames: tuple[int, int] = (20, 50)  # inclusive range of sequence lengths
    audio_frames: tuple[int, int] = (30, 60)
    vision_frames: tuple[int, int] = (30, 60)
    sentiment_shares: tuple[float, float, float, float] = (0.4, 0.3, 0.15, 0.15)  # c, t, a, v
    shared_latents: int = 4  # non-sentiment latents common to all modalities
    specific_latents: int = 4  # non-sentiment latents of each modality
    noise_factors: int = 2  # rank of the structured noise
    structured_noise: float = 1.0  # std of the structured noise per feature
    frame_noise: tuple[float, float, float] = (1.0, 1.5, 1.5)  # i.i.d. noise std, t, a, v
    label_scale: float = 1.6
    label_noise: float = 0.3
    sentiment_gain: float = 1.0  # scale of s_c and s_m in each modality's content
    n_unlabelled: int = 0  # clips of the extra "unlabelled" split (0: no such split)
    seed: int = 0

    @property
    def dims(self) -> dict[str, int]:
        return {"text": self.text_dim, "audio": self.audio_dim, "vision": self.vision_dim}

    @property
    def frames(self) -> dict[str, tuple[int, int]]:
        return {"text": self.text_frames, "audio": self.audio_frames, "vision": self.vision_frames}

    def validate(self) -> None:
        shares = np.asarray(self.sentiment_shares)
        if (shares < 0).any() or not np.isclose(shares.sum(), 1.0):
            raise InputError(f"sentiment_shares must be >= 0 and sum to 1, got {shares.tolist()}")
        if min(self.n_train, self.n_valid, self.n_test) < 1 or self.n_unlabelled < 0:
            raise InputError("every split of the synthetic benchmark needs at least one clip")
        if self.sentiment_gain <= 0:
            raise InputError(f"sentiment_gain must be positive, got {self.sentiment_gain}")
        for m, (low, high) in self.frames.items():
            if not 1 <= low <= high:
                raise InputError(f"{m} frame range must satisfy 1 <= low <= high, got {low, high}")


def _content_size(cfg: SyntheticConfig) -> int:
    return 2 + cfg.shared_latents + cfg.specific_latents


def _projections(cfg: SyntheticConfig, rng: np.random.Generator) -> dict[str, dict]:
    """Fixed per-modality maps from latents to features, scaled to unit variance per feature."""
    k = _content_size(cfg)
    maps = {}
    for m, dim in cfg.dims.items():
        maps[m] = {
            "content": rng.normal(0.0, 1.0 / np.sqrt(k), size=(k, dim)),
            "noise": rng.normal(
                0.0, 1.0 / np.sqrt(cfg.noise_factors), size=(cfg.noise_factors, dim)
            ),
        }
    return maps


def _render(
    content: np.ndarray,
    frames: int,
    maps: dict,
    cfg: SyntheticConfig,
    frame_noise: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Frames = projected content + structured (clip nuisance + AR(1)) noise + i.i.d. noise."""
    # Imported here: scipy.signal takes about a second to import, and every `import firf.data`
    # (the app, `firf predict`) would pay it for a benchmark it does not run.
    from scipy.signal import lfilter

    nuisance = rng.normal(size=cfg.noise_factors)
    # AR(1) drift d_j = 0.8 d_{j-1} + 0.6 e_j, started from its stationary N(0, 1) law.
    start = 0.8 * rng.normal(size=(1, cfg.noise_factors))
    innovations = rng.normal(size=(frames, cfg.noise_factors))
    drift, _ = lfilter([0.6], [1.0, -0.8], innovations, axis=0, zi=start)
    structured = (nuisance + drift) / np.sqrt(2.0) @ maps["noise"] * cfg.structured_noise
    dim = maps["content"].shape[1]
    x = content @ maps["content"] + structured + frame_noise * rng.normal(size=(frames, dim))
    return x.astype(np.float32)


def _make_split(
    cfg: SyntheticConfig, maps: dict, n: int, split: str, rng: np.random.Generator
) -> list[Sample]:
    weights = np.sqrt(np.asarray(cfg.sentiment_shares))
    gain = cfg.sentiment_gain
    samples = []
    for i in range(n):
        components = rng.normal(size=4)  # s_c, s_t, s_a, s_v
        score = float(weights @ components)
        label = np.clip(cfg.label_scale * score + cfg.label_noise * rng.normal(), -3.0, 3.0)
        shared = rng.normal(size=cfg.shared_latents)
        sample: Sample = {
            "id": f"synthetic-{split}-{i:05d}",
            "label": float(np.round(label * 5) / 5),
            "latents": components.astype(np.float32),
        }
        for j, m in enumerate(MODALITIES):
            specific = rng.normal(size=cfg.specific_latents)
            sentiment = gain * components[[0, 1 + j]]
            content = np.concatenate([sentiment, shared, specific])
            low, high = cfg.frames[m]
            frames = int(rng.integers(low, high + 1))
            sample[m] = _render(content, frames, maps[m], cfg, cfg.frame_noise[j], rng)
        samples.append(sample)
    return samples


def make_synthetic(cfg: SyntheticConfig | None = None) -> dict[str, FeatureDataset]:
    """The benchmark's train / valid / test (and unlabelled) splits, fully determined by ``cfg``.

    The unlabelled split draws from the next child seed, so adding it changes no other split.
    """
    cfg = cfg or SyntheticConfig()
    cfg.validate()
    splits = SPLITS + (("unlabelled",) if cfg.n_unlabelled else ())
    proj_seed, *split_seeds = np.random.SeedSequence(cfg.seed).spawn(1 + len(splits))
    maps = _projections(cfg, np.random.default_rng(proj_seed))
    sizes = {
        "train": cfg.n_train,
        "valid": cfg.n_valid,
        "test": cfg.n_test,
        "unlabelled": cfg.n_unlabelled,
    }
    return {
        split: FeatureDataset(
            _make_split(cfg, maps, sizes[split], split, np.random.default_rng(seed)), cfg.dims
        )
        for split, seed in zip(splits, split_seeds, strict=True)
    }


def generator_hash() -> str:
    """First 12 hex digits of the SHA-256 of this module's source: results record it, so a
    number is only ever compared with numbers from the same generator."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
