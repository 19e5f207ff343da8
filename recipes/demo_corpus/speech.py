"""Speech for the corpus texts: espeak-ng over seeded voices, rates and pitches.

Synthetic speech carries the words but not the speaker's feelings, so the audio branch trained
on it learns what is said, not how; the model card says so.
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import wave
from dataclasses import dataclass

import numpy as np

from firf.errors import InputError

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


def espeak_path() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise InputError(
            "espeak-ng is not installed; the demo corpus needs it to voice its texts. "
            "Install it with `apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng`."
        )
    return exe


def synthesize(text: str, voice: Voice) -> tuple[int, np.ndarray]:
    """(sample rate, float32 mono samples in [-1, 1]) of ``text`` read by ``voice``."""
    result = subprocess.run(
        [espeak_path(), "-v", voice.name, "-s", str(voice.rate), "-p", str(voice.pitch)]
        + ["--stdin", "--stdout"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout:
        raise InputError(f"espeak-ng failed on {text!r}: {result.stderr.decode(errors='replace')}")
    # espeak-ng streams its wav with a placeholder length; wave reads up to what is there.
    with wave.open(io.BytesIO(result.stdout)) as stream:
        rate = stream.getframerate()
        pcm = np.frombuffer(stream.readframes(stream.getnframes()), dtype="<i2")
    return rate, pcm.astype(np.float32) / 32768.0
