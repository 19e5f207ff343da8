"""EmoDB acted emotional speech as audio-only clips: the only real voices with known feelings.

The corpus's other speech is espeak-ng reading the text, which carries the words but no tone;
these clips are where the audio branch learns how something is said. They are German with
neutral wording, so they enter without text: the tone alone carries the label.

Valence mapping (the model card documents it): happiness +1; anger, sadness, disgust and fear
-1; boredom -0.5; neutral 0; times ``EMODB_SCORE`` so that a clearly happy or unhappy voice
weighs like a clear MELD line. Speakers are split whole: one to validation, one to selection,
the rest to training, by a seeded hash of the speaker.

In training, happy clips count four times and neutral ones twice (``TRAINING_COPIES``): EmoDB
holds four negative emotions to one happy one, and without the copies a model learns that an
acted German voice is negative, whatever its tone (a first checkpoint scored the validation
speaker's happy clips -1.40 on average, like the angry ones).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from firf.errors import InputError
from recipes.demo_corpus.splits import unit_hash

VALENCE: dict[str, float] = {
    "happiness": 1.0,
    "anger": -1.0,
    "sadness": -1.0,
    "disgust": -1.0,
    "fear": -1.0,
    "boredom": -0.5,
    "neutral": 0.0,
}
EMODB_SCORE = 1.4
TRAINING_COPIES = {"happiness": 4, "neutral": 2}  # others once; validation and select once


@dataclass(frozen=True)
class EmotionalSpeech:
    """One EmoDB recording; ``group`` is the speaker, whom a split must not share."""

    id: str
    path: Path
    emotion: str
    label: float
    split: str
    group: str


def copies(clip: EmotionalSpeech, weight: int = 1) -> int:
    """How many times ``clip`` enters the corpus (its copies share the features); ``weight``
    multiplies every training clip's copies, to weigh EmoDB's tone against the corpus's words."""
    return weight * TRAINING_COPIES.get(clip.emotion, 1) if clip.split == "train" else 1


def speaker_splits(speakers: list[str], seed: int) -> dict[str, str]:
    """Speakers in seeded hash order: the first validates, the second selects, the rest train."""
    order = sorted(set(speakers), key=lambda s: unit_hash(f"emodb:{seed}:{s}"))
    if len(order) < 3:
        raise InputError(f"EmoDB needs at least 3 speakers to split; found {len(order)}")
    return {s: "valid" if i == 0 else "select" if i == 1 else "train" for i, s in enumerate(order)}


def load_emodb(data_dir: Path, seed: int) -> list[EmotionalSpeech]:
    """Every labelled clip under ``data_dir/emodb`` with its valence score and speaker split."""
    labels = data_dir / "emodb" / "labels.csv"
    if not labels.is_file():
        raise InputError(f"Missing source file {labels}; see the model card.")
    with open(labels, encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["emotion"] in VALENCE]
    splits = speaker_splits([r["speaker"] for r in rows], seed)
    return [
        EmotionalSpeech(
            id=f"emodb/{Path(r['file']).stem}",
            path=data_dir / "emodb" / "wav" / r["file"],
            emotion=r["emotion"],
            label=EMODB_SCORE * VALENCE[r["emotion"]],
            split=splits[r["speaker"]],
            group=f"emodb:{r['speaker']}",
        )
        for r in rows
    ]
