"""``Features``: one input's extracted features, reusable for any drop or subset of modalities.

A leaf data type: the extractors fill it, the pipeline turns it into model batches, the app
reuses one across the robustness panel's subsets, the corpus extractor stores its arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firf.modalities import MODALITIES


@dataclass
class Features:
    """One input's features.

    ``arrays`` holds only the modalities that have at least one observed frame; ``coverage``
    says how much of each extracted modality there was (text tokens, audio seconds, video
    frames and the share with a face).
    """

    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # modality -> (L, d)
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # modality -> (L,) where partial
    signature: dict[str, dict] = field(default_factory=dict)  # modality -> extractor signature
    transcript: str | None = None
    text_source: str | None = None  # "typed" | "transcript" | None
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    warnings: list[str] = field(default_factory=list)
    frames: list[np.ndarray] | None = None  # sampled video frames, for drawing
    landmarks: list[np.ndarray | None] = field(default_factory=list)  # per frame, for drawing

    @property
    def available(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.arrays)
