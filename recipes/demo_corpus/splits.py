"""Identity splits of the demo corpus: train, select (model selection) and valid (reported).

Validation is what the model card reports, so it must not also pick the checkpoint. A
selection split is carved out of the training sources instead, by the same identities that keep
validation apart: MOSI video and MELD dialogue for utterances, CK+ subject for faces. Every
assignment is a seeded hash of the identity alone, so adding sources never moves anyone.
"""

from __future__ import annotations

import hashlib

SPLITS = ("train", "select", "valid")
SELECT_SHARE = 0.15  # of the training utterance groups (MOSI videos, MELD dialogues)
FACE_VALID_SHARE = 0.2  # of all CK+ subjects
FACE_SELECT_SHARE = 0.2  # of the CK+ subjects that are not in validation


def unit_hash(key: str) -> float:
    """A stable pseudo-random number in [0, 1) for ``key``."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def group_split(group: str, seed: int, select_share: float = SELECT_SHARE) -> str:
    """ "select" or "train" for an utterance group of the training sources."""
    return "select" if unit_hash(f"select:{seed}:{group}") < select_share else "train"


def subject_split(
    subject: str,
    seed: int,
    valid_share: float = FACE_VALID_SHARE,
    select_share: float = FACE_SELECT_SHARE,
) -> str:
    """Every image of one person lands on the same side.

    The validation draw comes first and does not depend on ``select_share``, so carving out the
    selection subjects leaves the validation faces as they were.
    """
    if unit_hash(f"ckplus:{seed}:{subject}") < valid_share:
        return "valid"
    return "select" if unit_hash(f"ckplus-select:{seed}:{subject}") < select_share else "train"
