"""Pairs each utterance with a face, or none, by its sentiment -- softly.

A face is more likely for a clearly polar utterance than for a near-neutral one (which then has
no vision at all), and its expression only leans toward the utterance's side: P(happy) is a
logistic of the score, some faces are surprise whatever the score. So vision is informative but
never an oracle, and the model has to combine modalities rather than copy one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from firf.errors import InputError
from recipes.demo_corpus.faces import FaceSequence
from recipes.demo_corpus.texts import Utterance


@dataclass(frozen=True)
class PairingConfig:
    face_at_zero: float = 0.3  # P(face) for a neutral utterance
    face_at_polar: float = 0.9  # P(face) once |score| reaches polar_score
    polar_score: float = 1.5
    slope: float = 2.0  # P(happy | face, not surprise) = sigmoid(slope * score)
    surprise_share: float = 0.15  # faces that show surprise whatever the score


def face_probability(score: float, cfg: PairingConfig) -> float:
    strength = min(abs(score) / cfg.polar_score, 1.0)
    return cfg.face_at_zero + (cfg.face_at_polar - cfg.face_at_zero) * strength


def happy_probability(score: float, cfg: PairingConfig) -> float:
    """P(the face is happy | it is not a surprise face)."""
    return 1.0 / (1.0 + math.exp(-cfg.slope * score))


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
        for polarity in ("positive", "negative", "neutral"):
            if (split, polarity) not in pools:
                raise InputError(
                    f"No {polarity} face sequence among the {split} subjects; "
                    "try another --seed or add face images."
                )
    pairs: dict[str, FaceSequence | None] = {}
    for utt in utterances:
        rng = random.Random(f"face:{seed}:{utt.id}")
        if rng.random() >= face_probability(utt.label, cfg):
            pairs[utt.id] = None
            continue
        if rng.random() < cfg.surprise_share:
            polarity = "neutral"
        elif rng.random() < happy_probability(utt.label, cfg):
            polarity = "positive"
        else:
            polarity = "negative"
        pairs[utt.id] = rng.choice(pools[(utt.split, polarity)])
    return pairs
