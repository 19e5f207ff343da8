"""The benchmark's tracks: what data each replicate draws and what labelled training may see.

A track is fixed before any model comparison on it is read (their rationale is written in
benchmarks/BENCHMARKS.md); only the sizes shrink under ``--quick``. Every replicate draws its
own data from ``data_seed``, so no single draw of the projections decides a comparison.

- ``control``: the original generator (sentiment weak in each modality's content, audio 5-dim)
  and train-time damage covering every pattern the test uses. Per-pattern late fusion is
  already near the linear ceiling here; the track shows what FIRF costs where nothing is to gain.
- ``shift``: a generator whose shared sentiment is recoverable from any one modality, and
  labelled training that sees complete clips only; the test covers every pattern.
- ``shift_partial``: as ``shift``, but labelled training also sees clips missing exactly one
  whole modality (never one modality alone, never lost frames).
- ``scarce``: the same generator, few labelled clips (300) and many unlabelled ones; damage
  covers every pattern; losses that need no label may use the unlabelled clips.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from firf.data.synthetic import SyntheticConfig
from firf.errors import InputError
from firf.missing import TrainMissing

SHORT_FRAMES = {"text_frames": (8, 16), "audio_frames": (10, 20), "vision_frames": (10, 20)}
# Informative audio and a shared sentiment that each modality exposes: a ridge on any one
# modality's mean-pooled frames reaches corr ~0.76-0.80, all three together ~0.96.
RECOVERABLE = {
    "audio_dim": 20,
    "sentiment_gain": 1.5,
    "sentiment_shares": (0.5, 0.2, 0.15, 0.15),
}
COMPLETE_ONLY = TrainMissing(complete_fraction=1.0, max_rate=0.0, modality_drop_prob=0.0)
ONE_MODALITY_LOST = TrainMissing(
    complete_fraction=0.4, max_rate=0.0, modality_drop_prob=0.5, max_dropped=1
)


@dataclass(frozen=True)
class Track:
    name: str
    data: SyntheticConfig  # sizes of the full run; the seed is set per replicate
    missing: TrainMissing = field(default_factory=TrainMissing)  # damage of labelled views
    quick_sizes: dict = field(default_factory=dict)  # SyntheticConfig fields under --quick

    def config(self, data_seed: int, quick: bool) -> SyntheticConfig:
        sizes = self.quick_sizes if quick else {}
        return replace(self.data, seed=data_seed, **sizes)


TRACKS = {
    "control": Track(
        "control",
        SyntheticConfig(n_train=1200, n_valid=300, n_test=5000, **SHORT_FRAMES),
        quick_sizes={"n_train": 600, "n_test": 600},
    ),
    "shift": Track(
        "shift",
        SyntheticConfig(n_train=1200, n_valid=300, n_test=5000, **SHORT_FRAMES, **RECOVERABLE),
        missing=COMPLETE_ONLY,
        quick_sizes={"n_train": 600, "n_test": 600},
    ),
    "shift_partial": Track(
        "shift_partial",
        SyntheticConfig(n_train=1200, n_valid=300, n_test=5000, **SHORT_FRAMES, **RECOVERABLE),
        missing=ONE_MODALITY_LOST,
        quick_sizes={"n_train": 600, "n_test": 600},
    ),
    "scarce": Track(
        "scarce",
        SyntheticConfig(
            n_train=300,
            n_valid=300,
            n_test=5000,
            n_unlabelled=3000,
            **SHORT_FRAMES,
            **RECOVERABLE,
        ),
        quick_sizes={"n_unlabelled": 1200, "n_test": 600},
    ),
}


def get_track(name: str) -> Track:
    if name not in TRACKS:
        raise InputError(f"unknown track {name!r}; choose one of {', '.join(TRACKS)}")
    return TRACKS[name]
