"""What one prediction is: the ``Prediction`` result type and how a score becomes a label.

A leaf module (no torch, no other firf module), so the result type can be imported, built and
serialised anywhere: by the pipeline, the CLI, the app and scripts reading JSON back.

Labels follow the score scale of CMU-MOSI/MOSEI ([-3, 3]): a score with ``|score| < 0.5`` is
"neutral" because MMSA's Acc-7 and Acc-5 round the score to the nearest integer, so exactly those
scores fall in class 0; outside that band the label is the sign, which is also what both Acc-2
conventions (has0 and non0) call it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

NEUTRAL_BAND = 0.5


def sentiment_label(score: float) -> str:
    if abs(score) < NEUTRAL_BAND:
        return "neutral"
    return "positive" if score > 0 else "negative"


@dataclass
class Prediction:
    """What the model made of one input.

    ``used``: modalities that reached the model (given, found, not dropped). ``coverage``: per
    extracted modality, how much there was (``{"text": {"tokens"}, "audio": {"seconds"},
    "vision": {"frames", "face_share"}}``; with ``intra_rate``, each used modality also has
    ``observed`` frames or tokens and how many of them the simulated loss ``dropped``).
    ``timings``: seconds per step (decode, each extractor, model). ``subsets``: score per
    modality subset ("t", "ta", ...) when asked for.
    ``warnings``: inputs that were given but treated as missing, and why. ``timeline``: when
    asked for, per segment of the clip in time order ``{"start", "end", "score", "modalities":
    {"text", "audio", "vision"}}`` in seconds and scores, None where a modality is missing.
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
    timeline: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (lists, dicts, str, float, int, None)."""
        out = asdict(self)
        out["used"] = list(self.used)
        return out
