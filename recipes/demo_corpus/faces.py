"""CK+ posed expressions as short face clips, split by subject, and resting-face stand-ins.

CK+48 holds peak expressions only, no neutral face, so a model trained on it reads a resting
face as some expression (the first v2 checkpoint read a resting face +1.8). A subject's mean
face over all their posed expressions is the stand-in (``REST``): opposite deviations (mouth
open and shut, brows up and down, lip corners up and down) cancel, and what is left is that
person's geometry without a strong expression. It pairs like surprise: no side.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from firf.errors import InputError
from firf.extract.vision import FaceMeshVision, prepare_small_face

REST = "rest"  # a subject's mean face: the resting-face stand-in (see the module docstring)
# Expression -> the sentiment side it stands for. Surprise is left neutral: in MELD it is about
# evenly positive and negative, so a surprised face should not push the score either way.
POLARITY: dict[str, str] = {
    "happy": "positive",
    "anger": "negative",
    "disgust": "negative",
    "fear": "negative",
    "sadness": "negative",
    "surprise": "neutral",
    REST: "neutral",
}
REST_MIN_SEQUENCES = 3  # a mean of fewer expressions is still mostly one of them
_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)\.png$")


@dataclass(frozen=True)
class FaceSequence:
    """The consecutive peak frames of one posed sequence; each image is one video frame."""

    id: str  # "S010_006"
    subject: str  # "S010"
    emotion: str
    frames: tuple[Path, ...]

    @property
    def polarity(self) -> str:
        return POLARITY[self.emotion]


def list_sequences(root: Path) -> list[FaceSequence]:
    """All sequences under ``root/<emotion>/S<subject>_<sequence>_<frame>.png``, frames in order."""
    frames: dict[tuple[str, str, str], list[tuple[int, Path]]] = defaultdict(list)
    for emotion in POLARITY:
        for path in sorted((root / emotion).glob("*.png")):
            match = _NAME.match(path.name)
            if match:
                subject, sequence, frame = match.groups()
                frames[(emotion, subject, sequence)].append((int(frame), path))
    if not frames:
        raise InputError(f"No CK+ images found under {root}/<emotion>/S*_*_*.png.")
    return [
        FaceSequence(f"{subject}_{sequence}", subject, emotion, tuple(p for _, p in sorted(fs)))
        for (emotion, subject, sequence), fs in sorted(frames.items())
    ]


def rest_sequences(sequences: list[FaceSequence]) -> list[FaceSequence]:
    """One resting-face stand-in per subject with enough posed sequences: all their frames."""
    by_subject: dict[str, list[FaceSequence]] = defaultdict(list)
    for seq in sequences:
        if seq.emotion != REST:
            by_subject[seq.subject].append(seq)
    return [
        FaceSequence(f"{subject}_rest", subject, REST, tuple(p for s in seqs for p in s.frames))
        for subject, seqs in sorted(by_subject.items())
        if len(seqs) >= REST_MIN_SEQUENCES
    ]


def face_features(
    sequence: FaceSequence, vision: FaceMeshVision, cache_dir: Path
) -> tuple[np.ndarray, np.ndarray]:
    """(frames, dim) features and (frames,) face mask of a sequence, each image cached once.

    Images are upscaled and padded exactly as ``prepare_small_face`` does for the app's small
    crops; a frame where Face Mesh finds no face stays in the clip with mask 0. A ``REST``
    stand-in is the mean of its frames' features, as a clip of three frames.
    """
    features, mask = [], []
    for path in sequence.frames:
        cached = cache_dir / path.parent.name / f"{path.stem}.npz"
        if not cached.is_file():
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise InputError(f"Cannot read the face image {path}.")
            found = vision([prepare_small_face(image)])
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cached, features=found.features[0], mask=found.mask[0])
        with np.load(cached) as stored:
            features.append(stored["features"])
            mask.append(stored["mask"])
    features, mask = np.stack(features), np.asarray(mask, dtype=np.float32)
    if sequence.emotion == REST:
        mean = features[mask > 0].mean(0)
        return np.repeat(mean[None], 3, axis=0), np.ones(3, np.float32)
    return features, mask
