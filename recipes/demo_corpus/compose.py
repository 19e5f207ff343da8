"""Pairs each utterance with a face, or none, and labels the pair as an annotator would.

Real multimodal sentiment data is led by the words: on CMU-MOSI, text alone reaches about 0.80
Acc-2 and a face alone 0.55-0.65. The corpus mirrors that:

- **Face presence does not depend on the label** (``face_share`` of the clips have one), so a
  missing face says nothing about the sentiment.
- **The face's side only leans toward the words'**: with probability ``agree`` it shows the
  words' side (surprise for neutral words), otherwise any of happy / negative / surprise.
- **The label is the words' label shifted by the face**: a happy face adds ``w``, a negative
  one subtracts it, surprise adds nothing, where ``w`` is ``face_on_neutral`` for neutral
  words and falls linearly to ``face_on_clear`` for words at ``clear_words`` or beyond. So clear
  words keep their sign against any face (the words decide), a clear face decides neutral
  words, and a face that agrees only ever moves the label away from zero.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from firf.errors import InputError
from recipes.demo_corpus.faces import FaceSequence
from recipes.demo_corpus.texts import Utterance

FACE_VALUE = {"positive": 1.0, "negative": -1.0, "neutral": 0.0}
SIDES = ("positive", "negative", "neutral")


@dataclass(frozen=True)
class PairingConfig:
    face_share: float = 0.7  # P(a face) for every clip, whatever its label
    agree: float = 0.5  # P(the face shows the words' side); else a uniform draw of the 3 sides
    neutral_words: float = 0.5  # |text label| below this: the words' side is neutral
    clear_words: float = 1.0  # |text label| from which a face only nudges the score
    face_on_neutral: float = 1.2  # how far a clear face moves neutral words
    face_on_clear: float = 0.4  # how far it moves clear words (never across zero)
    score_range: float = 3.0


def words_side(label: float, cfg: PairingConfig) -> str:
    if abs(label) < cfg.neutral_words:
        return "neutral"
    return "positive" if label > 0 else "negative"


def face_weight(label: float, cfg: PairingConfig) -> float:
    """How far a clear face moves the words' label: most for neutral words, least for clear."""
    clearness = min(abs(label) / cfg.clear_words, 1.0)
    return cfg.face_on_neutral + (cfg.face_on_clear - cfg.face_on_neutral) * clearness


def paired_label(label: float, face: FaceSequence | None, cfg: PairingConfig) -> float:
    """The clip's label: the words' label moved by the face's side, within the score range."""
    if face is None:
        return label
    moved = label + face_weight(label, cfg) * FACE_VALUE[face.polarity]
    return max(-cfg.score_range, min(cfg.score_range, moved))


def pair_faces(
    utterances: list[Utterance],
    sequences: list[FaceSequence],
    face_split: dict[str, str],
    seed: int,
    cfg: PairingConfig | None = None,
) -> dict[str, FaceSequence | None]:
    """utterance id -> a face sequence from the same split (subject-disjoint), or None.

    Each draw is seeded by the utterance id alone, so adding or removing utterances never
    reshuffles the faces of the others (cached clips stay valid).
    """
    cfg = cfg or PairingConfig()
    pools: dict[tuple[str, str], list[FaceSequence]] = {}
    for seq in sequences:
        pools.setdefault((face_split[seq.subject], seq.polarity), []).append(seq)
    for split in sorted({u.split for u in utterances}):
        for polarity in SIDES:
            if (split, polarity) not in pools:
                raise InputError(
                    f"No {polarity} face sequence among the {split} subjects; "
                    "try another --seed or add face images."
                )
    pairs: dict[str, FaceSequence | None] = {}
    for utt in utterances:
        rng = random.Random(f"face:{seed}:{utt.id}")
        if rng.random() >= cfg.face_share:
            pairs[utt.id] = None
            continue
        side = words_side(utt.label, cfg) if rng.random() < cfg.agree else rng.choice(SIDES)
        pairs[utt.id] = rng.choice(pools[(utt.split, side)])
    return pairs
