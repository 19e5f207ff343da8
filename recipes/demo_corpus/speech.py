"""Speech for the corpus texts: espeak-ng over seeded voices, rates and pitches.

Synthetic speech carries the words but not the speaker's feelings, so the audio branch trained
on it learns what is said, not how; the model card says so.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from firf.errors import InputError
from tools import espeak

ACCENTS = ("en", "en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc")
VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f4", "f5")
RATES = (140, 190)  # words per minute, inclusive range
PITCHES = (30, 70)  # espeak-ng pitch, 0-99 (50 is the voice's default)


@dataclass(frozen=True)
class Voice:
    accent: str
    variant: str
    rate: int
    pitch: int

    @property
    def name(self) -> str:
        """espeak-ng's ``-v`` argument, e.g. ``en-gb+f2``."""
        return f"{self.accent}+{self.variant}" if self.variant else self.accent


def voice_for(clip_id: str, seed: int) -> Voice:
    """The voice of one clip, a function of its id and the seed only (stable across rebuilds)."""
    rng = random.Random(f"voice:{seed}:{clip_id}")
    return Voice(
        accent=rng.choice(ACCENTS),
        variant=rng.choice(VARIANTS),
        rate=rng.randint(*RATES),
        pitch=rng.randint(*PITCHES),
    )


def synthesize(text: str, voice: Voice) -> tuple[int, np.ndarray]:
    """(sample rate, float32 mono samples in [-1, 1]) of ``text`` read by ``voice``."""
    try:
        return espeak.synthesize(text, voice.name, voice.rate, voice.pitch)
    except espeak.EspeakError as error:
        raise InputError(f"the demo corpus needs espeak-ng to voice its texts: {error}") from None
