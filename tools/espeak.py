"""Speech from espeak-ng (a Debian package), the one wrapper the demo's examples, the demo
corpus and the tests share, so every synthetic utterance is made the same way."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

INSTALL_HINT = (
    "install it with `apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng`"
)


class EspeakError(RuntimeError):
    """espeak-ng is missing or failed; the message says what to do."""


def available() -> bool:
    return shutil.which("espeak-ng") is not None


def synthesize(
    text: str, voice: str = "en", rate: int = 150, pitch: int = 50
) -> tuple[int, np.ndarray]:
    """(sample rate, float32 mono samples in [-1, 1]) of ``text``; ``rate`` in words/minute."""
    sample_rate, pcm = _pcm(text, voice, rate, pitch)
    return sample_rate, pcm.astype(np.float32) / 32768.0


def speak_to_wav(
    text: str, path: str | Path, voice: str = "en", rate: int = 150, pitch: int = 50
) -> Path:
    """``text`` spoken into a 16-bit mono wav file at ``path`` (espeak-ng's 22.05 kHz)."""
    sample_rate, pcm = _pcm(text, voice, rate, pitch)
    path = Path(path)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return path


def _pcm(text: str, voice: str, rate: int, pitch: int) -> tuple[int, np.ndarray]:
    """(sample rate, int16 samples) exactly as espeak-ng made them."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise EspeakError(f"espeak-ng is not installed; {INSTALL_HINT}")
    result = subprocess.run(
        [exe, "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdin", "--stdout"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0 or not result.stdout:
        raise EspeakError(f"espeak-ng failed on {text!r}: {result.stderr.decode(errors='replace')}")
    # espeak-ng streams its wav with a placeholder length; wave reads up to what is there.
    with wave.open(io.BytesIO(result.stdout)) as stream:
        sample_rate = stream.getframerate()
        pcm = np.frombuffer(stream.readframes(stream.getnframes()), dtype="<i2")
    return sample_rate, pcm
