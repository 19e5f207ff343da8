"""``firf.predict()``: sentiment of a video, an audio recording and/or a text, as a ``Prediction``.

Labels follow the score scale of CMU-MOSI/MOSEI ([-3, 3]): a score with ``|score| < 0.5`` is
"neutral" because MMSA's Acc-7 and Acc-5 round the score to the nearest integer, so exactly those
scores fall in class 0; outside that band the label is the sign, which is also what both Acc-2
conventions (has0 and non0) call it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firf.pipeline import Pipeline

NEUTRAL_BAND = 0.5

_pipelines: dict[str, Pipeline] = {}
_pipelines_lock = threading.Lock()


def sentiment_label(score: float) -> str:
    if abs(score) < NEUTRAL_BAND:
        return "neutral"
    return "positive" if score > 0 else "negative"


@dataclass
class Prediction:
    """What the model made of one input.

    ``used``: modalities that reached the model (given, found, not dropped). ``coverage``: per
    extracted modality, how much there was (``{"text": {"tokens"}, "audio": {"seconds"},
    "vision": {"frames", "face_share"}}``). ``timings``: seconds per step (decode, each
    extractor, model). ``subsets``: score per modality subset ("t", "ta", ...) when asked for.
    ``warnings``: inputs that were given but treated as missing, and why.
    """

    score: float
    label: str
    used: tuple[str, ...]
    transcript: str | None = None
    text_source: str | None = None  # "typed" | "transcript" | None
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    subsets: dict[str, float] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (lists, dicts, str, float, int, None)."""
        out = asdict(self)
        out["used"] = list(self.used)
        return out


def default_pipeline(device: str | None = None) -> Pipeline:
    """The process-wide pipeline for ``device`` (default checkpoint), created on first use."""
    from firf.pipeline import Pipeline

    key = str(device)
    with _pipelines_lock:
        if key not in _pipelines:
            _pipelines[key] = Pipeline(device=device)
        return _pipelines[key]


def predict(
    video: Any = None,
    audio: Any = None,
    text: str | None = None,
    drop: str | Iterable[str] = (),
    device: str | None = None,
    *,
    intra_rate: float = 0.0,
    seed: int = 0,
    subsets: bool = False,
    pipeline: Pipeline | None = None,
) -> Prediction:
    """Sentiment of the given inputs; see ``Extractors.features`` for the accepted types.

    ``drop`` switches modalities off ("text", "audio", "vision" or t, a, v; a list or a
    comma-separated string). ``intra_rate`` drops that share of the remaining frames at random
    (seeded by ``seed``) to simulate damaged input. ``subsets`` adds the score of every subset
    of the available modalities. ``pipeline`` replaces the process-wide default one (then
    ``device`` must be left out). Bad input raises ``firf.InputError``.
    """
    from firf.errors import InputError
    from firf.pipeline import parse_modalities

    if pipeline is not None and device is not None:
        raise InputError("pass device to the Pipeline you give, not to predict()")
    pipeline = pipeline or default_pipeline(device)
    dropped = parse_modalities(drop)
    features = pipeline.features(video=video, audio=audio, text=text, skip=dropped)
    prediction = pipeline.run(features, drop=dropped, intra_rate=intra_rate, seed=seed)
    if subsets:
        prediction.subsets = pipeline.run_subsets(features)
    return prediction
