"""The benchmarks' test media, made offline: espeak-ng speech over scikit-image's astronaut.

A benchmark must not reach into ``tests/``; this is the one clip the latency benchmark times:
an H.264/AAC mp4 of the astronaut photo drifting and zooming (every frame differs, as in a
webcam recording) with a sentence spoken by espeak-ng, padded with silence to the clip length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tools import media


def talking_clip(
    folder: Path, text: str, seconds: float, fps: int = 25, size: int = 480
) -> tuple[Path, Path]:
    """(clip.mp4, speech.wav): `seconds` of the moving face with `text` spoken from the start."""
    speech = media.speech_wav(folder / "speech.wav", text)
    rate, pcm = media.read_wav(speech)
    samples = int(seconds * rate)
    pcm = np.pad(pcm, (0, max(0, samples - pcm.size)))[:samples]
    track = media.write_wav(folder / "track.wav", pcm.astype(np.float32) / 32768, rate)
    clip = media.face_clip(folder / "clip.mp4", seconds, fps=fps, audio_wav=track, size=size)
    return clip, speech
